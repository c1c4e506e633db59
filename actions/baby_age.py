"""The baby's age: parsed from free text, turned into a stage, used to pick crying advice."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.parsing.age import EXPECTING, MAX_WEEKS, parse_baby_age_weeks
from bot.store.pseudonym import pseudonymise
from bot.store.repository import save_baby_stage

logger = logging.getLogger(__name__)

STAGES = ("expecting", "newborn", "early_weeks", "peak_crying", "settling", "older")
SKIPPED = "skipped"
# intents whose own answer is better than insisting on the age question
NOT_AN_INTERRUPTION = {"tell_baby_age", "set_baby_age", "nlu_fallback", "affirm", "deny"}
INTERRUPTION_MIN_CONFIDENCE = 0.6
# intents whose answer is not called utter_<intent> (see data/rules/general.yml)
RESPONSE_FOR_INTENT = {"ask_capabilities": "utter_capabilities", "bot_challenge": "utter_iamabot"}
_SKIP = re.compile(
    r"^\W*(no|nah|nope|skip|stop|cancel|never ?mind|not now|leave it|rather not|no thanks|"
    r"no ta|dont want to|don't want to|forget it|dunno|don't know|dont know|not sure)\b",
    re.IGNORECASE,
)


def baby_stage(weeks: float) -> str:
    """Stage names used by the crying responses (utter_crying_stage_<stage>)."""
    if weeks < 0:
        return "expecting"
    if weeks < 2:
        return "newborn"
    if weeks < 6:
        return "early_weeks"
    if weeks <= 8:
        return "peak_crying"  # crying usually peaks around 6 to 8 weeks
    if weeks < 16:
        return "settling"
    return "older"


def _weeks_from_slot(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        if number == EXPECTING or 0 <= number <= MAX_WEEKS:
            return round(number, 1)
        return None
    return parse_baby_age_weeks(value if isinstance(value, str) else None)


def _save_stage(sender_id: str, stage: str) -> None:
    save_baby_stage(pseudonymise(sender_id), stage)


def _skipped() -> dict[str, Any]:
    return {"baby_age_weeks": SKIPPED, "baby_stage": SKIPPED}


def _times_not_understood(tracker: Tracker) -> int:
    """How often we have already said "didn't catch that" since the form last started."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == "baby_age_form":
            break
        metadata = event.get("metadata") or {}
        if event.get("event") == "bot" and (
            metadata.get("utter_action") == "utter_baby_age_not_understood"
        ):
            count += 1
    return count


class ValidateBabyAgeForm(FormValidationAction):
    """Reads the free-text age answer; asks again when it cannot be understood."""

    def name(self) -> str:
        return "validate_baby_age_form"

    async def validate_baby_age_weeks(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        text = tracker.latest_message.get("text") or ""
        intent = tracker.latest_message.get("intent") or {}
        weeks = _weeks_from_slot(slot_value)
        if weeks is None and _SKIP.match(text):
            dispatcher.utter_message(response="utter_no_problem")
            return _skipped()
        if weeks is None:
            name = intent.get("name")
            response = RESPONSE_FOR_INTENT.get(name, f"utter_{name}")
            if (
                name not in NOT_AN_INTERRUPTION
                and response in (domain.get("responses") or {})
                and (intent.get("confidence") or 0) >= INTERRUPTION_MIN_CONFIDENCE
            ):
                # a real question asked instead of an age: answer it and drop the form
                dispatcher.utter_message(response=response)
                return _skipped()
            if _times_not_understood(tracker) >= 1:
                dispatcher.utter_message(response="utter_baby_age_give_up")
                return _skipped()
            dispatcher.utter_message(response="utter_baby_age_not_understood")
            return {"baby_age_weeks": None}
        stage = baby_stage(weeks)
        try:
            await asyncio.to_thread(_save_stage, tracker.sender_id, stage)
        except Exception as error:  # storage must not break the form
            logger.warning("Could not save baby stage (%s)", type(error).__name__)
        return {"baby_age_weeks": weeks, "baby_stage": stage}


class ActionCryingByAge(Action):
    """Crying advice for the baby's stage, or the general answer when we don't know it."""

    def name(self) -> str:
        return "action_crying_by_age"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        stage = tracker.get_slot("baby_stage")
        if stage in STAGES:
            dispatcher.utter_message(response=f"utter_crying_stage_{stage}")
        elif stage != SKIPPED:
            dispatcher.utter_message(response="utter_ask_crying_normal")
        # forget the free-text answer (the stage is enough) so the form can be asked again
        events = [SlotSet("baby_age_weeks", None)]
        if stage == SKIPPED:
            events.append(SlotSet("baby_stage", None))
        return events
