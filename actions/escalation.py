"""Counts safety replies per tier, so we can see how often each kind of crisis comes up."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.safety.tiers import Tier
from bot.store.pseudonym import pseudonymise
from bot.store.repository import record_escalation

logger = logging.getLogger(__name__)


def _record(sender_id: str, tier: Tier) -> None:
    record_escalation(pseudonymise(sender_id), tier.value)


class ActionRecordEscalation(Action):
    """Records the tier of the latest safety intent. Never fails the conversation."""

    def name(self) -> str:
        return "action_record_escalation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message or {}).get("intent") or {}
        tier = Tier.from_intent(intent.get("name"))
        if tier is None:
            return []
        try:
            # Off the event loop: a slow database must not hold up other conversations.
            await asyncio.to_thread(_record, tracker.sender_id, tier)
        except Exception as error:  # a safety reply must never be blocked
            # Only the error class: messages can carry connection details or user text.
            logger.warning("Could not record escalation (%s)", type(error).__name__)
        return []
