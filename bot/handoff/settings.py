"""Operator settings for live chat and call backs, all from environment variables.

| variable | default | meaning |
| --- | --- | --- |
| OPERATOR_CHAT_ID | (unset: no operators) | Telegram chat id of the operators' group |
| OPERATOR_USER_IDS | (unset: anyone in that chat) | Telegram user ids allowed to act |
| OPERATOR_HOURS | (unset: always on duty) | e.g. `Mon-Fri 09:00-17:00; Sat 10:00-13:00` |
| OPERATOR_TIMEOUT_SECONDS | 300 | wait for a first reply before offering other help |
| OPERATOR_DISPLAY_NAME | "The team" | how replies are signed (never an operator's name) |
| CALLBACK_RETENTION_DAYS | 30 | open call-back requests expire after this |
| HANDOFF_RETENTION_DAYS | 365 | ended handoff sessions are deleted after this |

Empty values count as unset, so `OPERATOR_CHAT_ID=` in an env file turns operators off.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.content.helplines import LONDON
from bot.handoff.hours import HoursError, OfficeHours, to_london

DEFAULT_TIMEOUT_SECONDS = 300.0
MIN_TIMEOUT_SECONDS = 5.0
MAX_TIMEOUT_SECONDS = 3600.0
DEFAULT_DISPLAY_NAME = "The team"
MAX_DISPLAY_NAME = 40
DEFAULT_CALLBACK_RETENTION_DAYS = 30
DEFAULT_HANDOFF_RETENTION_DAYS = 365
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")


class HandoffConfigError(ValueError):
    """An operator setting is wrong; the message is one sentence saying how to fix it."""


@dataclass(frozen=True)
class HandoffSettings:
    operator_chat_id: int | None = None
    operator_user_ids: frozenset[int] = field(default_factory=frozenset)
    hours: OfficeHours | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    display_name: str = DEFAULT_DISPLAY_NAME
    callback_retention_days: int = DEFAULT_CALLBACK_RETENTION_DAYS
    handoff_retention_days: int = DEFAULT_HANDOFF_RETENTION_DAYS

    @property
    def configured(self) -> bool:
        """Operators exist at all (an operators' chat is set)."""
        return self.operator_chat_id is not None

    def on_duty(self, now: datetime | None = None) -> bool:
        """Operators exist and it is inside their hours (no hours: always on duty)."""
        local = to_london(now) if now is not None else datetime.now(LONDON)
        if not self.configured:
            return False
        return self.hours is None or self.hours.is_open(local)

    def is_operator(self, chat_id: int, user_id: int | None) -> bool:
        """A message comes from the operators' chat and, with an allowlist, from someone on it."""
        if not self.configured or chat_id != self.operator_chat_id:
            return False
        if not self.operator_user_ids:
            return True
        return user_id is not None and user_id in self.operator_user_ids


def load_handoff_settings(env: Mapping[str, str] | None = None) -> HandoffSettings:
    """Read the settings; raise HandoffConfigError with one clear sentence when one is wrong."""
    env = os.environ if env is None else env
    return HandoffSettings(
        operator_chat_id=_chat_id(_value(env, "OPERATOR_CHAT_ID")),
        operator_user_ids=_user_ids(_value(env, "OPERATOR_USER_IDS")),
        hours=_hours(_value(env, "OPERATOR_HOURS")),
        timeout_seconds=_timeout(_value(env, "OPERATOR_TIMEOUT_SECONDS")),
        display_name=_display_name(_value(env, "OPERATOR_DISPLAY_NAME")),
        callback_retention_days=_days(
            "CALLBACK_RETENTION_DAYS",
            _value(env, "CALLBACK_RETENTION_DAYS"),
            DEFAULT_CALLBACK_RETENTION_DAYS,
            365,
        ),
        handoff_retention_days=_days(
            "HANDOFF_RETENTION_DAYS",
            _value(env, "HANDOFF_RETENTION_DAYS"),
            DEFAULT_HANDOFF_RETENTION_DAYS,
            3650,
        ),
    )


def _value(env: Mapping[str, str], name: str) -> str | None:
    """The stripped value, or None when unset or empty."""
    raw = (env.get(name) or "").strip()
    return raw or None


def _chat_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not _WHOLE_NUMBER.fullmatch(raw) or int(raw) == 0:
        raise HandoffConfigError(
            f"OPERATOR_CHAT_ID={raw!r} is not a Telegram chat id "
            "(a whole number, negative for groups)."
        )
    return int(raw)


def _user_ids(raw: str | None) -> frozenset[int]:
    if raw is None:
        return frozenset()
    ids = set()
    for item in re.split(r"[,\s]+", raw):
        if not item:
            continue
        if not _WHOLE_NUMBER.fullmatch(item) or int(item) <= 0:
            raise HandoffConfigError(
                f"OPERATOR_USER_IDS has {item!r}, which is not a Telegram user id; list whole "
                "positive numbers separated by commas, for example 12345678,87654321."
            )
        ids.add(int(item))
    return frozenset(ids)


def _hours(raw: str | None) -> OfficeHours | None:
    if raw is None:
        return None
    try:
        return OfficeHours.parse(raw)
    except HoursError as error:
        raise HandoffConfigError(f"OPERATOR_HOURS: {error}") from None


def _timeout(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds) or math.isinf(seconds):
        raise HandoffConfigError(
            f"OPERATOR_TIMEOUT_SECONDS={raw!r} is not a number of seconds (for example 300)."
        )
    if not MIN_TIMEOUT_SECONDS <= seconds <= MAX_TIMEOUT_SECONDS:
        raise HandoffConfigError(
            f"OPERATOR_TIMEOUT_SECONDS={raw} should be between 5 and 3600 seconds."
        )
    return seconds


def _display_name(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_DISPLAY_NAME
    name = " ".join(raw.split())
    if len(name) > MAX_DISPLAY_NAME:
        raise HandoffConfigError(
            f"OPERATOR_DISPLAY_NAME is {len(name)} characters long; keep it to "
            f"{MAX_DISPLAY_NAME} or fewer, for example 'The team'."
        )
    return name


def _days(name: str, raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise HandoffConfigError(f"{name}={raw!r} is not a whole number of days.")
    days = int(raw)
    if not 1 <= days <= maximum:
        raise HandoffConfigError(f"{name}={days} should be between 1 and {maximum} days.")
    return days
