"""Texts the front end sends itself (content/telegram.yml) and referral services.

Numbers are filled in from content/helplines.yml by key (``{nhs111.number}``), never typed.
Lines inside a paragraph are joined, so the YAML can wrap while Telegram shows flowing text;
lines starting with "-" or "/" stay on their own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.content.helplines import CONTENT_DIR, Helpline, load_helplines
from bot.safety.tiers import Tier

TELEGRAM_PATH = CONTENT_DIR / "telegram.yml"
SERVICES_PATH = CONTENT_DIR / "services.yml"
REFERRAL_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

TEXT_KEYS = (
    "welcome",
    "welcome_referred",
    "help",
    "privacy",
    "forget_confirm",
    "forget_yes_button",
    "forget_no_button",
    "forget_done",
    "forget_cancelled",
    "forget_failed",
    "no_reply",
    "button_expired",
    "non_text",
    "voice",
    "trouble",
)


class ContentError(ValueError):
    """content/telegram.yml or content/services.yml is incomplete or names an unknown key."""


def unwrap(text: str) -> str:
    """Join wrapped lines inside each paragraph; keep list items and commands on their own."""
    paragraphs = []
    for block in text.strip().split("\n\n"):
        lines: list[str] = []
        for raw in block.splitlines():
            line = raw.strip()
            if not line:
                continue
            if lines and not line.startswith(("-", "/")):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


class _Values(dict):
    """Helplines by key; ``{service}`` is left in place to be filled per chat."""

    def __missing__(self, key: str) -> Any:
        if key == "service":
            return "{service}"
        raise ContentError(f"unknown helpline key {key!r}")


def fill(template: str, helplines: dict[str, Helpline], where: str) -> str:
    """Unwrap ``template`` and fill {key.field} from ``helplines``."""
    try:
        return unwrap(template).format_map(_Values(helplines))
    except ContentError as exc:
        raise ContentError(f"content/telegram.yml {where}: {exc}") from None
    except (AttributeError, IndexError, ValueError) as exc:
        raise ContentError(f"content/telegram.yml {where}: cannot fill ({exc})") from None


@dataclass(frozen=True)
class Texts:
    """Every text of content/telegram.yml, numbers filled in."""

    texts: dict[str, str]
    leads: dict[Tier, str]
    commands: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.texts[key]

    def welcome(self, service: str | None = None) -> str:
        """The welcome, naming the referring service when known."""
        if service:
            return self.texts["welcome_referred"].replace("{service}", service)
        return self.texts["welcome"]

    def trouble_card(self, tier: Tier | None = None) -> str:
        """The "I'm having trouble" card, led by the tier's line for a red flag."""
        card = self.texts["trouble"]
        return f"{self.leads[tier]}\n\n{card}" if tier is not None else card


def load_texts(path: Path = TELEGRAM_PATH) -> Texts:
    """Read and check content/telegram.yml (every text present, every key known)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    helplines = load_helplines()
    missing = [key for key in TEXT_KEYS if not isinstance(data.get(key), str)]
    if missing:
        raise ContentError(f"{path.name} lacks {', '.join(missing)}")
    texts = {key: fill(data[key], helplines, key) for key in TEXT_KEYS}
    leads_raw = data.get("lead") or {}
    leads = {}
    for tier in Tier:
        if not isinstance(leads_raw.get(tier.value), str):
            raise ContentError(f"{path.name} lacks lead.{tier.value}")
        leads[tier] = fill(leads_raw[tier.value], helplines, f"lead.{tier.value}")
    commands = {str(k): str(v) for k, v in (data.get("commands") or {}).items()}
    if not commands:
        raise ContentError(f"{path.name} lacks commands")
    return Texts(texts=texts, leads=leads, commands=commands)


def load_services(path: Path = SERVICES_PATH) -> dict[str, str]:
    """Referral code -> service name, codes checked against REFERRAL_CODE."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    services = {}
    for code, entry in (data.get("services") or {}).items():
        if not REFERRAL_CODE.match(str(code)):
            raise ContentError(f"{path.name}: {code!r} is not a valid referral code")
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ContentError(f"{path.name}: {code!r} has no name")
        services[str(code)] = str(entry["name"])
    return services


@lru_cache(maxsize=1)
def texts() -> Texts:
    """content/telegram.yml, loaded once."""
    return load_texts()


@lru_cache(maxsize=1)
def services() -> dict[str, str]:
    """content/services.yml, loaded once."""
    return load_services()


def referral_code(payload: str | None) -> str | None:
    """The referral code in a /start payload, or None when absent or malformed."""
    if payload and REFERRAL_CODE.match(payload):
        return payload
    return None
