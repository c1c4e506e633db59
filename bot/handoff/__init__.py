"""Human support without I/O: office hours, UK phone numbers, operator settings, what is open."""

from __future__ import annotations

from bot.handoff.availability import SupportOptions, support_options
from bot.handoff.hours import HoursError, OfficeHours
from bot.handoff.phone import display, hint, normalise_uk_phone, redact_phone_numbers
from bot.handoff.settings import HandoffConfigError, HandoffSettings, load_handoff_settings

__all__ = [
    "HandoffConfigError",
    "HandoffSettings",
    "HoursError",
    "OfficeHours",
    "SupportOptions",
    "display",
    "hint",
    "load_handoff_settings",
    "normalise_uk_phone",
    "redact_phone_numbers",
    "support_options",
]
