"""Helplines and their opening hours, loaded from content/helplines.yml (the single source).

Opening hours are judged in Europe/London, whatever the server's own time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"
HELPLINES_PATH = CONTENT_DIR / "helplines.yml"
LONDON = ZoneInfo("Europe/London")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Helpline:
    key: str
    name: str
    number: str
    kind: str
    hours: str
    hours_text: str
    url: str

    @property
    def always_open(self) -> bool:
        return self.hours == "24/7"

    def is_open(self, now: datetime | None = None) -> bool | None:
        """True/False when hours are known; None when the source gives no hours."""
        if self.always_open:
            return True
        match = _HOURS.match(self.hours)
        if not match:
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        local = (now or datetime.now(LONDON)).astimezone(LONDON).time()
        start = time(h1, m1)
        end = time(23, 59, 59, 999999) if (h2, m2) == (24, 0) else time(h2, m2)
        return start <= local < end if start < end else (local >= start or local < end)


@lru_cache(maxsize=1)
def load_helplines(path: Path = HELPLINES_PATH) -> dict[str, Helpline]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    lines = {}
    for key, entry in data["helplines"].items():
        hours = str(entry["hours"])
        lines[key] = Helpline(
            key=key,
            name=str(entry["name"]),
            number=str(entry["number"]),
            kind=str(entry.get("kind", "call")),
            hours=hours,
            hours_text=str(entry.get("hours_text") or ("any time" if hours == "24/7" else hours)),
            url=str(entry.get("url", "")),
        )
    return lines


def helpline(key: str) -> Helpline:
    return load_helplines()[key]


def is_open_now(key: str, now: datetime | None = None) -> bool:
    """Whether a helpline is open now (unknown hours count as closed, to offer a 24/7 line)."""
    return bool(helpline(key).is_open(now))
