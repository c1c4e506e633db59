"""SafetyPolicy: answers a tier first, even inside a form, and closes the form."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.safety.policy import SAFETY_POLICY_PRIORITY, SafetyPolicy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain"))


@pytest.fixture
def policy(tmp_path: Path) -> SafetyPolicy:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    return SafetyPolicy.create(
        SafetyPolicy.get_default_config(), storage, Resource("safety_policy"), context
    )


def tracker(domain: Domain, intent: str, in_form: bool) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen")]
    if in_form:
        events += [
            ActionExecuted("baby_age_form"),
            ActiveLoop("baby_age_form"),
            SlotSet("requested_slot", "baby_age_weeks"),
            ActionExecuted("action_listen"),
        ]
    events.append(UserUttered("...", intent={"name": intent, "confidence": 1.0}))
    return DialogueStateTracker.from_events("someone", events, slots=domain.slots)


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


def test_stays_silent_after_it_has_answered(policy: SafetyPolicy, domain: Domain) -> None:
    t = tracker(domain, "safety_emergency", in_form=False)
    t.update(ActionExecuted("utter_safety_emergency"))
    assert best(policy.predict_action_probabilities(t, domain), domain) is None
