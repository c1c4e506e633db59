"""The safety layer across turns: what a message means right after a safety reply.

Pure and testable without Rasa. ``recent_tier(turns)`` finds the safety reply the conversation is
still in (within ``max_turns`` messages and ``max_minutes``); ``FollowUps.kind(...)`` says how the
new message follows it up:

- after an emergency: ``settled`` ("he's breathing again") gets the follow-up (still get checked,
  999 if not called); anything else that is not a goodbye or a clear other question, ``waiting``
  ("what do i do", "they haven't answered") gets 999 again and what to do while waiting;
- after any other tier: ``followup`` for a message that continues the same worry ("is there
  anywhere for blokes" after the abuse reply), judged by the intent model's guess: unsure, or a
  topic related to that tier (``context.related`` in patterns.yml);
- ``None``: answered as itself (a goodbye, a greeting, a confident question about something
  else, or "i was just asking").

Rules live in patterns.yml under ``context`` and use the safety layer's own pattern language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spacy.matcher import Matcher

from bot.safety.tiers import Tier

OTHER_LANGUAGE = "other_language"
SETTLED = "settled"
WAITING = "waiting"
FOLLOWUP = "followup"


@dataclass(frozen=True)
class Turn:
    """One earlier user message, as the context needs it: its safety tier and when."""

    tier: Tier | None
    timestamp: float
    who: str | None = None


@dataclass(frozen=True)
class Context:
    """The safety reply the conversation is still in."""

    tier: Tier
    turns_ago: int
    who: str | None = None


class FollowUps:
    """Compiled from the ``context`` section of patterns.yml by a SafetyClassifier."""

    def __init__(self, spec: dict[str, Any], classifier: Any) -> None:
        self.max_turns = int(spec.get("max_turns", 3))
        self.max_seconds = 60.0 * float(spec.get("max_minutes", 30))
        self.closing = frozenset(spec.get("closing_intents") or ())
        self.closing_confidence = float(spec.get("closing_confidence", 0.7))
        other = spec.get("other_topic_confidence", 0.6)
        if not isinstance(other, dict):
            other = {t.value: other for t in Tier}
        self.other_topic_confidence = {Tier(t): float(v) for t, v in other.items()}
        every = frozenset(spec.get("related_to_every_tier") or ())
        related = spec.get("related") or {}
        self.related = {t: frozenset(related.get(t.value) or ()) | every for t in Tier}
        self._classifier = classifier
        self._settled = self._matcher(spec.get("settled") or [], "context settled")
        self._not_now = self._matcher(spec.get("not_now") or [], "context not_now")

    def _matcher(self, patterns: Iterable[str], where: str) -> Matcher:
        matcher = Matcher(self._classifier.nlp.vocab, validate=self._classifier.validate)
        compiled = [v for p in patterns for v in self._classifier.compile_pattern(p, where)]
        if compiled:
            matcher.add(where, compiled)
        return matcher

    def recent_tier(self, turns: list[Turn], now: float) -> Context | None:
        """The latest safety tier among the last ``max_turns`` user messages, if recent."""
        for ago, turn in enumerate(reversed(turns[-self.max_turns :]), start=1):
            if turn.tier is None:
                continue
            if now - turn.timestamp > self.max_seconds:
                return None
            return Context(turn.tier, ago, turn.who)
        return None

    def kind(
        self, text: str, context: Context, intent: str | None, confidence: float
    ) -> str | None:
        """How ``text`` (with no safety tier of its own) follows up ``context``, if it does."""
        doc = self._classifier._doc(text)
        if self._not_now(doc):
            return None
        if intent == OTHER_LANGUAGE:
            # written in another language: the 999 card in it after an emergency, else its card
            return WAITING if context.tier is Tier.EMERGENCY else None
        if intent in self.closing and confidence >= self.closing_confidence:
            return None
        related = self.related.get(context.tier, frozenset())
        if (
            intent
            and intent not in related
            and not intent.startswith("safety_")
            and confidence >= self.other_topic_confidence.get(context.tier, 0.6)
        ):
            return None
        if context.tier is Tier.EMERGENCY:
            return SETTLED if self._settled(doc) else WAITING
        return FOLLOWUP


def turns_from_events(events: Iterable[Any]) -> list[Turn]:
    """The user messages of a Rasa tracker (events or their dicts), oldest first."""
    turns = []
    for event in events:
        data = event if isinstance(event, dict) else None
        if data is None:
            if getattr(event, "type_name", None) != "user":
                continue
            parse = getattr(event, "parse_data", None) or {}
            stamp = float(getattr(event, "timestamp", 0) or 0)
        else:
            if data.get("event") != "user":
                continue
            parse = data.get("parse_data") or {}
            stamp = float(data.get("timestamp") or 0)
        safety = parse.get("safety") or {}
        tier = None
        if safety.get("tier"):
            try:
                tier = Tier(safety["tier"])
            except ValueError:
                tier = None
        turns.append(Turn(tier, stamp, safety.get("who")))
    return turns
