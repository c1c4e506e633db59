"""The Rasa NLU component: the tier becomes the intent; unconfirmed model guesses are demoted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.safety.component import SafetyTierClassifier


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
    component._process(msg)
    assert msg.get("intent")["name"] == "ask_colic"
    assert all(not r["name"].startswith("safety_") for r in msg.get("intent_ranking"))


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
