"""Rasa NLU component: tags a message written in another language (bot/nlu/language.py).

It runs after the intent classifier and before the safety layer. A message in a supported language
gets the intent ``other_language`` (answered by its card, domain/languages.yml) and the entity
``language``; the safety layer still runs after it, so an emergency in that language is 999 first
(the SafetyPolicy then answers with the 999 card in that language). An English message the intent
model took for ``other_language`` is given its next guess instead.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
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

from bot.safety.classifier import SafetyClassifier, default_classifier

OTHER_LANGUAGE_INTENT = "other_language"
LANGUAGE_ENTITY = "language"
FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class LanguageTagger(GraphComponent):
    """Sets ``other_language`` and the ``language`` entity for a message not in English."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

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
    ) -> LanguageTagger:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        code = None if text.startswith("/") else self.classifier.language(text)
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        if code:
            chosen = {INTENT_NAME_KEY: OTHER_LANGUAGE_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            rest = [r for r in ranking if r.get(INTENT_NAME_KEY) != OTHER_LANGUAGE_INTENT]
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [chosen, *rest], add_to_output=True)
            entities = [
                e for e in (message.get(ENTITIES) or []) if e.get("entity") != LANGUAGE_ENTITY
            ]
            entities.append(
                {
                    "entity": LANGUAGE_ENTITY,
                    "value": code,
                    "start": 0,
                    "end": 0,
                    "confidence_entity": 1.0,
                    "extractor": type(self).__name__,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        elif (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == OTHER_LANGUAGE_INTENT:
            rest = [r for r in ranking if r.get(INTENT_NAME_KEY) != OTHER_LANGUAGE_INTENT]
            best = (
                rest[0]
                if rest
                else {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            )
            message.set(INTENT, dict(best), add_to_output=True)
            message.set(INTENT_RANKING_KEY, rest, add_to_output=True)
