"""Operator office hours: parsed from OPERATOR_HOURS and judged in Europe/London wall time.

Everything is computed on the London clock, so "09:00" means nine on the office wall clock
whether it is GMT or BST and whatever the server's own time zone is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from bot.content.helplines import LONDON

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FULL_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SEARCH_DAYS = 8
EXAMPLE = "'Mon-Fri 09:00-17:00; Sat 10:00-13:00'"
MINUTES_PER_DAY = 24 * 60

_DAY_WORDS: dict[str, int] = {}
for _index, _full in enumerate(FULL_DAY_NAMES):
    _DAY_WORDS[_full.lower()] = _index
    _DAY_WORDS[_full[:3].lower()] = _index
_DAY_WORDS.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})
_DAY_GROUPS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
    "weekend": (5, 6),
}
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_TIME_RANGE = re.compile(r"(\S+?)\s*(?:-|–|—|\bto\b)\s*(\S+)")


class HoursError(ValueError):
    """OPERATOR_HOURS cannot be read; the message is one sentence with an example."""


@dataclass(frozen=True, order=True)
class DayWindow:
    """One open stretch on one weekday, in minutes after London midnight (end exclusive)."""

    weekday: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class OfficeHours:
    """When operators are on duty: a sorted set of weekly windows on the London clock."""

    windows: tuple[DayWindow, ...]

    @classmethod
    def parse(cls, spec: str) -> OfficeHours:
        """Read `Mon-Fri 09:00-17:00; Sat 10:00-13:00`; raise HoursError saying what is wrong."""
        windows: set[DayWindow] = set()
        for entry in _split_entries(spec):
            days, start, end = _parse_entry(entry)
            windows.update(DayWindow(day, start, end) for day in days)
        if not windows:
            raise HoursError(
                f"Office hours are empty; write days and times, for example {EXAMPLE}."
            )
        return cls(tuple(sorted(windows)))

    def is_open(self, now: datetime) -> bool:
        """Whether `now` falls inside a window on the London wall clock."""
        local = to_london(now)
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        return any(
            w.weekday == weekday and w.start_minute <= minute < w.end_minute for w in self.windows
        )

    def next_opening(self, now: datetime) -> datetime | None:
        """`now` if open, else the next moment a window opens (London time, 8 days ahead)."""
        local = to_london(now)
        if self.is_open(local):
            return local
        instant = local.astimezone(timezone.utc)
        candidates = []
        for offset in range(SEARCH_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            for window in self.windows:
                if window.weekday != day.weekday():
                    continue
                # On the October change a wall time happens twice: both may be the opening.
                for fold in (0, 1):
                    start = _wall_clock(day, window.start_minute, fold)
                    if start.astimezone(timezone.utc) > instant and self.is_open(start):
                        candidates.append(start)
        if not candidates:
            return None
        return min(candidates, key=lambda moment: moment.astimezone(timezone.utc))

    def describe_next_opening(self, now: datetime) -> str:
        """ "now", "today at 9am", "tomorrow at 9:30am", "on Monday at 9am"."""
        local = to_london(now)
        if self.is_open(local):
            return "now"
        opening = self.next_opening(local)
        if opening is None:
            return "not in the coming week"
        days_ahead = (opening.date() - local.date()).days
        at = friendly_time(opening.hour * 60 + opening.minute)
        if days_ahead == 0:
            return f"today at {at}"
        if days_ahead == 1:
            return f"tomorrow at {at}"
        weekday = FULL_DAY_NAMES[opening.weekday()]
        if days_ahead >= 7:
            return f"next {weekday} at {at}"
        return f"on {weekday} at {at}"

    def describe(self) -> str:
        """Friendly summary, e.g. "Mon-Fri 9am to 5pm; Sat 10am to 1pm"."""
        by_times: dict[tuple[int, int], set[int]] = {}
        for window in self.windows:
            by_times.setdefault((window.start_minute, window.end_minute), set()).add(window.weekday)
        groups = sorted(by_times.items(), key=lambda item: (min(item[1]), item[0]))
        return "; ".join(
            f"{_describe_days(days)} {friendly_time(start)} to {friendly_time(end)}"
            for (start, end), days in groups
        )


def to_london(now: datetime) -> datetime:
    """`now` on the London clock; naive datetimes are refused because their zone is a guess."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime (e.g. datetime.now(LONDON)).")
    return now.astimezone(LONDON)


