from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.baby_age import (
    STAGES,
    ActionCryingByAge,
    ValidateBabyAgeForm,
    baby_stage,
    parse_baby_age_weeks,
)
from bot.store.pseudonym import pseudonymise
from bot.store.repository import get_profile
from tests.actions.conftest import BABY_AGE_DOMAIN, SENDER_ID, form_tracker, make_tracker

# --- the parser ---------------------------------------------------------------------------

PARSED = [
    # the examples from the brief
    ("6 weeks", 6.0),
    ("6wks", 6.0),
    ("3 months", 13.0),
    ("2 mths", 8.7),
    ("10 days", 1.4),
    ("a week", 1.0),
    ("two weeks", 2.0),
    ("1 month 2 weeks", 6.3),
    ("newborn", 0.0),
    ("just born", 0.0),
    ("2 days old", 0.3),
    ("6", 6.0),
    # how dads actually type it
    ("hes 6 weeks", 6.0),
    ("she's 3 months old", 13.0),
    ("She\u2019s 7 Weeks", 7.0),
    ("SIX WEEKS", 6.0),
    ("2 wks", 2.0),
    ("6 weks", 6.0),
    ("6w", 6.0),
    ("3m", 13.0),
    ("10d", 1.4),
    ("8 weeks tomorrow", 8.0),
    ("just turned 4 months", 17.4),
    ("shes nearly 5 months", 21.7),
    ("4 wks on friday", 4.0),
    ("hes a month old", 4.3),
    ("twins 5 weeks old", 5.0),
    ("lo is 12 weeks", 12.0),
    ("3 and a half months", 15.2),
    ("3\u00bd months", 15.2),
    ("a month and a half", 6.5),
    ("my daughter is 16 days", 2.3),
    ("twenty one days", 3.0),
    ("a couple of weeks", 2.0),
    ("a fortnight old", 2.0),
    ("7 month old", 30.4),
    ("1 year 3 months", 65.2),
    ("2 weeks 3 days", 2.4),
    ("6-8 weeks", 7.0),
    ("6 or 7 weeks", 6.5),
    ("he's 12 hours old", 0.1),
    ("he was born yesterday", 0.1),
    ("born on monday", 0.4),
    ("a few days old", 0.4),
    ("she was born last week", 1.0),
    ("born 3 weeks ago", 3.0),
    ("shes a newborn", 0.0),
    ("about 10", 10.0),
    ("six", 6.0),
    ("18 months", 78.3),
    ("100 weeks", 100.0),
    # gestation at birth is not the age
    ("born at 34 weeks now 6 weeks old", 6.0),
    ("6 weeks old born 3 weeks early", 6.0),
    ("crying due to colic, 6 weeks", 6.0),
    ("not sure born 3 weeks ago", 3.0),
]

EXPECTING = [
    "not born yet",
    "due in march",
    "expecting",
    "pregnant",
    "30 weeks pregnant",
    "partners 30 weeks pregnant",
    "were expecting in july",
    "babys due in 3 weeks",
    "due in a fortnight",
    "still pregnant 20 weeks",
    "missus is 34 weeks",
    "the wife's thirty weeks",
    "shes preggers",
    "baby hasnt arrived yet",
    "not even born",
    "due next month",
]

REJECTED = [
    "",
    "   ",
    "hello",
    "dunno",
    "60",  # a bare number over a year: days or weeks?
    "-3",
    "105 weeks",
    "2 years",
    "3 years old",
    "a few weeks",
    "he cries at 3am",
    "born 3 weeks early",
]


@pytest.mark.parametrize(("text", "weeks"), PARSED)
def test_parses_ages(text: str, weeks: float) -> None:
    assert parse_baby_age_weeks(text) == weeks


@pytest.mark.parametrize("text", EXPECTING)
def test_expecting(text: str) -> None:
    assert parse_baby_age_weeks(text) == -1.0


@pytest.mark.parametrize("text", REJECTED)
def test_rejects(text: str) -> None:
    assert parse_baby_age_weeks(text) is None


def test_rejects_non_text() -> None:
    assert parse_baby_age_weeks(None) is None
    assert parse_baby_age_weeks(6) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("weeks", "stage"),
    [
        (-1, "expecting"),
        (0, "newborn"),
        (1.9, "newborn"),
        (2, "early_weeks"),
        (5.9, "early_weeks"),
        (6, "peak_crying"),
        (8, "peak_crying"),
        (8.1, "settling"),
        (15.9, "settling"),
        (16, "older"),
        (104, "older"),
    ],
)
def test_stages(weeks: float, stage: str) -> None:
    assert baby_stage(weeks) == stage
    assert stage in STAGES


# --- the form validation action -----------------------------------------------------------


def validate(
    answer: Any, dispatcher: CollectingDispatcher, domain: dict[str, Any] | None = None, **kw: Any
) -> list[dict[str, Any]]:
    tracker = form_tracker(answer, **kw)
    return asyncio.run(ValidateBabyAgeForm().run(dispatcher, tracker, domain or BABY_AGE_DOMAIN))


def test_form_name() -> None:
    assert ValidateBabyAgeForm().name() == "validate_baby_age_form"


