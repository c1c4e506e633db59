"""What a dad is offered: each row of the table in docs/human-support.md, and Cry-sis hours."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from bot.content.helplines import load_helplines
from bot.handoff.availability import SupportOptions, support_options
from bot.handoff.settings import HandoffSettings, load_handoff_settings
from tests.handoff.clock import london, utc

GROUP = "-1001234567890"
NOT_CONFIGURED = load_handoff_settings({})
ALWAYS = load_handoff_settings({"OPERATOR_CHAT_ID": GROUP})
OFFICE = load_handoff_settings({"OPERATOR_CHAT_ID": GROUP, "OPERATOR_HOURS": "Mon-Fri 09:00-17:00"})
MONDAY_10AM = london(2026, 11, 23, 10, 0)
SATURDAY_3PM = london(2026, 11, 28, 15, 0)
TWENTY_FOUR_SEVEN = ("nhs111", "samaritans", "shout")
WITH_CRYSIS = (*TWENTY_FOUR_SEVEN, "crysis")


@pytest.mark.parametrize(
    ("settings", "now", "channel", "expected"),
    [
        # no OPERATOR_CHAT_ID: only the 24/7 lines, whatever the channel or time
        (
            NOT_CONFIGURED,
            MONDAY_10AM,
            "telegram",
            SupportOptions(False, False, False, None, WITH_CRYSIS),
        ),
        (
            NOT_CONFIGURED,
            MONDAY_10AM,
            "rest",
            SupportOptions(False, False, False, None, WITH_CRYSIS),
        ),
        # operators on duty, on Telegram: everything
        (OFFICE, MONDAY_10AM, "telegram", SupportOptions(True, True, True, None, WITH_CRYSIS)),
        (ALWAYS, SATURDAY_3PM, "telegram", SupportOptions(True, True, True, None, WITH_CRYSIS)),
        # operators on duty, another channel: no live chat
        (OFFICE, MONDAY_10AM, "rest", SupportOptions(False, True, True, None, WITH_CRYSIS)),
        (OFFICE, MONDAY_10AM, None, SupportOptions(False, True, True, None, WITH_CRYSIS)),
        (OFFICE, MONDAY_10AM, "socketio", SupportOptions(False, True, True, None, WITH_CRYSIS)),
        # operators off duty: a call back in the next office hours, and when they are back
        (
            OFFICE,
            SATURDAY_3PM,
            "telegram",
            SupportOptions(False, True, False, "on Monday at 9am", WITH_CRYSIS),
        ),
        (
            OFFICE,
            SATURDAY_3PM,
            "rest",
            SupportOptions(False, True, False, "on Monday at 9am", WITH_CRYSIS),
        ),
        (
            OFFICE,
            london(2026, 11, 23, 23, 0),
            "telegram",
            SupportOptions(False, True, False, "tomorrow at 9am", TWENTY_FOUR_SEVEN),
        ),
        (
            OFFICE,
            london(2026, 11, 23, 7, 0),
            "telegram",
            SupportOptions(False, True, False, "today at 9am", TWENTY_FOUR_SEVEN),
        ),
    ],
)
def test_the_offer_table(
    settings: HandoffSettings, now: datetime, channel: str | None, expected: SupportOptions
) -> None:
    assert support_options(settings, now=now, channel=channel) == expected


@pytest.mark.parametrize("channel", ["Telegram", "telegram_webhook", "", "cmdline"])
def test_live_chat_only_for_the_telegram_channel(channel: str) -> None:
    assert not support_options(ALWAYS, now=MONDAY_10AM, channel=channel).live_chat


@pytest.mark.parametrize(
    ("now", "crysis_open"),
    [
        (london(2026, 11, 23, 8, 59), False),
        (london(2026, 11, 23, 9, 0), True),
        (london(2026, 11, 23, 21, 59), True),
        (london(2026, 11, 23, 22, 0), False),
        (london(2026, 11, 24, 3, 0), False),
        (london(2026, 11, 29, 12, 0), True),  # every day, Sunday too
        (utc(2026, 7, 6, 20, 30), True),  # 21:30 BST
        (utc(2026, 7, 6, 21, 30), False),  # 22:30 BST, though 21:30 in UTC
        (utc(2026, 7, 6, 8, 30), True),  # 09:30 BST
        (utc(2026, 7, 6, 7, 30), False),  # 08:30 BST
    ],
)
def test_crysis_only_while_open(now: datetime, crysis_open: bool) -> None:
    for settings in (NOT_CONFIGURED, ALWAYS, OFFICE):
        lines = support_options(settings, now=now).lines
        assert lines == (WITH_CRYSIS if crysis_open else TWENTY_FOUR_SEVEN)


def test_lines_are_helpline_keys_and_never_999() -> None:
    known = load_helplines()
    for now in (MONDAY_10AM, london(2026, 11, 24, 3, 0)):
        lines = support_options(OFFICE, now=now).lines
        assert set(lines) <= set(known)
        assert "emergency" not in lines
        assert all(known[key].is_open(now) for key in lines)


def test_next_opening_only_when_off_duty() -> None:
    assert support_options(OFFICE, now=MONDAY_10AM).next_opening is None
    assert support_options(ALWAYS, now=SATURDAY_3PM).next_opening is None
    assert support_options(NOT_CONFIGURED, now=SATURDAY_3PM).next_opening is None
    assert support_options(OFFICE, now=SATURDAY_3PM).next_opening == "on Monday at 9am"


def test_off_duty_across_the_clock_change() -> None:
    """Saturday 28 March 2026, 6pm GMT: the team is back on Monday 30th at 9am BST."""
    options = support_options(OFFICE, now=utc(2026, 3, 28, 18, 0), channel="telegram")
    assert options.next_opening == "on Monday at 9am"
    assert not options.on_duty


def test_now_defaults_to_the_clock() -> None:
    options = support_options(NOT_CONFIGURED)
    assert options.lines[:3] == TWENTY_FOUR_SEVEN
    assert not options.live_chat and not options.callback


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        support_options(OFFICE, now=datetime(2026, 11, 23, 10, 0))


def test_support_options_are_frozen() -> None:
    options = support_options(OFFICE, now=MONDAY_10AM)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.live_chat = False  # type: ignore[misc]
