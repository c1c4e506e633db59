"""The offer of a person, live chat and the call-back form (actions/human_support.py).

Trackers are built from plain dicts as the action server receives them; the time is fixed by
replacing `actions.human_support.clock`; operators are configured through the environment; the
store is a throwaway SQLite database (DATABASE_URL), as in tests/actions/conftest.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

import actions.human_support as hs
from actions.human_support import (
    ActionCancelCallback,
    ActionOfferHumanSupport,
    ActionStartLiveChat,
    ActionSubmitCallback,
    ValidateCallbackForm,
    parse_window,
)
from bot.store import support
from bot.store.db import session_scope
from bot.store.models import CallbackRequest
from bot.store.pseudonym import pseudonymise
from tests.actions.conftest import SENDER_ID

ROOT = Path(__file__).resolve().parents[2]
OPERATORS = "-1001234567890"
HOURS = "Mon-Fri 09:00-17:00"
# January: London is on UTC. 14 Jan 2026 is a Wednesday, 16 Jan a Friday.
WEDNESDAY_10AM = datetime(2026, 1, 14, 10, 0, tzinfo=timezone.utc)  # on duty, Cry-sis open
WEDNESDAY_11PM = datetime(2026, 1, 14, 23, 0, tzinfo=timezone.utc)  # off duty, Cry-sis shut
FRIDAY_6PM = datetime(2026, 1, 16, 18, 0, tzinfo=timezone.utc)  # off duty till Monday
TELEGRAM = {"channel": "telegram"}
NUMBER = "07700 900123"
NUMBER_DIGITS = "07700900123"
SAFETY_INTENTS = ("safety_emergency", "safety_edge")


def _domain() -> dict[str, Any]:
    """The real domain, merged from domain/*.yml as Rasa sends it to the action server."""
    merged: dict[str, Any] = {"intents": [], "responses": {}, "slots": {}, "forms": {}}
    for path in sorted((ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        merged["intents"] += data.get("intents") or []
        for key in ("responses", "slots", "forms"):
            merged[key].update(data.get(key) or {})
    return merged


DOMAIN = _domain()


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No operator settings from the machine running the tests; a throwaway data key."""
    for name in (
        "OPERATOR_CHAT_ID",
        "OPERATOR_USER_IDS",
        "OPERATOR_HOURS",
        "OPERATOR_TIMEOUT_SECONDS",
        "OPERATOR_DISPLAY_NAME",
        "CALLBACK_RETENTION_DAYS",
        "HANDOFF_RETENTION_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMALL_HOURS_DATA_KEY", Fernet.generate_key().decode())
    hs._logged_config_errors.clear()


def at(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr(hs, "clock", lambda: now)


@pytest.fixture
def on_duty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATOR_CHAT_ID", OPERATORS)
    monkeypatch.setenv("OPERATOR_HOURS", HOURS)
    at(monkeypatch, WEDNESDAY_10AM)


@pytest.fixture
def off_duty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATOR_CHAT_ID", OPERATORS)
    monkeypatch.setenv("OPERATOR_HOURS", HOURS)
    at(monkeypatch, WEDNESDAY_11PM)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def store(store_url: str) -> Iterator[str]:
    yield store_url


# --- trackers -----------------------------------------------------------------------------


def _latest(text: str, intent: str | None, confidence: float, metadata: dict | None) -> dict:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "intent_ranking": [],
        "entities": [],
        "metadata": metadata or {},
    }


def message_tracker(
    intent: str = "request_human",
    text: str = "can i talk to someone",
    metadata: dict | None = None,
    slots: dict[str, Any] | None = None,
) -> Tracker:
    latest = _latest(text, intent, 1.0, metadata)
    return Tracker.from_dict(
        {
            "sender_id": SENDER_ID,
            "slots": {slot: None for slot in hs.CALLBACK_SLOTS} | (slots or {}),
            "latest_message": latest,
            "events": [
                {"event": "action", "name": "action_listen"},
                {"event": "user", "text": text, "parse_data": latest},
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def said(response: str) -> dict[str, Any]:
    return {"event": "bot", "text": "...", "metadata": {"utter_action": response}}


def form_tracker(
    slot: str,
    answer: Any,
    intent: str | None = "nlu_fallback",
    confidence: float = 0.9,
    earlier: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    metadata: dict | None = None,
) -> Tracker:
    """The tracker as the form hands it over: the from_text answer is the last SlotSet."""
    text = answer if isinstance(answer, str) else ("yes" if answer else "no")
    latest = _latest(text, intent, confidence, metadata)
    all_slots = {s: None for s in hs.CALLBACK_SLOTS} | (slots or {})
    all_slots.update({"requested_slot": slot, slot: answer})
    return Tracker.from_dict(
        {
            "sender_id": SENDER_ID,
            "slots": all_slots,
            "latest_message": latest,
            "events": [
                {"event": "active_loop", "name": "callback_form"},
                {"event": "slot", "name": "requested_slot", "value": "callback_phone"},
                *(earlier or []),
                {"event": "slot", "name": "requested_slot", "value": slot},
                {"event": "action", "name": "action_listen"},
                {"event": "user", "text": text, "parse_data": latest},
                {"event": "slot", "name": slot, "value": answer},
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": "callback_form"},
            "latest_action_name": "action_listen",
        }
    )


def starting_tracker(
    slots: dict[str, Any] | None = None, text: str = "can someone ring me"
) -> Tracker:
    """The form's first validation call, before any question (requested_slot is None)."""
    latest = _latest(text, "request_callback", 0.95, None)
    return Tracker.from_dict(
        {
            "sender_id": SENDER_ID,
            "slots": {s: None for s in hs.CALLBACK_SLOTS}
            | (slots or {})
            | {"requested_slot": None},
            "latest_message": latest,
            "events": [
                {"event": "action", "name": "action_listen"},
                {"event": "user", "text": text, "parse_data": latest},
                {"event": "active_loop", "name": "callback_form"},
                {"event": "slot", "name": "requested_slot", "value": None},
                {"event": "action", "name": "callback_form"},
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": "callback_form"},
            "latest_action_name": "callback_form",
        }
    )


def run(action: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    return asyncio.run(action.run(dispatcher, tracker, DOMAIN))


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [m.get("response") for m in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def ends_form(events: list[dict[str, Any]]) -> bool:
    return SlotSet("requested_slot", None) in events


def rows(url: str) -> list[CallbackRequest]:
    with session_scope(url) as session:
        found = list(session.scalars(select(CallbackRequest)))
        session.expunge_all()
        return found


def save_draft(url: str) -> None:
    support.save_callback_draft(pseudonymise(SENDER_ID), NUMBER_DIGITS, url=url)


# --- the offer ----------------------------------------------------------------------------


def test_action_names() -> None:
    assert ActionOfferHumanSupport().name() == "action_offer_human_support"
    assert ActionStartLiveChat().name() == "action_start_live_chat"
    assert ActionSubmitCallback().name() == "action_submit_callback"
    assert ActionCancelCallback().name() == "action_cancel_callback"
    assert ValidateCallbackForm().name() == "validate_callback_form"


def test_every_response_the_actions_use_is_in_the_domain() -> None:
    source = (ROOT / "actions" / "human_support.py").read_text(encoding="utf-8")
    used = set(re.findall(r"\"(utter_\w+)\"", source)) - {"utter_action"}
    assert used, "no responses found"
    assert used <= set(DOMAIN["responses"]), used - set(DOMAIN["responses"])


@pytest.mark.parametrize("name", [hs.LINES, hs.LINES_WITH_CRYSIS])
def test_the_lines_end_with_999(name: str) -> None:
    text = DOMAIN["responses"][name][0]["text"]
    assert text.strip().splitlines()[-1].endswith("call 999.")
    assert "NHS 111" in text and "116 123" in text and "85258" in text
    assert ("0800 448 0737" in text) is (name == hs.LINES_WITH_CRYSIS)


@pytest.mark.parametrize(
    ("now", "lines"), [(WEDNESDAY_10AM, hs.LINES_WITH_CRYSIS), (WEDNESDAY_11PM, hs.LINES)]
)
def test_without_operators_only_the_lines(
    now: datetime, lines: str, monkeypatch: pytest.MonkeyPatch, dispatcher: CollectingDispatcher
) -> None:
    at(monkeypatch, now)
    assert run(ActionOfferHumanSupport(), dispatcher, message_tracker(metadata=TELEGRAM)) == []
    assert responses(dispatcher) == [lines]


def test_on_duty_on_telegram_offers_live_chat_and_call_back(
    on_duty: None, dispatcher: CollectingDispatcher
) -> None:
    run(ActionOfferHumanSupport(), dispatcher, message_tracker(metadata=TELEGRAM))
    assert responses(dispatcher) == ["utter_human_support_live", hs.LINES_WITH_CRYSIS]
    buttons = DOMAIN["responses"]["utter_human_support_live"][0]["buttons"]
    assert [b["payload"] for b in buttons] == ["/live_chat", "/request_callback"]


@pytest.mark.parametrize("metadata", [None, {"channel": "rest"}, {"referral": "abc"}])
def test_on_duty_elsewhere_offers_a_call_back_only(
    metadata: dict | None, on_duty: None, dispatcher: CollectingDispatcher
) -> None:
    run(ActionOfferHumanSupport(), dispatcher, message_tracker(metadata=metadata))
    assert responses(dispatcher) == ["utter_human_support_callback_only", hs.LINES_WITH_CRYSIS]


def test_off_duty_says_when_the_team_is_back(
    off_duty: None, dispatcher: CollectingDispatcher
) -> None:
    run(ActionOfferHumanSupport(), dispatcher, message_tracker(metadata=TELEGRAM))
    assert responses(dispatcher) == ["utter_human_support_off_duty", hs.LINES]
    assert dispatcher.messages[0]["next_opening"] == "tomorrow at 9am"


def test_off_duty_on_a_friday_evening_says_monday(
    monkeypatch: pytest.MonkeyPatch, dispatcher: CollectingDispatcher
) -> None:
    monkeypatch.setenv("OPERATOR_CHAT_ID", OPERATORS)
    monkeypatch.setenv("OPERATOR_HOURS", HOURS)
    at(monkeypatch, FRIDAY_6PM)
    run(ActionOfferHumanSupport(), dispatcher, message_tracker())
    assert dispatcher.messages[0]["next_opening"] == "on Monday at 9am"


def test_operators_without_hours_are_always_on_duty(
    monkeypatch: pytest.MonkeyPatch, dispatcher: CollectingDispatcher
) -> None:
    monkeypatch.setenv("OPERATOR_CHAT_ID", OPERATORS)
    at(monkeypatch, WEDNESDAY_11PM)
    run(ActionOfferHumanSupport(), dispatcher, message_tracker(metadata=TELEGRAM))
    assert responses(dispatcher) == ["utter_human_support_live", hs.LINES]


@pytest.mark.parametrize(
    ("name", "value"),
    [("OPERATOR_CHAT_ID", "the team"), ("OPERATOR_HOURS", "Mon-Fri 9-5ish")],
)
def test_broken_settings_give_the_lines_and_a_log_without_message_text(
    name: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    dispatcher: CollectingDispatcher,
) -> None:
    monkeypatch.setenv("OPERATOR_CHAT_ID", OPERATORS)
    monkeypatch.setenv(name, value)
    at(monkeypatch, WEDNESDAY_10AM)
    secret = "my wife left and i need someone"
    with caplog.at_level(logging.INFO):
        run(ActionOfferHumanSupport(), dispatcher, message_tracker(text=secret, metadata=TELEGRAM))
    assert responses(dispatcher) == [hs.LINES_WITH_CRYSIS]
    assert name in caplog.text
    assert secret not in caplog.text


# --- live chat ----------------------------------------------------------------------------


def test_live_chat_on_telegram_on_duty_is_only_the_handoff_message(
    on_duty: None, dispatcher: CollectingDispatcher
) -> None:
    tracker = message_tracker(intent="live_chat", text="/live_chat", metadata=TELEGRAM)
    assert run(ActionStartLiveChat(), dispatcher, tracker) == []
    assert dispatcher.messages == [
        {
            "text": None,
            "buttons": [],
            "elements": [],
            "custom": {"handoff": "start"},
            "template": None,
            "response": None,
            "image": None,
            "attachment": None,
        }
    ]


def test_live_chat_off_duty_gets_the_call_back_and_the_lines(
    off_duty: None, dispatcher: CollectingDispatcher
) -> None:
    tracker = message_tracker(intent="live_chat", text="live chat pls", metadata=TELEGRAM)
    run(ActionStartLiveChat(), dispatcher, tracker)
    assert responses(dispatcher) == ["utter_human_support_off_duty", hs.LINES]
    assert not any(m.get("custom") for m in dispatcher.messages)


def test_live_chat_over_rest_gets_the_call_back_and_the_lines(
    on_duty: None, dispatcher: CollectingDispatcher
) -> None:
    run(ActionStartLiveChat(), dispatcher, message_tracker(intent="live_chat", text="chat now"))
    assert responses(dispatcher) == ["utter_human_support_callback_only", hs.LINES_WITH_CRYSIS]


def test_live_chat_without_operators_gets_the_lines(
    monkeypatch: pytest.MonkeyPatch, dispatcher: CollectingDispatcher
) -> None:
    at(monkeypatch, WEDNESDAY_11PM)
    tracker = message_tracker(intent="live_chat", text="chat now", metadata=TELEGRAM)
    run(ActionStartLiveChat(), dispatcher, tracker)
    assert responses(dispatcher) == [hs.LINES]


# --- the form starting ---------------------------------------------------------------------


def test_without_operators_the_form_says_so_and_closes(
    monkeypatch: pytest.MonkeyPatch, store: str, dispatcher: CollectingDispatcher
) -> None:
    at(monkeypatch, WEDNESDAY_11PM)
    events = run(ValidateCallbackForm(), dispatcher, starting_tracker())
    assert events == [SlotSet("requested_slot", None)]
    assert responses(dispatcher) == ["utter_callback_unavailable", hs.LINES]


def test_the_form_starts_quietly_when_call_backs_exist(
    off_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    assert run(ValidateCallbackForm(), dispatcher, starting_tracker()) == []
    assert dispatcher.messages == []


def test_answers_left_by_a_closed_form_are_cleared_at_the_start(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    stale = {"callback_phone": "ending 123", "callback_window": "morning"}
    events = run(ValidateCallbackForm(), dispatcher, starting_tracker(slots=stale))
    assert events == [SlotSet("callback_phone", None), SlotSet("callback_window", None)]


def test_a_number_given_with_the_request_is_not_asked_for_again(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    tracker = starting_tracker(text="can someone ring me back on 07700 900456 tmrw pls")
    events = run(ValidateCallbackForm(), dispatcher, tracker)
    assert events == [SlotSet("callback_phone", "ending 456")]
    drafts = rows(store)
    assert [(r.status, r.phone_hint) for r in drafts] == [("draft", "ending 456")]
    assert "900456" not in (drafts[0].phone_enc or "")


# --- the phone number -----------------------------------------------------------------------


def validate(
    slot: str, answer: Any, dispatcher: CollectingDispatcher, **kw: Any
) -> list[dict[str, Any]]:
    return run(ValidateCallbackForm(), dispatcher, form_tracker(slot, answer, **kw))


@pytest.mark.parametrize(
    "answer",
    [
        NUMBER,
        NUMBER_DIGITS,
        "+44 7700 900123",
        "+44 (0)7700 900123",
        "its 07700-900-123",
        "07700 900123 but after 2 is best cos of the baby",
        "ok ring me on 07700900123 thanks",
    ],
)
def test_a_valid_number_keeps_only_the_hint_and_writes_the_draft(
    answer: str, on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("callback_phone", answer, dispatcher, metadata={"referral": "stmarys"})
    assert slot_events(events) == {"callback_phone": "ending 123"}
    assert dispatcher.messages == []
    [row] = rows(store)
    assert row.status == "draft"
    assert row.conversation_id == pseudonymise(SENDER_ID)
    assert row.phone_hint == "ending 123"
    assert row.service_code == "stmarys"
    assert row.phone_enc and NUMBER_DIGITS not in row.phone_enc  # encrypted
    assert row.created_at is not None and row.created_at.replace(tzinfo=timezone.utc) == (
        WEDNESDAY_10AM
    )


def test_the_slot_never_holds_the_number(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("callback_phone", "+44 (0) 7700 900 123", dispatcher)
    values = [str(e["value"]) for e in events if e.get("event") == "slot"]
    assert values == ["ending 123"]
    assert not any(re.sub(r"\D", "", v) == NUMBER_DIGITS for v in values)
    assert not any("7700" in v for v in values)


def test_a_strange_referral_code_is_not_stored(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    validate("callback_phone", NUMBER, dispatcher, metadata={"referral": "x" * 65})
    assert rows(store)[0].service_code is None


@pytest.mark.parametrize(
    "answer", ["my number", "123", "0800 123 4567", "999", "07700 90012", "tomorrow", "yes"]
)
def test_a_bad_number_is_asked_again_kindly(
    answer: str, on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("callback_phone", answer, dispatcher, intent="nlu_fallback")
    assert slot_events(events) == {"callback_phone": None}
    assert not ends_form(events)
    assert responses(dispatcher) == ["utter_callback_phone_invalid"]
    assert rows(store) == []


def test_a_second_bad_number_is_asked_again_too(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    earlier = [said("utter_callback_phone_invalid")]
    events = validate("callback_phone", "12345", dispatcher, earlier=earlier)
    assert responses(dispatcher) == ["utter_callback_phone_invalid"]
    assert not ends_form(events)


def test_a_third_bad_number_gives_up_with_the_lines(
    off_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    earlier = [said("utter_callback_phone_invalid"), said("utter_callback_phone_invalid")]
    events = validate("callback_phone", "12345", dispatcher, earlier=earlier)
    assert responses(dispatcher) == ["utter_callback_phone_give_up", hs.LINES]
    assert ends_form(events)
    assert rows(store) == []


def test_misses_from_an_earlier_form_do_not_count(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    earlier = [
        said("utter_callback_phone_invalid"),
        said("utter_callback_phone_invalid"),
        {"event": "active_loop", "name": "callback_form"},  # asked again later
    ]
    validate("callback_phone", "12345", dispatcher, earlier=earlier)
    assert responses(dispatcher) == ["utter_callback_phone_invalid"]


@pytest.mark.parametrize(
    ("answer", "intent"),
    [
        ("cancel", "cancel"),
        ("no", "deny"),
        ("nah forget it", "deny"),
        ("stop", "nlu_fallback"),  # misread by NLU: the words still count
        ("never mind", "out_of_scope"),
        ("nvm", "nlu_fallback"),
        ("leave it actually", "nlu_fallback"),
        ("dw about it", "greet"),
    ],
)
def test_cancel_or_no_at_the_number_ends_kindly(
    answer: str, intent: str, on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("callback_phone", answer, dispatcher, intent=intent)
    assert responses(dispatcher) == ["utter_callback_cancelled", hs.LINES_WITH_CRYSIS]
    assert ends_form(events)


def test_a_store_failure_apologises_with_the_lines_and_logs_no_number(
    on_duty: None,
    unreachable_store: str,
    caplog: pytest.LogCaptureFixture,
    dispatcher: CollectingDispatcher,
) -> None:
    with caplog.at_level(logging.INFO):
        events = validate("callback_phone", NUMBER, dispatcher)
    assert responses(dispatcher) == ["utter_callback_store_failed", hs.LINES_WITH_CRYSIS]
    assert ends_form(events)
    assert slot_events(events)["callback_phone"] is None
    assert "900123" not in caplog.text


def test_a_real_question_instead_of_a_number_is_answered(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("callback_phone", "what is colic", dispatcher, intent="ask_colic")
    assert responses(dispatcher) == ["utter_ask_colic", "utter_callback_paused"]
    assert ends_form(events)


def test_an_unsure_question_is_taken_as_a_bad_number(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    validate("callback_phone", "colic bla", dispatcher, intent="ask_colic", confidence=0.3)
    assert responses(dispatcher) == ["utter_callback_phone_invalid"]


# --- the window -----------------------------------------------------------------------------

WINDOWS = [
    ("morning", "morning"),
    ("afternoon", "afternoon"),
    ("any time", "any time"),
    ("mornings", "morning"),
    ("Morning pls", "morning"),
    ("before 12", "morning"),
    ("before noon", "morning"),
    ("10am", "morning"),
    ("10.30am", "morning"),
    ("around 11", "morning"),
    ("tmrw morning", "morning"),
    ("first thing", "morning"),
    ("after lunch", "afternoon"),
    ("3pm", "afternoon"),
    ("14:30", "afternoon"),
    ("after 2", "afternoon"),
    ("about 3", "afternoon"),
    ("afternoons are best", "afternoon"),
    ("whenever", "any time"),
    ("dont mind", "any time"),
    ("don\u2019t mind", "any time"),
    ("any", "any time"),
    ("anytime", "any time"),
    ("either", "any time"),
    ("no preference", "any time"),
    ("not fussed mate", "any time"),
    ("asap", "any time"),
    ("morning or afternoon", "any time"),
    ("before 3pm", "any time"),
    ("after 10am", "any time"),
]


@pytest.mark.parametrize(("text", "window"), WINDOWS)
def test_window_from_free_text(text: str, window: str) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize("text", ["", "banana", "tonight", "9pm", "after 7pm", "tomorrow", None])
def test_window_not_understood(text: str | None) -> None:
    assert parse_window(text) is None


def test_the_window_buttons_send_what_the_parser_reads() -> None:
    buttons = DOMAIN["responses"]["utter_ask_callback_window"][0]["buttons"]
    assert [parse_window(b["payload"]) for b in buttons] == ["morning", "afternoon", "any time"]
    assert all(not b["payload"].startswith("/") for b in buttons)


def test_a_window_is_kept(on_duty: None, store: str, dispatcher: CollectingDispatcher) -> None:
    # "morning" is also a greeting: the answer wins over the intent
    events = validate("callback_window", "morning", dispatcher, intent="greet")
    assert slot_events(events) == {"callback_window": "morning"}
    assert dispatcher.messages == []


def test_an_unclear_window_is_asked_again_once(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("callback_window", "hmm", dispatcher)
    assert slot_events(events) == {"callback_window": None}
    assert responses(dispatcher) == ["utter_callback_window_not_understood"]


def test_a_second_unclear_window_means_any_time(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    earlier = [said("utter_callback_window_not_understood")]
    events = validate("callback_window", "hmm", dispatcher, earlier=earlier)
    assert slot_events(events) == {"callback_window": "any time"}
    assert dispatcher.messages == []


def test_cancel_at_the_window_deletes_the_draft(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    save_draft(store)
    events = validate(
        "callback_window",
        "forget it",
        dispatcher,
        intent="cancel",
        slots={"callback_phone": "ending 123"},
    )
    assert responses(dispatcher) == ["utter_callback_cancelled", hs.LINES_WITH_CRYSIS]
    assert ends_form(events)
    assert rows(store) == []


# --- consent ----------------------------------------------------------------------------------


def test_the_consent_question_names_the_hint_the_window_and_office_hours() -> None:
    text = DOMAIN["responses"]["utter_ask_callback_consent"][0]["text"]
    assert "{callback_phone}" in text and "{callback_window}" in text
    assert "office hours" in text


def test_yes_gives_consent(on_duty: None, store: str, dispatcher: CollectingDispatcher) -> None:
    events = validate("callback_consent", True, dispatcher, intent="affirm")
    assert slot_events(events) == {"callback_consent": True}
    assert dispatcher.messages == []


def test_a_typed_yes_gives_consent(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("callback_consent", "yeah go on then", dispatcher, intent="thank")
    assert slot_events(events) == {"callback_consent": True}


@pytest.mark.parametrize(("answer", "intent"), [(False, "deny"), ("cancel it", "nlu_fallback")])
def test_no_cancels_and_deletes_the_draft(
    answer: Any, intent: str, off_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    save_draft(store)
    events = validate("callback_consent", answer, dispatcher, intent=intent)
    assert responses(dispatcher) == ["utter_callback_cancelled", hs.LINES]
    assert ends_form(events)
    assert rows(store) == []


def test_an_unclear_consent_is_asked_again_then_no_call(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    save_draft(store)
    events = validate("callback_consent", "hmm dunno", dispatcher, intent="nlu_fallback")
    assert slot_events(events) == {"callback_consent": None}
    assert responses(dispatcher) == ["utter_callback_consent_not_understood"]

    again = CollectingDispatcher()
    earlier = [said("utter_callback_consent_not_understood")]
    events = validate("callback_consent", "hmm", again, intent="nlu_fallback", earlier=earlier)
    assert responses(again) == ["utter_callback_no_clear_yes", hs.LINES_WITH_CRYSIS]
    assert ends_form(events)
    assert rows(store) == []


# --- submitting -------------------------------------------------------------------------------


def submit(
    dispatcher: CollectingDispatcher, consent: Any = True, window: str | None = "morning"
) -> list[dict[str, Any]]:
    slots = {"callback_phone": "ending 123", "callback_window": window, "callback_consent": consent}
    tracker = message_tracker(intent="affirm", text="yes", slots=slots, metadata=TELEGRAM)
    return run(ActionSubmitCallback(), dispatcher, tracker)


RESET = [SlotSet(slot, None) for slot in hs.CALLBACK_SLOTS]


def test_submit_books_the_call_and_confirms_with_the_ref(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    save_draft(store)
    assert submit(dispatcher, window="afternoon") == RESET
    assert responses(dispatcher) == ["utter_callback_confirmed", hs.LINES_WITH_CRYSIS]
    confirm = dispatcher.messages[0]
    assert re.fullmatch(r"CB-[A-Z2-9]{6}", confirm["ref"])
    assert confirm["phone_hint"] == "ending 123"
    assert confirm["window"] == "in the afternoon"
    [row] = rows(store)
    assert row.status == "open" and row.window == "afternoon" and row.ref == confirm["ref"]
    assert row.consent_at.replace(tzinfo=timezone.utc) == WEDNESDAY_10AM
    [opened] = support.open_callbacks(url=store)
    assert opened["phone"] == NUMBER_DIGITS  # the operators can read it, nobody else


def test_submit_off_duty_says_when_they_will_ring(
    off_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    save_draft(store)
    submit(dispatcher, window="any time")
    assert responses(dispatcher) == ["utter_callback_confirmed_off_duty", hs.LINES]
    assert dispatcher.messages[0]["next_opening"] == "tomorrow at 9am"
    assert dispatcher.messages[0]["window"] == "as soon as they can"
    assert rows(store)[0].window == "any"


@pytest.mark.parametrize("consent", [None, False])
def test_without_a_yes_nothing_is_booked_and_the_slots_reset(
    consent: Any, on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    save_draft(store)
    assert submit(dispatcher, consent=consent) == RESET
    assert dispatcher.messages == []
    assert rows(store)[0].status == "draft"


def test_submit_without_a_draft_apologises(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    assert submit(dispatcher) == RESET
    assert responses(dispatcher) == ["utter_callback_store_failed", hs.LINES_WITH_CRYSIS]


def test_submit_store_failure_apologises_and_never_crashes(
    on_duty: None, unreachable_store: str, dispatcher: CollectingDispatcher
) -> None:
    assert submit(dispatcher) == RESET
    assert responses(dispatcher) == ["utter_callback_store_failed", hs.LINES_WITH_CRYSIS]


# --- the whole form, call after call ------------------------------------------------------------


def test_a_whole_call_back_from_number_to_booking(
    off_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    phone = validate("callback_phone", "07700 900 123", dispatcher)
    window = validate(
        "callback_window", "after lunch", dispatcher, slots=slot_events(phone), intent="greet"
    )
    consent = validate(
        "callback_consent",
        True,
        dispatcher,
        intent="affirm",
        slots=slot_events(phone) | slot_events(window),
    )
    assert slot_events(consent) == {"callback_consent": True}
    assert dispatcher.messages == []
    booked = CollectingDispatcher()
    submit(booked, window=slot_events(window)["callback_window"])
    assert booked.messages[0]["window"] == "in the afternoon"
    assert rows(store)[0].status == "open"


# --- cancelling a booked call back -------------------------------------------------------------


def test_cancel_outside_the_form_cancels_his_booked_call_and_wipes_the_number(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    save_draft(store)
    booked = support.submit_callback(pseudonymise(SENDER_ID), "any", url=store)
    support.save_callback_draft("someone-else", "07700900222", url=store)
    support.submit_callback("someone-else", "any", url=store)
    tracker = message_tracker(intent="cancel", text="cancel my call back")
    assert run(ActionCancelCallback(), dispatcher, tracker) == []
    assert responses(dispatcher) == ["utter_callback_booked_cancelled"]
    assert dispatcher.messages[0]["ref"] == booked["ref"]
    mine = [r for r in rows(store) if r.ref == booked["ref"]]
    assert [(r.status, r.phone_enc) for r in mine] == [("cancelled", None)]
    assert [c["phone"] for c in support.open_callbacks(url=store)] == ["07700900222"]


def test_cancel_with_nothing_booked_says_so(
    on_duty: None, store: str, dispatcher: CollectingDispatcher
) -> None:
    run(ActionCancelCallback(), dispatcher, message_tracker(intent="cancel", text="forget it"))
    assert responses(dispatcher) == ["utter_callback_nothing_to_cancel"]


def test_cancel_with_the_database_down_apologises(
    on_duty: None, dispatcher: CollectingDispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **kwargs: Any) -> list[str]:
        raise OSError("database unreachable")

    monkeypatch.setattr(support, "cancel_open_callbacks", down)
    run(ActionCancelCallback(), dispatcher, message_tracker(intent="cancel", text="cancel"))
    assert responses(dispatcher) == ["utter_callback_cancel_failed"]
