"""Rasa NLU component: runs the safety layer on every message and overrides the intent.

It sits last in the NLU pipeline (config.yml), after the intent classifier and the
FallbackClassifier, so its verdict is final. A tier found by the rules (or their statistical
back-up) becomes the intent `safety_<tier>` with confidence 1.0; the SafetyPolicy then answers it
with a fixed response. A safety intent guessed by the intent model alone is kept only when it is
very confident, otherwise it is replaced by the next ordinary intent, so one model quirk cannot
send 999 replies to ordinary questions.

It also reads the conversation so far (Rasa passes the tracker to NLU components that ask for
it): right after a safety reply, a message with no red flag of its own may still follow it up
(bot/safety/context.py): "what do i do" after the 999 reply is tagged as the emergency again,
with ``followup: waiting``. The model's ``emergency_followup`` guess is only believed after an
emergency reply. In a long message, the question beside the red flag is kept (``question``) so the
policy answers it after the safety reply. If the patterns cannot be loaded, loading the model
fails: the server never runs without its safety layer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.shared.core.trackers import DialogueStateTracker
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
from bot.content.topics import question_topics
from bot.safety.classifier import SafetyClassifier, default_classifier
from bot.safety.context import turns_from_events
from bot.safety.tiers import SAFETY_INTENTS, Tier

# A milder medical sign right after the 999 reply ("she's very sleepy now") is part of that
# emergency; any other tier ("i want to end it") gets its own reply.
ABSORBED_BY_EMERGENCY = frozenset({Tier.URGENT, Tier.MATERNITY})
SAFETY_KEY = "safety"
CRYSIS_OPEN_ENTITY = "crysis_open"
WHO_ENTITY = "emergency_who"
KIND_ENTITY = "safety_kind"
FALLBACK_INTENT = "nlu_fallback"
EMERGENCY_FOLLOWUP_INTENT = "emergency_followup"
# A question beside a red flag is answered after the safety reply when the message is long enough
# to hold both, and the intent model is this sure of the question.
QUESTION_MIN_WORDS = 14
QUESTION_MIN_CONFIDENCE = 0.15
# A follow-up to a safety reply can ask something practical of its own ("the lady on the phone
# says start cpr, i dont know how"): answered after the follow-up when the model is this sure.
FOLLOWUP_QUESTION_MIN_WORDS = 4
FOLLOWUP_QUESTION_MIN_CONFIDENCE = 0.4
# Topics a tier's own reply already covers: no second answer about the same thing.
COVERED_BY_TIER: dict[Tier, frozenset[str]] = {
    Tier.EDGE: frozenset({"ask_icon", "ask_anger_coping", "ask_shaking_dangers", "dad_stressed"}),
    Tier.SELF_HARM: frozenset({"dad_low_mood", "ask_support_services", "faq/dad_depression"}),
    Tier.ABUSE: frozenset({"relationship_strain"}),
    Tier.URGENT: frozenset({"ask_crying_illness", "faq/temperature_fever"}),
    Tier.MATERNITY: frozenset({"faq/pregnancy_warning_signs", "faq/labour_signs"}),
}


def _absorbed(tier: Tier, context: Tier) -> bool:
    return context is Tier.EMERGENCY and tier in ABSORBED_BY_EMERGENCY


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SafetyTierClassifier(GraphComponent):
    """Tags each message with its risk tier and makes the tier the intent."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # keep a safety intent predicted by the intent model alone only at or above this
            "model_only_min_confidence": 0.9,
            # a demoted guess falls back when the next intent is less sure than this (as the
            # FallbackClassifier, which ran before the demotion)
            "fallback_threshold": 0.15,
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

    def process(
        self, messages: list[Message], tracker: DialogueStateTracker | None = None
    ) -> list[Message]:
        for message in messages:
            self._process(message, tracker)
        return messages

    def _process(
        self,
        message: Message,
        tracker: DialogueStateTracker | None = None,
        now: datetime | None = None,
    ) -> None:
        text = message.get(TEXT) or ""
        result = self.classifier.classify(text)
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        topic = intent.get("full_retrieval_intent_name") or name  # faq/<key>, not "faq"
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0)
        tier, who, kind, followup = result.tier, result.who, result.kind, None
        if tracker is not None and not text.startswith("/"):
            # right after a safety reply, a message with no red flag of its own (or a milder
            # one: "she's very sleepy now" after the 999 reply) follows that reply up
            followups = self.classifier.followups
            turns = turns_from_events(tracker.events)
            context = followups.recent_tier(turns, (now or datetime.now()).timestamp())
            if context is not None and (tier is None or _absorbed(tier, context.tier)):
                followup = followups.kind(text, context, topic, confidence)
                if followup:
                    tier, who, kind = context.tier, context.who, None
        if tier is None and name in SAFETY_INTENTS:
            if confidence >= self.config["model_only_min_confidence"]:
                tier = Tier.from_intent(name)
            else:
                self._demote_model_guess(message)
        elif tier is None and name == EMERGENCY_FOLLOWUP_INTENT:
            # "is he ok now" means something only right after an emergency reply
            self._demote_model_guess(message)
        question = None
        if tier is not None:
            question = self._question(message, tier, text, followup=bool(followup))
            self._set_intent(message, tier)
            if tier is Tier.EDGE:
                self._add_entity(message, CRYSIS_OPEN_ENTITY, is_open_now("crysis", now))
            if tier is Tier.EMERGENCY and who:
                self._add_entity(message, WHO_ENTITY, who)
            if not followup:
                self._add_entity(message, KIND_ENTITY, kind or "none")
        message.set(
            SAFETY_KEY,
            {
                "tier": tier.value if tier else None,
                "tiers": [t.value for t in result.tiers],
                "rules": list(result.rules),
                "who": who,
                "kind": kind,
                "followup": followup,
                "question": question,
            },
            add_to_output=True,
        )

    @staticmethod
    def _question(message: Message, tier: Tier, text: str, followup: bool = False) -> str | None:
        """The topic a message also asks about, to answer after the safety reply.

        A first red flag needs a long message to hold a question too; a follow-up to a safety
        reply may be short, but the model must be surer of its topic.
        """
        min_words = FOLLOWUP_QUESTION_MIN_WORDS if followup else QUESTION_MIN_WORDS
        min_confidence = FOLLOWUP_QUESTION_MIN_CONFIDENCE if followup else QUESTION_MIN_CONFIDENCE
        if len(text.split()) < min_words:
            return None
        topics = question_topics()
        covered = COVERED_BY_TIER.get(tier, frozenset())
        for entry in message.get(INTENT_RANKING_KEY) or []:
            key = entry.get("full_retrieval_intent_name") or entry.get(INTENT_NAME_KEY)
            if key in SAFETY_INTENTS or key == FALLBACK_INTENT:
                continue
            if (entry.get(PREDICTED_CONFIDENCE_KEY) or 0) < min_confidence:
                return None
            return key if key in topics and key not in covered else None
        return None

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

    def _demote_model_guess(self, message: Message) -> None:
        """Replace an unconfirmed safety guess by the best ordinary intent (or fallback).

        The emergency follow-up is never the replacement: it only means something after an
        emergency reply, which the context has already ruled out.
        """
        excluded = SAFETY_INTENTS | {EMERGENCY_FOLLOWUP_INTENT}
        ranking = [
            r
            for r in (message.get(INTENT_RANKING_KEY) or [])
            if r.get(INTENT_NAME_KEY) not in excluded
        ]
        best = ranking[0] if ranking else None
        if (
            best is None
            or best.get(INTENT_NAME_KEY) == FALLBACK_INTENT
            or (best.get(PREDICTED_CONFIDENCE_KEY) or 0) < self.config["fallback_threshold"]
        ):
            best = {
                INTENT_NAME_KEY: FALLBACK_INTENT,
                PREDICTED_CONFIDENCE_KEY: float(self.config["fallback_threshold"]),
            }
        message.set(INTENT, dict(best), add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    @staticmethod
    def _add_entity(message: Message, name: str, value: bool | str) -> None:
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
