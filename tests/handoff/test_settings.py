"""Operator settings: defaults, one clear sentence for each mistake, duty and operator checks."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from bot.handoff.hours import OfficeHours
from bot.handoff.settings import HandoffConfigError, HandoffSettings, load_handoff_settings
from tests.handoff.clock import london

ALL_VARIABLES = (
    "OPERATOR_CHAT_ID",
    "OPERATOR_USER_IDS",
    "OPERATOR_HOURS",
    "OPERATOR_TIMEOUT_SECONDS",
    "OPERATOR_DISPLAY_NAME",
    "CALLBACK_RETENTION_DAYS",
    "HANDOFF_RETENTION_DAYS",
)
GROUP = -1001234567890
MONDAY_10AM = london(2026, 11, 23, 10, 0)
SATURDAY_10AM = london(2026, 11, 28, 10, 0)


def assert_defaults(settings: HandoffSettings) -> None:
    assert settings.operator_chat_id is None
    assert not settings.configured
    assert settings.operator_user_ids == frozenset()
    assert settings.hours is None
    assert settings.timeout_seconds == 300.0
    assert settings.display_name == "The team"
    assert settings.callback_retention_days == 30
    assert settings.handoff_retention_days == 365


def test_defaults_with_nothing_set() -> None:
    assert_defaults(load_handoff_settings({}))


def test_empty_and_blank_values_count_as_unset() -> None:
    assert_defaults(load_handoff_settings(dict.fromkeys(ALL_VARIABLES, "")))
    assert_defaults(load_handoff_settings(dict.fromkeys(ALL_VARIABLES, "   ")))


def test_reads_os_environ_by_default(monkeypatch) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPERATOR_CHAT_ID", str(GROUP))
    monkeypatch.setenv("OPERATOR_TIMEOUT_SECONDS", "120")
    settings = load_handoff_settings()
    assert settings.operator_chat_id == GROUP
    assert settings.timeout_seconds == 120.0


def test_everything_set() -> None:
    settings = load_handoff_settings(
        {
            "OPERATOR_CHAT_ID": str(GROUP),
            "OPERATOR_USER_IDS": "111, 222",
            "OPERATOR_HOURS": "Mon-Fri 09:00-17:00; Sat 10:00-13:00",
            "OPERATOR_TIMEOUT_SECONDS": "90",
            "OPERATOR_DISPLAY_NAME": "Small Hours team",
            "CALLBACK_RETENTION_DAYS": "14",
            "HANDOFF_RETENTION_DAYS": "90",
        }
    )
    assert settings.configured
    assert settings.operator_chat_id == GROUP
    assert settings.operator_user_ids == frozenset({111, 222})
    assert settings.hours == OfficeHours.parse("Mon-Fri 09:00-17:00; Sat 10:00-13:00")
    assert settings.timeout_seconds == 90.0
    assert settings.display_name == "Small Hours team"
    assert settings.callback_retention_days == 14
    assert settings.handoff_retention_days == 90


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_handoff_settings({}).operator_chat_id = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "chat_id"),
    [("12345", 12345), ("-1001234567890", -1001234567890), (" -42 ", -42), ("+7", 7)],
)
def test_chat_id(raw: str, chat_id: int) -> None:
    assert load_handoff_settings({"OPERATOR_CHAT_ID": raw}).operator_chat_id == chat_id


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        (
            "OPERATOR_CHAT_ID",
            "abc",
            "OPERATOR_CHAT_ID='abc' is not a Telegram chat id "
            "(a whole number, negative for groups).",
        ),
        ("OPERATOR_CHAT_ID", "12.5", "OPERATOR_CHAT_ID='12.5' is not a Telegram chat id"),
        ("OPERATOR_CHAT_ID", "0", "OPERATOR_CHAT_ID='0' is not a Telegram chat id"),
        ("OPERATOR_CHAT_ID", "1e5", "OPERATOR_CHAT_ID='1e5' is not a Telegram chat id"),
        ("OPERATOR_CHAT_ID", "@myteam", "OPERATOR_CHAT_ID='@myteam' is not a Telegram chat id"),
        ("OPERATOR_CHAT_ID", "12 34", "OPERATOR_CHAT_ID='12 34' is not a Telegram chat id"),
        ("OPERATOR_USER_IDS", "111,bob", "OPERATOR_USER_IDS has 'bob', which is not"),
        ("OPERATOR_USER_IDS", "111;222", "OPERATOR_USER_IDS has '111;222', which is not"),
        ("OPERATOR_USER_IDS", "-100123", "OPERATOR_USER_IDS has '-100123', which is not"),
        ("OPERATOR_USER_IDS", "0", "OPERATOR_USER_IDS has '0', which is not"),
        ("OPERATOR_USER_IDS", "1.5", "OPERATOR_USER_IDS has '1.5', which is not"),
        ("OPERATOR_HOURS", "Mon-Fir 09:00-17:00", "OPERATOR_HOURS: 'fir' in 'Mon-Fir' is not"),
        ("OPERATOR_HOURS", "Mon 9am-5pm", "OPERATOR_HOURS: '9am' is not a time"),
        ("OPERATOR_HOURS", "Fri 22:00-02:00", "OPERATOR_HOURS: 'Fri 22:00-02:00' must end"),
        ("OPERATOR_HOURS", "Mon-Fri", "OPERATOR_HOURS: 'Mon-Fri' has no times"),
        (
            "OPERATOR_TIMEOUT_SECONDS",
            "abc",
            "OPERATOR_TIMEOUT_SECONDS='abc' is not a number of seconds",
        ),
        ("OPERATOR_TIMEOUT_SECONDS", "5 min", "OPERATOR_TIMEOUT_SECONDS='5 min' is not"),
        ("OPERATOR_TIMEOUT_SECONDS", "nan", "OPERATOR_TIMEOUT_SECONDS='nan' is not"),
        ("OPERATOR_TIMEOUT_SECONDS", "inf", "OPERATOR_TIMEOUT_SECONDS='inf' is not"),
        (
            "OPERATOR_TIMEOUT_SECONDS",
            "4.9",
            "OPERATOR_TIMEOUT_SECONDS=4.9 should be between 5 and 3600 seconds.",
        ),
        ("OPERATOR_TIMEOUT_SECONDS", "0", "should be between 5 and 3600 seconds"),
        ("OPERATOR_TIMEOUT_SECONDS", "-300", "should be between 5 and 3600 seconds"),
        ("OPERATOR_TIMEOUT_SECONDS", "3601", "should be between 5 and 3600 seconds"),
        (
            "OPERATOR_DISPLAY_NAME",
            "x" * 41,
            "OPERATOR_DISPLAY_NAME is 41 characters long; keep it to 40 or fewer",
        ),
        (
            "CALLBACK_RETENTION_DAYS",
            "a month",
            "CALLBACK_RETENTION_DAYS='a month' is not a whole number of days.",
        ),
        ("CALLBACK_RETENTION_DAYS", "1.5", "CALLBACK_RETENTION_DAYS='1.5' is not a whole"),
        (
            "CALLBACK_RETENTION_DAYS",
            "0",
            "CALLBACK_RETENTION_DAYS=0 should be between 1 and 365 days.",
        ),
        ("CALLBACK_RETENTION_DAYS", "366", "CALLBACK_RETENTION_DAYS=366 should be between"),
        ("CALLBACK_RETENTION_DAYS", "-1", "CALLBACK_RETENTION_DAYS=-1 should be between"),
        ("HANDOFF_RETENTION_DAYS", "forever", "HANDOFF_RETENTION_DAYS='forever' is not a whole"),
        (
            "HANDOFF_RETENTION_DAYS",
            "3651",
            "HANDOFF_RETENTION_DAYS=3651 should be between 1 and 3650 days.",
        ),
        ("HANDOFF_RETENTION_DAYS", "0", "HANDOFF_RETENTION_DAYS=0 should be between"),
    ],
)
def test_mistakes_get_one_clear_sentence(variable: str, raw: str, message: str) -> None:
    with pytest.raises(HandoffConfigError) as caught:
        load_handoff_settings({variable: raw})
    text = str(caught.value)
    assert message in text
    assert text.startswith(variable)
    assert text.endswith(".")
    assert "\n" not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ or caught.value.__context__ is None


def test_config_error_is_a_value_error() -> None:
    assert issubclass(HandoffConfigError, ValueError)


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("111", {111}),
        ("111,222", {111, 222}),
        ("111, 222 ,333", {111, 222, 333}),
        ("111 222", {111, 222}),
        ("111,,222,", {111, 222}),
        ("111,111", {111}),
    ],
)
def test_user_ids(raw: str, ids: set[int]) -> None:
    assert load_handoff_settings({"OPERATOR_USER_IDS": raw}).operator_user_ids == frozenset(ids)


@pytest.mark.parametrize(
    ("raw", "seconds"), [("5", 5.0), ("300", 300.0), ("90.5", 90.5), ("3600", 3600.0)]
)
def test_timeout_seconds(raw: str, seconds: float) -> None:
    assert load_handoff_settings({"OPERATOR_TIMEOUT_SECONDS": raw}).timeout_seconds == seconds


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("  Small Hours team  ", "Small Hours team"),
        ("Small   Hours\tteam", "Small Hours team"),
        ("x" * 40, "x" * 40),
        (" " * 3, "The team"),
    ],
)
def test_display_name(raw: str, name: str) -> None:
    assert load_handoff_settings({"OPERATOR_DISPLAY_NAME": raw}).display_name == name


@pytest.mark.parametrize(
    ("variable", "raw", "days"),
    [
        ("CALLBACK_RETENTION_DAYS", "1", 1),
        ("CALLBACK_RETENTION_DAYS", "365", 365),
        ("HANDOFF_RETENTION_DAYS", "1", 1),
        ("HANDOFF_RETENTION_DAYS", "3650", 3650),
    ],
)
def test_retention_days(variable: str, raw: str, days: int) -> None:
    settings = load_handoff_settings({variable: raw})
    assert getattr(settings, variable.lower()) == days


def test_hours_are_parsed() -> None:
    settings = load_handoff_settings({"OPERATOR_HOURS": "weekdays 9:00-17:00"})
    assert settings.hours == OfficeHours.parse("Mon-Fri 09:00-17:00")
    assert settings.hours.describe() == "Mon-Fri 9am to 5pm"


# --- on_duty ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "now", "on_duty"),
    [
        ({}, MONDAY_10AM, False),  # no operators at all
        ({"OPERATOR_HOURS": "Mon-Fri 09:00-17:00"}, MONDAY_10AM, False),  # hours, no chat
        ({"OPERATOR_CHAT_ID": str(GROUP)}, MONDAY_10AM, True),  # no hours: always
        ({"OPERATOR_CHAT_ID": str(GROUP)}, london(2026, 11, 29, 3, 0), True),  # Sunday 3am
        (
            {"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_HOURS": "Mon-Fri 09:00-17:00"},
            MONDAY_10AM,
            True,
        ),
        (
            {"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_HOURS": "Mon-Fri 09:00-17:00"},
            SATURDAY_10AM,
            False,
        ),
        (
            {"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_HOURS": "Mon-Fri 09:00-17:00"},
            london(2026, 11, 23, 17, 0),
            False,
        ),
    ],
)
def test_on_duty(env: dict[str, str], now: datetime, on_duty: bool) -> None:
    assert load_handoff_settings(env).on_duty(now) is on_duty


def test_on_duty_refuses_a_naive_now() -> None:
    settings = load_handoff_settings({"OPERATOR_CHAT_ID": str(GROUP)})
    with pytest.raises(ValueError, match="timezone-aware"):
        settings.on_duty(datetime(2026, 11, 23, 10, 0))


def test_on_duty_without_now_uses_the_clock() -> None:
    assert load_handoff_settings({"OPERATOR_CHAT_ID": str(GROUP)}).on_duty() is True
    assert load_handoff_settings({}).on_duty() is False


# --- is_operator --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "chat_id", "user_id", "allowed"),
    [
        ({}, GROUP, 111, False),  # no operators configured
        ({"OPERATOR_CHAT_ID": str(GROUP)}, GROUP, 111, True),  # anyone in the chat
        ({"OPERATOR_CHAT_ID": str(GROUP)}, GROUP, None, True),
        ({"OPERATOR_CHAT_ID": str(GROUP)}, -100999, 111, False),  # another chat
        ({"OPERATOR_CHAT_ID": str(GROUP)}, 111, 111, False),  # a private chat with the bot
        ({"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_USER_IDS": "111,222"}, GROUP, 111, True),
        ({"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_USER_IDS": "111,222"}, GROUP, 222, True),
        ({"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_USER_IDS": "111,222"}, GROUP, 333, False),
        ({"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_USER_IDS": "111,222"}, GROUP, None, False),
        ({"OPERATOR_CHAT_ID": str(GROUP), "OPERATOR_USER_IDS": "111"}, -100999, 111, False),
    ],
)
def test_is_operator(env: dict[str, str], chat_id: int, user_id: int | None, allowed: bool) -> None:
    assert load_handoff_settings(env).is_operator(chat_id, user_id) is allowed
