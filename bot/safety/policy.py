"""A tiny dialogue policy that answers a safety tier before anything else can run.

Rasa runs an active form before consulting rules, and a form calls the action server to
validate its slot. With the action server down, an emergency typed in the middle of a form
would be swallowed. This policy pre-empts that: when the latest user intent is a safety tier,
it predicts that tier's fixed response with the highest priority and closes any open form.
The rules in data/rules/safety.yml then record the escalation as usual.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.safety.tiers import Tier

# RulePolicy has 6; predictions that ignore user input (like a running form) compete with us
# only among themselves, so we must both mark ours that way and outrank them.
SAFETY_POLICY_PRIORITY = 7


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True
)
class SafetyPolicy(Policy):
    """Predicts `utter_safety_<tier>` right after a message tagged with a safety tier."""

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
        tier = self._tier_to_answer(tracker)
        if tier is None or tier.response not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(tier.response)] = 1.0
        closing = (
            [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)] if tracker.active_loop_name else []
        )
        return self._prediction(probabilities, optional_events=closing, is_no_user_prediction=True)

    @staticmethod
    def _tier_to_answer(tracker: DialogueStateTracker) -> Tier | None:
        if tracker.latest_action_name != ACTION_LISTEN_NAME:
            return None
        intent = (tracker.latest_message.intent or {}).get(INTENT_NAME_KEY)
        return Tier.from_intent(intent)
