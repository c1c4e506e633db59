"""Shared clocks for the handoff tests: explicit London and UTC moments, never the real now."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc


def london(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A moment on the London wall clock (2026-11-23 is a Monday)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment in UTC, to show that the server's time zone does not matter."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
