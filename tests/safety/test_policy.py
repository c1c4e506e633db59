"""SafetyPolicy: answers a tier first, even inside a form, closes the form, and plays the turn."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.safety.policy import SAFETY_POLICY_PRIORITY, SafetyPolicy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    """The domain as training builds it: with the `faq` retrieval intent and its utter_faq."""
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_dict(
        domain_path=str(ROOT / "domain"), training_data_paths=[str(ROOT / "data")]
    )
    return importer.get_domain()


@pytest.fixture
def policy(tmp_path: Path) -> SafetyPolicy:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    return SafetyPolicy.create(
        SafetyPolicy.get_default_config(), storage, Resource("safety_policy"), context
    )


def tracker(
    domain: Domain,
    intent: str,
    in_form: bool,
    safety: dict | None = None,
    entities: list | None = None,
) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen")]
    if in_form:
        events += [
            ActionExecuted("baby_age_form"),
            ActiveLoop("baby_age_form"),
            SlotSet("requested_slot", "baby_age_weeks"),
            ActionExecuted("action_listen"),
        ]
    parse = {"intent": {"name": intent, "confidence": 1.0}, "safety": safety or {}}
    events.append(
        UserUttered(
            "...",
            intent={"name": intent, "confidence": 1.0},
            entities=entities or [],
            parse_data=parse,
        )
    )
    return DialogueStateTracker.from_events("someone", events, slots=domain.slots)


def play(policy: SafetyPolicy, domain: Domain, t: DialogueStateTracker) -> list[str]:
    """Run the policy's turn to its end: the actions it predicts, in order."""
    done = []
    for _ in range(8):
        action = best(policy.predict_action_probabilities(t, domain), domain)
        if action is None or action == "action_listen":
            return done
        done.append(action)
        t.update(ActionExecuted(action))
    raise AssertionError(f"the turn never ends: {done}")


def best(prediction, domain: Domain) -> str | None:
    top = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return domain.action_names_or_texts[top] if prediction.probabilities[top] > 0 else None


def test_priority_beats_rules(policy: SafetyPolicy) -> None:
    assert policy.priority == SAFETY_POLICY_PRIORITY > 6


@pytest.mark.parametrize("tier", ["emergency", "edge", "self_harm"])
def test_answers_the_tier_and_closes_an_open_form(
    policy: SafetyPolicy, domain: Domain, tier: str
) -> None:
    prediction = policy.predict_action_probabilities(
        tracker(domain, f"safety_{tier}", in_form=True), domain
    )
    assert best(prediction, domain) == f"utter_safety_{tier}"
    assert prediction.is_no_user_prediction  # competes with (and beats) a running form
    assert ActiveLoop(None) in prediction.optional_events


def test_outside_a_form_there_is_nothing_to_close(policy: SafetyPolicy, domain: Domain) -> None:
    prediction = policy.predict_action_probabilities(
        tracker(domain, "safety_urgent", in_form=False), domain
    )
    assert best(prediction, domain) == "utter_safety_urgent"
    assert prediction.optional_events == []


def test_stays_silent_for_ordinary_intents(policy: SafetyPolicy, domain: Domain) -> None:
    prediction = policy.predict_action_probabilities(
        tracker(domain, "ask_colic", in_form=True), domain
    )
    assert best(prediction, domain) is None


def test_the_turn_is_the_reply_then_the_record_then_listening(
    policy: SafetyPolicy, domain: Domain
) -> None:
    t = tracker(domain, "safety_emergency", in_form=False)
    assert play(policy, domain, t) == ["utter_safety_emergency", "action_record_escalation"]
    assert best(policy.predict_action_probabilities(t, domain), domain) == "action_listen"


def test_a_refused_record_does_not_loop(policy: SafetyPolicy, domain: Domain) -> None:
    t = tracker(domain, "safety_edge", in_form=False)
    t.update(ActionExecuted("utter_safety_edge"))
    t.update(ActionExecutionRejected("action_record_escalation"))
    assert best(policy.predict_action_probabilities(t, domain), domain) == "action_listen"


def test_the_question_beside_the_red_flag_is_answered_after(
    policy: SafetyPolicy, domain: Domain
) -> None:
    t = tracker(
        domain, "safety_edge", False, safety={"tier": "edge", "question": "ask_feed_amount"}
    )
    assert play(policy, domain, t) == [
        "utter_safety_edge",
        "action_record_escalation",
        "utter_ask_feed_amount",
    ]
    faq = tracker(domain, "safety_urgent", False, {"tier": "urgent", "question": "faq/teething"})
    assert play(policy, domain, faq)[-1] == "utter_faq"


@pytest.mark.parametrize(
    ("intent", "followup", "reply"),
    [
        ("safety_emergency", "waiting", "utter_emergency_while_waiting"),
        ("safety_emergency", "settled", "utter_emergency_followup"),
        ("safety_self_harm", "followup", "utter_self_harm_followup"),
        ("safety_abuse", "followup", "utter_abuse_followup"),
        ("safety_maternity", "followup", "utter_maternity_followup"),
    ],
)
def test_a_follow_up_gets_its_reply_and_no_second_record(
    policy: SafetyPolicy, domain: Domain, intent: str, followup: str, reply: str
) -> None:
    t = tracker(domain, intent, False, safety={"followup": followup})
    assert play(policy, domain, t) == [reply]


def test_999_in_another_language_gets_the_card_in_that_language(
    policy: SafetyPolicy, domain: Domain
) -> None:
    polish = [{"entity": "language", "value": "pl", "start": 0, "end": 0}]
    t = tracker(domain, "safety_emergency", False, safety={"tier": "emergency"}, entities=polish)
    assert play(policy, domain, t) == ["utter_other_language_emergency", "action_record_escalation"]