def friendly_time(minute: int) -> str:
    """Minutes after midnight as "9am", "9:30am", "12pm", "5pm" or "midnight"."""
    if minute % MINUTES_PER_DAY == 0:
        return "midnight"
    hour, mins = divmod(minute, 60)
    suffix = "am" if hour < 12 else "pm"
    hour12 = hour % 12 or 12
    return f"{hour12}{suffix}" if mins == 0 else f"{hour12}:{mins:02d}{suffix}"


def _wall_clock(day: date, minute: int, fold: int) -> datetime:
    """The aware London moment showing `minute` on `day`; a time skipped in March moves on."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    for skipped in range(0, 181):
        wall = naive + timedelta(minutes=skipped)
        moment = wall.replace(tzinfo=LONDON, fold=fold)
        if moment.astimezone(timezone.utc).astimezone(LONDON).replace(tzinfo=None) == wall:
            return moment
    return naive.replace(tzinfo=LONDON, fold=fold)  # pragma: no cover - no 3 h gaps in London


def _split_entries(spec: str) -> list[str]:
    """Entries split on `;` and `,`, except that a comma between day names keeps a day list."""
    entries = []
    for chunk in spec.split(";"):
        pending: list[str] = []
        for piece in chunk.split(","):
            if not piece.strip():
                continue
            pending.append(piece.strip())
            if any(char.isdigit() for char in piece):
                entries.append(",".join(pending))
                pending = []
        if pending:
            days = ",".join(pending)
            raise HoursError(
                f"'{days}' has no times; give each entry its hours, for example {EXAMPLE}."
            )
    return entries


def _parse_entry(entry: str) -> tuple[tuple[int, ...], int, int]:
    """One `days HH:MM-HH:MM` entry as (weekdays, start minute, end minute)."""
    first_digit = next(index for index, char in enumerate(entry) if char.isdigit())
    days_text, times_text = entry[:first_digit].strip(), entry[first_digit:].strip()
    if not days_text:
        raise HoursError(
            f"'{entry}' has no days; put the days before the times, for example {EXAMPLE}."
        )
    days = _parse_days(days_text)
    match = _TIME_RANGE.fullmatch(times_text)
    if not match:
        raise HoursError(
            f"'{entry}' is not days then one time range; write it like 'Mon-Fri 09:00-17:00'."
        )
    start = _parse_time(match.group(1), allow_midnight_end=False)
    end = _parse_time(match.group(2), allow_midnight_end=True)
    if end <= start:
        raise HoursError(
            f"'{entry}' must end after it starts; hours cannot run past midnight, so write two "
            "entries, for example 'Fri 22:00-24:00; Sat 00:00-02:00'."
        )
    return days, start, end


def _parse_days(text: str) -> tuple[int, ...]:
    """`Mon-Fri`, `Mon,Wed`, `monday`, `daily`, `every day`, `weekdays`, `weekends`."""
    normal = re.sub(r"\s*(?:[-–—]|\bto\b)\s*", "-", text.lower())
    normal = re.sub(r"\bevery\s+day\b", "daily", normal)
    days: list[int] = []
    for item in re.split(r"[,\s]+", normal):
        if not item:
            continue
        if item in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[item])
            continue
        first, _, last = item.partition("-")
        start = _day(first, text)
        if not last:
            days.append(start)
            continue
        end = _day(last, text)
        days.extend((start + step) % 7 for step in range((end - start) % 7 + 1))
    return tuple(sorted(set(days)))


def _day(word: str, context: str) -> int:
    if word not in _DAY_WORDS:
        raise HoursError(
            f"'{word}' in '{context}' is not a day; use Mon to Sun, a range like 'Mon-Fri', "
            "a list like 'Mon,Wed', 'weekdays', 'weekends' or 'daily'."
        )
    return _DAY_WORDS[word]


def _parse_time(text: str, allow_midnight_end: bool) -> int:
    """`HH:MM` (24 h, `9:00` ok) as minutes; `24:00` is allowed as an end."""
    match = _TIME.fullmatch(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return hour * 60 + minute
        if allow_midnight_end and (hour, minute) == (24, 0):
            return MINUTES_PER_DAY
    raise HoursError(f"'{text}' is not a time; use 24-hour HH:MM, for example '09:00' or '17:30'.")


def _describe_days(days: set[int]) -> str:
    """Weekdays as "Every day", "Mon-Fri", "Sat-Sun" or "Mon, Wed"."""
    if len(days) == 7:
        return "Every day"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}"
        for run in runs
    )
