"""What a dad can really use right now: live chat, a call back, and which helplines are open.

The offer never promises more than is open: live chat only on Telegram while operators are on
duty, a call back whenever operators exist, and the 24/7 lines always (Cry-sis while open).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.content.helplines import LONDON, is_open_now
from bot.handoff.hours import to_london
from bot.handoff.settings import HandoffSettings

ALWAYS_OPEN_LINES = ("nhs111", "samaritans", "shout")
SOMETIMES_OPEN_LINES = ("crysis",)
LIVE_CHAT_CHANNEL = "telegram"


@dataclass(frozen=True)
class SupportOptions:
    live_chat: bool
    callback: bool
    on_duty: bool
    next_opening: str | None
    lines: tuple[str, ...]


def support_options(
    settings: HandoffSettings, now: datetime | None = None, channel: str | None = None
) -> SupportOptions:
    """The options to show; `channel` is the Rasa input channel ("telegram" for the front end)."""
    local = to_london(now) if now is not None else datetime.now(LONDON)
    on_duty = settings.on_duty(local)
    next_opening = None
    if settings.configured and not on_duty and settings.hours is not None:
        next_opening = settings.hours.describe_next_opening(local)
    lines = ALWAYS_OPEN_LINES + tuple(
        key for key in SOMETIMES_OPEN_LINES if is_open_now(key, local)
    )
    return SupportOptions(
        live_chat=on_duty and channel == LIVE_CHAT_CHANNEL,
        callback=settings.configured,
        on_duty=on_duty,
        next_opening=next_opening,
        lines=lines,
    )