def test_valid_age_sets_slots_and_saves_stage(
    store_url: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("hes 7 wks", dispatcher)
    assert SlotSet("baby_age_weeks", 7.0) in events
    assert SlotSet("baby_stage", "peak_crying") in events
    assert dispatcher.messages == []
    profile = get_profile(pseudonymise(SENDER_ID), url=store_url)
    assert profile is not None and profile["baby_stage"] == "peak_crying"
    assert get_profile(SENDER_ID, url=store_url) is None  # raw id never stored


def test_expecting_sets_expecting_stage(store_url: str, dispatcher: CollectingDispatcher) -> None:
    events = validate("not born yet, due in march", dispatcher)
    assert SlotSet("baby_age_weeks", -1.0) in events
    assert SlotSet("baby_stage", "expecting") in events


def test_numeric_slot_value_is_accepted(store_url: str, dispatcher: CollectingDispatcher) -> None:
    events = validate(3, dispatcher)
    assert SlotSet("baby_stage", "early_weeks") in events


def test_unreadable_age_asks_again(store_url: str, dispatcher: CollectingDispatcher) -> None:
    events = validate("purple banana", dispatcher, intent="nlu_fallback")
    assert SlotSet("baby_age_weeks", None) in events
    assert all(e.get("name") != "baby_stage" for e in events)
    assert [m["response"] for m in dispatcher.messages] == ["utter_baby_age_not_understood"]
    assert get_profile(pseudonymise(SENDER_ID), url=store_url) is None


def test_storage_failure_does_not_break_the_form(
    unreachable_store: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate("10 days", dispatcher)
    assert SlotSet("baby_age_weeks", 1.4) in events
    assert SlotSet("baby_stage", "newborn") in events


# --- crying advice by age -----------------------------------------------------------------


def crying(stage: str | None, dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    tracker = make_tracker(intent="ask_crying_normal", slots={"baby_stage": stage})
    return asyncio.run(ActionCryingByAge().run(dispatcher, tracker, {}))


def test_crying_name() -> None:
    assert ActionCryingByAge().name() == "action_crying_by_age"


@pytest.mark.parametrize("stage", STAGES)
def test_crying_by_stage(stage: str, dispatcher: CollectingDispatcher) -> None:
    # the free-text answer is cleared so the dad can give a new age later; the stage stays
    assert crying(stage, dispatcher) == [SlotSet("baby_age_weeks", None)]
    assert [m["response"] for m in dispatcher.messages] == [f"utter_crying_stage_{stage}"]


def test_crying_after_skip_says_nothing_and_resets(dispatcher: CollectingDispatcher) -> None:
    events = crying("skipped", dispatcher)
    assert dispatcher.messages == []
    assert events == [SlotSet("baby_age_weeks", None), SlotSet("baby_stage", None)]


@pytest.mark.parametrize("answer", ["no", "nah skip it", "not now", "stop", "dunno mate"])
def test_dad_can_skip_the_age_question(
    answer: str, store_url: str, dispatcher: CollectingDispatcher
) -> None:
    events = validate(answer, dispatcher, intent="deny")
    assert SlotSet("baby_stage", "skipped") in events
    assert [m["response"] for m in dispatcher.messages] == ["utter_no_problem"]


def test_a_question_instead_of_an_age_is_answered(
    store_url: str, dispatcher: CollectingDispatcher
) -> None:
    domain = {**BABY_AGE_DOMAIN, "responses": {"utter_ask_colic": [{"text": "colic"}]}}
    events = validate("what is colic", dispatcher, domain=domain, intent="ask_colic")
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_colic"]
    assert SlotSet("baby_stage", "skipped") in events


def test_an_unsure_question_is_not_taken_as_an_interruption(
    store_url: str, dispatcher: CollectingDispatcher
) -> None:
    domain = {**BABY_AGE_DOMAIN, "responses": {"utter_ask_colic": [{"text": "colic"}]}}
    validate("bla colic", dispatcher, domain=domain, intent="ask_colic", confidence=0.3)
    assert [m["response"] for m in dispatcher.messages] == ["utter_baby_age_not_understood"]


def test_second_unreadable_answer_gives_up_kindly(
    store_url: str, dispatcher: CollectingDispatcher
) -> None:
    said_once = {
        "event": "bot",
        "text": "Sorry, I didn't catch that.",
        "metadata": {"utter_action": "utter_baby_age_not_understood"},
    }
    events = validate("purple banana", dispatcher, intent="nlu_fallback", earlier=[said_once])
    assert [m["response"] for m in dispatcher.messages] == ["utter_baby_age_give_up"]
    assert SlotSet("baby_stage", "skipped") in events


@pytest.mark.parametrize("stage", [None, "toddler"])
def test_crying_without_known_stage(stage: str | None, dispatcher: CollectingDispatcher) -> None:
    assert crying(stage, dispatcher) == [SlotSet("baby_age_weeks", None)]
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_crying_normal"]


def test_asking_what_the_bot_can_do_mid_form_gets_the_topics(
    store_url: str, dispatcher: CollectingDispatcher
) -> None:
    domain = {**BABY_AGE_DOMAIN, "responses": {"utter_capabilities": [{"text": "topics"}]}}
    validate("what can u do", dispatcher, domain=domain, intent="ask_capabilities")
    assert [m["response"] for m in dispatcher.messages] == ["utter_capabilities"]
