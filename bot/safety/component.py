"""Rasa NLU component: runs the safety layer on every message and overrides the intent.

It sits last in the NLU pipeline (config.yml), after DIET and the FallbackClassifier, so its
verdict is final. A tier found by the rules (or their statistical back-up) becomes the intent
`safety_<tier>` with confidence 1.0; the rules in data/rules/safety.yml then answer it with a
fixed response. A safety intent guessed by DIET alone is kept only when it is very confident,
otherwise it is replaced by the next ordinary intent, so one model quirk cannot send 999
replies to ordinary questions. If the patterns cannot be loaded, loading the model fails: the
server never runs without its safety layer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.content.helplines import is_open_now
from bot.safety.classifier import SafetyClassifier, default_classifier
from bot.safety.tiers import SAFETY_INTENTS, Tier

SAFETY_KEY = "safety"
CRYSIS_OPEN_ENTITY = "crysis_open"
FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyTierClassifier(GraphComponent):
    """Tags each message with its risk tier and makes the tier the intent."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # keep a safety intent predicted by DIET alone only at or above this confidence
            "model_only_min_confidence": 0.9,
        }

    def __init__(self, config: dict[str, Any], classifier: SafetyClassifier | None = None):
        self.config = {**self.get_default_config(), **config}
        self.classifier = classifier or default_classifier()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafetyTierClassifier:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message, now: datetime | None = None) -> None:
        text = message.get(TEXT) or ""
        result = self.classifier.classify(text)
        intent = message.get(INTENT) or {}
        tier = result.tier
        if tier is None and intent.get(INTENT_NAME_KEY) in SAFETY_INTENTS:
            if (intent.get(PREDICTED_CONFIDENCE_KEY) or 0) >= self.config[
                "model_only_min_confidence"
            ]:
                tier = Tier.from_intent(intent[INTENT_NAME_KEY])
            else:
                self._demote_model_guess(message)
        if tier is not None:
            self._set_intent(message, tier)
            if tier is Tier.EDGE:
                self._add_entity(message, CRYSIS_OPEN_ENTITY, is_open_now("crysis", now))
        message.set(
            SAFETY_KEY,
            {
                "tier": tier.value if tier else None,
                "tiers": [t.value for t in result.tiers],
                "rules": list(result.rules),
            },
            add_to_output=True,
        )

    @staticmethod
    def _set_intent(message: Message, tier: Tier) -> None:
        chosen = {INTENT_NAME_KEY: tier.intent, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [
            r
            for r in (message.get(INTENT_RANKING_KEY) or [])
            if r.get(INTENT_NAME_KEY) != tier.intent
        ]
        message.set(INTENT, chosen, add_to_output=True)
        message.set(
            INTENT_RANKING_KEY, [chosen, *ranking][:LABEL_RANKING_LENGTH], add_to_output=True
        )

    @staticmethod
    def _demote_model_guess(message: Message) -> None:
        """Replace an unconfirmed safety guess by the best ordinary intent (or fallback)."""
        ranking = [
            r
            for r in (message.get(INTENT_RANKING_KEY) or [])
            if r.get(INTENT_NAME_KEY) not in SAFETY_INTENTS
        ]
        best = ranking[0] if ranking else None
        if best is None or best.get(INTENT_NAME_KEY) == FALLBACK_INTENT:
            best = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, dict(best), add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    @staticmethod
    def _add_entity(message: Message, name: str, value: bool) -> None:
        entities = [e for e in (message.get(ENTITIES) or []) if e.get("entity") != name]
        entities.append(
            {
                "entity": name,
                "value": value,
                "start": 0,
                "end": 0,
                "confidence_entity": 1.0,
                "extractor": SafetyTierClassifier.__name__,
            }
        )
        message.set(ENTITIES, entities, add_to_output=True)
