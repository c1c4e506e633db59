"""The baby's age: parsed from free text, turned into a stage, used to pick crying advice."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.store.pseudonym import pseudonymise
from bot.store.repository import save_baby_stage

logger = logging.getLogger(__name__)

EXPECTING = -1.0
MAX_WEEKS = 104.0  # the bot is for babies under two
PLAIN_NUMBER_MAX_WEEKS = 52.0  # a bare number is read as weeks only up to a year
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

_WEEKS_PER = {
    "year": 365.25 / 7,
    "month": 365.25 / 12 / 7,
    "fortnight": 2.0,
    "week": 1.0,
    "day": 1 / 7,
    "hour": 1 / 168,
}
# Larger units first: "1 month 2 weeks" adds up, "6 weeks ... 3 weeks" does not.
_UNIT_ORDER = list(_WEEKS_PER)

# Longer spellings before their prefixes. Single letters only straight after a number ("6w").
_UNIT_PATTERNS = {
    "year": r"years?|yrs?|(?<=\d)y",
    "month": r"months?|mont?hs?|mnths?|mths?|mons?|mos?|(?<=\d)m",
    "fortnight": r"fortnights?",
    "week": r"weeks?|weeeks?|weks?|wks?|(?<=\d)w",
    "day": r"days?|dys?|(?<=\d)d",
    "hour": r"hours?|hrs?|(?<=\d)h",
}
_UNIT_RE = "|".join(f"(?P<{unit}>{pattern})" for unit, pattern in _UNIT_PATTERNS.items())
_NUM = r"\d+(?:\.\d+)?"
_AMOUNT_RE = re.compile(
    rf"(?P<n1>{_NUM})(?:\s*(?:-|to|or)\s*(?P<n2>{_NUM}))?\s*(?P<half1>and a half\s*)?"
    rf"(?:{_UNIT_RE})\b(?P<half2>\s+and a half\b)?"
)

_UNITS_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_SMALL_WORDS = {
    **_UNITS_WORDS,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_UNIT_START = r"(?=(?:week|wk|month|mth|mnth|day|year|yr|fortnight|hour|hr))"

_EXPECTING_RE = re.compile(
    r"\bpreg\w*"  # pregnant, preggers, pregant
    r"|\bexpecting\b|\bunborn\b|\btrimester\b|\bbump\b|\bweeks? gone\b"
    r"|\bon (?:the|its|his|her) way\b"
    r"|\b(?:not|isn'?t|hasn'?t|aren'?t|haven'?t)\s+(?:(?:yet|even|been)\s+)?(?:born|arrived|here)\b"
    # "the missus is 34 weeks": the partner, not the baby, has the weeks
    r"|\b(?:missus|mrs|wife|partner|gf|girlfriend|fiancee?)(?:'?s|\s+is)?\s+"
    r"(?:about\s+|nearly\s+|almost\s+|now\s+)?\d+\s*(?:weeks?|wks?)\b"
)
_DUE_RE = re.compile(r"\bdue\b(?!\s+to\b)")
_BORN_OR_OLD_RE = re.compile(r"\b(?:born|old)\b")
_NEWBORN_RE = re.compile(
    r"\bnew\s*born\b|\bjust (?:been )?born\b|\bborn (?:today|this morning|tonight|last night)\b"
    r"|\bjust arrived\b|\bjust had (?:him|her|the baby|our baby|a baby)\b"
)
_BORN_YESTERDAY_RE = re.compile(r"\bborn yesterday\b")
_BORN_THIS_WEEK_RE = re.compile(
    r"\bborn (?:on )?(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\b"
    r"|\bborn this week\b|\bborn (?:at|on) the weekend\b|\bborn the other day\b"
    r"|\b(?:a )?few days\b"
)
_BORN_LAST_WEEK_RE = re.compile(r"\bborn last week\b")
# Gestation at birth is not the baby's age: "born at 34 weeks", "3 weeks early".
_GESTATION_RE = re.compile(
    rf"\bborn at {_NUM}\s*(?:weeks?|wks?)\b|\b{_NUM}\s*(?:weeks?|wks?)\s+(?:early|prem\w*)\b"
)
_PLAIN_NUMBER_RE = re.compile(
    rf"^(?:about|around|nearly|almost|roughly|approx|~)?\s*(?P<n>{_NUM})\s*[.!?]*$"
)


def _normalise(text: str) -> str:
    """Lower case, straight apostrophes, number words as digits."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    t = t.replace("\u00bd", " and a half ")
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"\bhalf an? ", "0.5 ", t)
    t = re.sub(r"\b(?:an? )?couple(?: of)? ", "2 ", t)
    tens = "|".join(_TENS_WORDS)
    units = "|".join(_UNITS_WORDS)
    t = re.sub(
        rf"\b({tens})[\s-]({units})\b",
        lambda m: str(_TENS_WORDS[m.group(1)] + _UNITS_WORDS[m.group(2)]),
        t,
    )
    t = re.sub(
        rf"\b({'|'.join([*_SMALL_WORDS, *_TENS_WORDS])})\b",
        lambda m: str({**_SMALL_WORDS, **_TENS_WORDS}[m.group(1)]),
        t,
    )
    return re.sub(rf"\ban? {_UNIT_START}", "1 ", t)


def _amounts(t: str) -> float | None:
    """Add up "<number> <unit>" parts, largest unit first ("1 month 2 weeks")."""
    total: float | None = None
    last_rank = -1
    for match in _AMOUNT_RE.finditer(t):
        unit = next(u for u in _UNIT_ORDER if match.group(u))
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:
            break  # same or larger unit again: a second, unrelated number
        low = float(match.group("n1"))
        high = float(match.group("n2")) if match.group("n2") else low
        amount = (low + high) / 2
        if match.group("half1") or match.group("half2"):
            amount += 0.5
        total = (total or 0.0) + amount * _WEEKS_PER[unit]
        last_rank = rank
    return total


def parse_baby_age_weeks(text: str | None) -> float | None:
    """The baby's age in weeks from a free-text answer; -1.0 when still expecting.

    None when it cannot be read, or the age is 2 years or more (the bot is for babies under 2).
    """
    if not text or not isinstance(text, str):
        return None
    t = _normalise(text)
    if _EXPECTING_RE.search(t) or (_DUE_RE.search(t) and not _BORN_OR_OLD_RE.search(t)):
        return EXPECTING

    weeks = _amounts(_GESTATION_RE.sub(" ", t))
    if weeks is None:
        if _NEWBORN_RE.search(t):
            weeks = 0.0
        elif _BORN_YESTERDAY_RE.search(t):
            weeks = 1 / 7
        elif _BORN_THIS_WEEK_RE.search(t):
            weeks = 3 / 7
        elif _BORN_LAST_WEEK_RE.search(t):
            weeks = 1.0
        elif match := _PLAIN_NUMBER_RE.match(t):
            weeks = float(match.group("n"))
            if weeks > PLAIN_NUMBER_MAX_WEEKS:
                return None  # "60" could be days or weeks: ask again
    if weeks is None or not math.isfinite(weeks) or not 0 <= weeks <= MAX_WEEKS:
        return None
    return round(weeks, 1)


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
