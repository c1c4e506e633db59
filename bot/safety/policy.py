"""A small dialogue policy that answers a safety tier before anything else can run.

Rasa runs an active form before consulting rules, and a form calls the action server to
validate its slot. With the action server down, an emergency typed in the middle of a form
would be swallowed. This policy pre-empts that: when the latest user intent is a safety tier,
it plays the turn itself, in a fixed order, and closes any open form first:

1. the tier's reply (``utter_safety_<tier>``), or, when the safety layer read the message as a
   follow-up of an earlier safety reply (``safety.followup``), that tier's follow-up reply
   (after an emergency: what to do while waiting, or the "still get checked" follow-up); a 999
   message written in another language gets the 999 card in that language;
2. ``action_record_escalation`` (tier and time only) after a fresh tier reply;
3. the answer to the question the message also asked (``safety.question``), if any;
4. listening again.

Every step is a plain response or one custom action whose failure changes nothing: the reply
never waits for the action server, the database or the intent model.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActiveLoop,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.content.topics import load_topics
from bot.safety.context import SETTLED, WAITING
from bot.safety.tiers import Tier

# RulePolicy has 6; predictions that ignore user input (like a running form) compete with us
# only among themselves, so we must both mark ours that way and outrank them.
SAFETY_POLICY_PRIORITY = 7
RECORD_ACTION = "action_record_escalation"
LANGUAGE_ENTITY = "language"
FOREIGN_EMERGENCY_RESPONSE = "utter_other_language_emergency"
# Actions Rasa runs by itself after every message; they are not part of the plan.
BOOKKEEPING = frozenset({"action_extract_slots", "action_session_start", ACTION_LISTEN_NAME})


def first_response(tier: Tier, followup: str | None, language: str | None) -> str:
    """The reply that opens the turn for a message tagged with ``tier``."""
    if tier is Tier.EMERGENCY and language:
        return FOREIGN_EMERGENCY_RESPONSE
    if followup == WAITING:
        return "utter_emergency_while_waiting"
    if followup == SETTLED:
        return "utter_emergency_followup"
    if followup:
        return f"utter_{tier.value}_followup"
    return tier.response


def policy_responses() -> set[str]:
    """Every response this policy can utter that no rule or story names (for validation)."""
    names = {FOREIGN_EMERGENCY_RESPONSE, "utter_emergency_while_waiting"}
    names |= {f"utter_{tier.value}_followup" for tier in Tier if tier is not Tier.EMERGENCY}
    return names


def plan_for(tier: Tier, safety: dict[str, Any], language: str | None) -> list[str]:
    """The actions of the turn, in order (before listening again)."""
    followup = safety.get("followup")
    steps = [first_response(tier, followup, language)]
    if not followup:
        steps.append(RECORD_ACTION)
    topic = load_topics().get(safety.get("question") or "")
    if topic is not None and not language:
        steps.append(topic.action)
    return steps


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True
)
class SafetyPolicy(Policy):
    """Plays the turn after a message tagged with a safety tier (see the module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": SAFETY_POLICY_PRIORITY}

    def train(
        self,
        training_trackers: list[TrackerWithCachedStates],
        domain: Domain,
        **kwargs: Any,
    ) -> Resource:
        # Nothing to learn: the behaviour is fixed. Persist an empty resource so Rasa can load it.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        message = tracker.latest_message
        tier = Tier.from_intent((message.intent or {}).get(INTENT_NAME_KEY) if message else None)
        if tier is None:
            return self._prediction(probabilities)
        known = set(domain.action_names_or_texts)
        safety = (message.parse_data or {}).get("safety") or {}
        plan = [a for a in plan_for(tier, safety, self._language(message)) if a in known]
        done = self._done_this_turn(tracker)
        if not plan or plan[: len(done)] != done:
            return self._prediction(probabilities)  # something else is running: stand aside
        following = plan[len(done)] if len(done) < len(plan) else ACTION_LISTEN_NAME
        probabilities[domain.index_for_action(following)] = 1.0
        closing = (
            [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
            if not done and tracker.active_loop_name
            else []
        )
        return self._prediction(probabilities, optional_events=closing, is_no_user_prediction=True)

    @staticmethod
    def _language(message: UserUttered) -> str | None:
        for entity in message.entities or []:
            if entity.get("entity") == LANGUAGE_ENTITY and entity.get("value"):
                return str(entity["value"])
        return None

    @staticmethod
    def _done_this_turn(tracker: DialogueStateTracker) -> list[str]:
        """Actions run (or refused) since the latest user message, bookkeeping left out."""
        done: list[str] = []
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                break
            name = None
            if isinstance(event, ActionExecuted):
                name = event.action_name
            elif isinstance(event, ActionExecutionRejected):
                name = event.action_name  # a refused step counts as done: never loop on it
            if name and name not in BOOKKEEPING:
                done.append(name)
        return list(reversed(done))
