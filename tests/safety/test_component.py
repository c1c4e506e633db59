"""The Rasa NLU component: the tier becomes the intent; unconfirmed model guesses are demoted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.safety.component import SafetyTierClassifier
from tests.safety.conversation import tracker_after


@pytest.fixture(scope="module")
def component() -> SafetyTierClassifier:
    return SafetyTierClassifier({})


def message(text: str, intent: str = "greet", confidence: float = 0.8) -> Message:
    ranking = [
        {"name": intent, "confidence": confidence},
        {"name": "ask_colic", "confidence": 0.1},
        {"name": "nlu_fallback", "confidence": 0.05},
    ]
    return Message(
        data={
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": ranking,
        }
    )


def test_a_red_flag_overrides_the_intent(component: SafetyTierClassifier) -> None:
    msg = message("hes not breathing", intent="ask_soothing")
    component._process(msg)
    assert msg.get("intent") == {"name": "safety_emergency", "confidence": 1.0}
    assert msg.get("intent_ranking")[0]["name"] == "safety_emergency"
    assert msg.get("safety")["tier"] == "emergency"
    assert "not_breathing" in msg.get("safety")["rules"]


def test_an_ordinary_message_keeps_its_intent(component: SafetyTierClassifier) -> None:
    msg = message("how do i wind her", intent="ask_winding", confidence=0.7)
    component._process(msg)
    assert msg.get("intent") == {"name": "ask_winding", "confidence": 0.7}
    assert msg.get("safety")["tier"] is None


def test_an_unsure_model_guess_at_a_tier_is_demoted(component: SafetyTierClassifier) -> None:
    msg = message("what is colic exactly", intent="safety_urgent", confidence=0.5)
    msg.get("intent_ranking")[1]["confidence"] = 0.3
    component._process(msg)
    assert msg.get("intent")["name"] == "ask_colic"
    assert all(not r["name"].startswith("safety_") for r in msg.get("intent_ranking"))


def test_a_demoted_guess_falls_back_when_the_next_intent_is_unsure(
    component: SafetyTierClassifier,
) -> None:
    """The FallbackClassifier ran before the demotion, so the component applies its threshold."""
    msg = message("what is colic exactly", intent="safety_urgent", confidence=0.5)
    component._process(msg)  # ask_colic is next, at 0.1: below the 0.15 default
    assert msg.get("intent")["name"] == "nlu_fallback"


def test_the_emergency_follow_up_is_never_believed_without_an_emergency(
    component: SafetyTierClassifier,
) -> None:
    msg = message("is he ok now then", intent="emergency_followup", confidence=0.6)
    msg.get("intent_ranking")[1]["confidence"] = 0.3
    component._process(msg)
    assert msg.get("intent")["name"] == "ask_colic"
    assert msg.get("safety")["tier"] is None


def test_a_very_confident_model_guess_is_kept(component: SafetyTierClassifier) -> None:
    msg = message("zzz qqq", intent="safety_self_harm", confidence=0.97)
    component._process(msg)
    assert msg.get("intent")["name"] == "safety_self_harm"


@pytest.mark.parametrize(
    ("utc", "open_now"),
    [
        (datetime(2026, 1, 15, 10, 0, tzinfo=timezone.utc), True),  # 10:00 GMT
        (datetime(2026, 1, 15, 23, 0, tzinfo=timezone.utc), False),  # 23:00 GMT
        (datetime(2026, 7, 1, 8, 30, tzinfo=timezone.utc), True),  # 09:30 BST
        (datetime(2026, 7, 1, 21, 30, tzinfo=timezone.utc), False),  # 22:30 BST
    ],
)
def test_edge_tier_says_whether_crysis_is_open(
    component: SafetyTierClassifier, utc: datetime, open_now: bool
) -> None:
    msg = message("im going to lose it with him")
    component._process(msg, now=utc)
    assert msg.get("intent")["name"] == "safety_edge"
    entities = [e for e in msg.get("entities") if e["entity"] == "crysis_open"]
    assert [e["value"] for e in entities] == [open_now]


def test_the_partner_collapsing_is_an_emergency_worded_for_her(
    component: SafetyTierClassifier,
) -> None:
    msg = message("the missus has collapsed in the kitchen and shes not responding", "greet")
    component._process(msg)
    assert msg.get("safety")["tier"] == "emergency"
    who = [e["value"] for e in msg.get("entities") if e["entity"] == "emergency_who"]
    assert who == ["partner"]


def test_rough_handling_with_the_baby_fine_gets_the_checking_variant(
    component: SafetyTierClassifier,
) -> None:
    msg = message("i grabbed him way too hard getting his vest on, he seems ok now", "greet")
    component._process(msg)
    assert msg.get("safety")["tier"] == "edge"
    kinds = [e["value"] for e in msg.get("entities") if e["entity"] == "safety_kind"]
    assert kinds == ["check"]


def test_a_panicked_follow_up_after_999_is_the_emergency_again(
    component: SafetyTierClassifier,
) -> None:
    tracker = tracker_after("hes not breathing", "emergency")
    msg = message("what do i do", intent="ask_capabilities", confidence=0.4)
    component._process(msg, tracker)
    assert msg.get("intent")["name"] == "safety_emergency"
    assert msg.get("safety")["followup"] == "waiting"


def test_a_settled_follow_up_after_999_is_the_follow_up(component: SafetyTierClassifier) -> None:
    tracker = tracker_after("hes gone floppy", "emergency")
    msg = message("ok hes breathing normally again now", intent="emergency_followup")
    component._process(msg, tracker)
    assert msg.get("safety")["followup"] == "settled"


def test_a_clear_new_question_after_a_safety_reply_is_answered_as_itself(
    component: SafetyTierClassifier,
) -> None:
    tracker = tracker_after("i want to shake him", "edge")
    msg = message("thanks, that helped. night", intent="goodbye", confidence=0.9)
    component._process(msg, tracker)
    assert msg.get("safety")["tier"] is None and msg.get("intent")["name"] == "goodbye"


def test_an_old_safety_reply_is_no_context(component: SafetyTierClassifier) -> None:
    tracker = tracker_after("hes not breathing", "emergency", minutes_ago=120)
    msg = message("what do i do", intent="ask_capabilities", confidence=0.4)
    component._process(msg, tracker)
    assert msg.get("safety")["tier"] is None


def test_a_question_beside_a_red_flag_is_kept_for_after_the_safety_reply(
    component: SafetyTierClassifier,
) -> None:
    text = (
        "been trying to get him on the bottle all week, how much formula should a 10 week old "
        "have in a day. honestly im so close to shaking him tonight"
    )
    msg = message(text, intent="ask_feed_amount", confidence=0.6)
    component._process(msg)
    assert msg.get("safety")["tier"] == "edge"
    assert msg.get("safety")["question"] == "ask_feed_amount"


def test_a_practical_question_in_a_follow_up_is_answered_after_it(
    component: SafetyTierClassifier,
) -> None:
    tracker = tracker_after("hes not breathing", "emergency")
    msg = message("the lady on the phone says start cpr i dont know how", "faq", 0.6)
    msg.set(
        "intent_ranking",
        [{"name": "faq", "confidence": 0.6, "full_retrieval_intent_name": "faq/baby_cpr"}],
    )
    component._process(msg, tracker)
    assert msg.get("intent")["name"] == "safety_emergency"
    assert msg.get("safety")["followup"] == "waiting"
    assert msg.get("safety")["question"] == "faq/baby_cpr"


def test_a_follow_up_the_model_is_unsure_of_adds_no_answer(
    component: SafetyTierClassifier,
) -> None:
    tracker = tracker_after("hes not breathing", "emergency")
    msg = message("they still havent answered the phone", intent="ask_colic", confidence=0.3)
    component._process(msg, tracker)
    assert msg.get("safety")["followup"] == "waiting"
    assert msg.get("safety")["question"] is None


def test_another_tier_after_999_gets_its_own_reply(component: SafetyTierClassifier) -> None:
    tracker = tracker_after("hes not breathing", "emergency")
    msg = message("i want to end it all", intent="greet", confidence=0.3)
    component._process(msg, tracker)
    assert msg.get("safety")["tier"] == "self_harm" and msg.get("safety")["followup"] is None


def test_a_milder_sign_after_999_stays_part_of_the_emergency(
    component: SafetyTierClassifier,
) -> None:
    tracker = tracker_after("shes having a fit", "emergency")
    msg = message("its stopped now but shes really sleepy and floppy", intent="greet")
    component._process(msg, tracker)
    assert msg.get("safety")["tier"] == "emergency"
