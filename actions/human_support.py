"""Reaching a person: the offer, live chat, and the call-back form (docs/human-support.md).

What a dad is offered depends on what is really open now (bot.handoff.availability): live chat
only on Telegram while the team is on duty, a call back whenever operators are configured, and
always the 24/7 lines. The phone number he types is validated by bot.handoff.phone and stored
encrypted by bot.store.support at once; the `callback_phone` slot only ever keeps "ending 123".

The form mirrors the baby's-age form (actions/baby_age.py): "cancel" or "no" ends it at any
question, a real question asked instead of an answer is answered, and it gives up kindly after
repeated misses. Every way out of it ends with the 24/7 lines. Nothing here logs message text.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.baby_age import INTERRUPTION_MIN_CONFIDENCE, RESPONSE_FOR_INTENT
from bot.content.helplines import is_open_now
from bot.handoff.availability import SupportOptions, support_options
from bot.handoff.phone import find_uk_phone, hint, normalise_uk_phone
from bot.handoff.settings import HandoffConfigError, HandoffSettings, load_handoff_settings
from bot.store import support
from bot.store.pseudonym import pseudonymise

logger = logging.getLogger(__name__)

FORM = "callback_form"
REQUESTED_SLOT = "requested_slot"
PHONE, WINDOW, CONSENT = "callback_phone", "callback_window", "callback_consent"
CALLBACK_SLOTS = (PHONE, WINDOW, CONSENT)

LINES = "utter_human_support_lines"
LINES_WITH_CRYSIS = "utter_human_support_lines_crysis"
NEXT_OPENING_UNKNOWN = "in office hours"
PHONE_MISSES_BEFORE_GIVING_UP = 2  # two kind re-asks; the third miss ends the form
HANDOFF_START = {"handoff": "start"}

# Window slot values are what the buttons send; the store keeps its own short codes.
MORNING, AFTERNOON, ANY_TIME = "morning", "afternoon", "any time"
STORE_WINDOW = {MORNING: "morning", AFTERNOON: "afternoon", ANY_TIME: "any"}
WINDOW_PHRASE = {
    MORNING: "in the morning",
    AFTERNOON: "in the afternoon",
    ANY_TIME: "as soon as they can",
}

# Intents whose own answer is not better than the form's question: they are read as answers.
# (A greeting can be a window: "morning"; thanks or yes/no are answers to the form.)
NOT_AN_INTERRUPTION = {
    "request_callback",
    "request_human",
    "live_chat",
    "cancel",
    "affirm",
    "deny",
    "thank",
    "greet",
    "nlu_fallback",
    "tell_baby_age",
    "set_baby_age",
}
STOP_INTENTS = {"cancel", "deny"}

_STOP = re.compile(
    r"^\W*(?:cancel|stop|quit|abort|never ?mind|forget (?:it|that|about it)|scrap (?:it|that)|"
    r"no|nah|nope|no thanks|no ta|changed my mind|not now|nvm|leave it|dw|"
    r"(?:do ?n'?t|do not) (?:call|ring|phone|bother|want|need))\b",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\W*(?:yes|yeah|yea|yep|yup|ye|ya|aye|ok|okay|sure|go on|go ahead|please do|fine|"
    r"definitely|deffo|of course)\b",
    re.IGNORECASE,
)

# --- the call-back window, from buttons or free text --------------------------------------

_ANY_WORDS = re.compile(
    r"\b(?:any|anytime|whenever|when ?ever|either|both|all day|whatever|asap|"
    r"as soon as (?:possible|poss|you can|u can)|straight away|no preference|"
    r"(?:do ?n'?t|do not|doesn'?t|does not|dont) (?:mind|matter|care)|not fussed|not bothered|"
    r"easy|flexible)\b"
)
_MORNING_WORDS = re.compile(
    r"\b(?:morning|mornings|mornin|morn|am|a\.m|early|first thing|breakfast|"
    r"before (?:noon|midday|lunch|lunchtime|dinner))\b"
)
_AFTERNOON_WORDS = re.compile(
    r"\b(?:afternoon|afternoons|aftanoon|arvo|pm|p\.m|lunchtime|lunch time|"
    r"after (?:noon|midday|lunch|lunchtime|dinner))\b"
)
_BEFORE_AFTER_TIME = re.compile(
    r"\b(?P<word>before|by|until|till|til|after|from|past)\s+(?P<hour>\d{1,2})"
    r"(?:[:.](?P<minute>\d{2}))?\s*(?P<half>am|pm)?\b"
)
_CLOCK_TIME = re.compile(
    r"\b(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?\s*(?P<half>am|pm)\b"
    r"|\b(?P<hour24>\d{1,2})[:.](?P<minute24>\d{2})\b"
    r"|\b(?:at|around|about|bout|for)\s+(?P<hour_bare>\d{1,2})\b"
)


def _hour_24(hour: int, half: str | None) -> int | None:
    """A spoken hour as 0-23; a bare 1-6 is taken as the afternoon (nobody means 3am)."""
    if not 0 <= hour <= 24:
        return None
    if half == "am":
        return 0 if hour == 12 else hour
    if half == "pm":
        return hour if hour == 12 else hour + 12
    if 1 <= hour <= 6:
        return hour + 12
    return hour


def parse_window(text: str | None) -> str | None:
    """ "morning", "afternoon" or "any time" from a free-text answer; None when unclear.

    Office hours are daytime, so an evening or night time is not understood (asked again).
    """
    if not text or not isinstance(text, str):
        return None
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"\s+", " ", t).strip()
    morning = bool(_MORNING_WORDS.search(t))
    afternoon = bool(_AFTERNOON_WORDS.search(t))
    for match in _BEFORE_AFTER_TIME.finditer(t):
        hour = _hour_24(int(match.group("hour")), match.group("half"))
        if hour is None:
            continue
        if match.group("word") in ("before", "by", "until", "till", "til"):
            if hour <= 12:
                morning = True
            else:
                morning = afternoon = True  # "before 3pm": most of the day
        elif hour >= 18:
            continue  # "after 7pm": the evening, outside office hours
        elif hour >= 12:
            afternoon = True
        else:
            morning = afternoon = True  # "after 10am": the rest of the day
    if not (morning or afternoon):
        for match in _CLOCK_TIME.finditer(t):
            raw = match.group("hour") or match.group("hour24") or match.group("hour_bare")
            hour = _hour_24(int(raw), match.group("half"))
            if hour is None:
                continue
            if 7 <= hour < 12:
                morning = True
            elif 12 <= hour < 18:
                afternoon = True
    if morning and afternoon:
        return ANY_TIME
    if morning:
        return MORNING
    if afternoon:
        return AFTERNOON
    if _ANY_WORDS.search(t):
        return ANY_TIME
    return None


# --- what is open now ------------------------------------------------------------------------


def clock() -> datetime:
    """The current time (aware, UTC). Tests replace it to fix the time."""
    return datetime.now(timezone.utc)


_logged_config_errors: set[str] = set()


def _channel(tracker: Tracker) -> str | None:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    channel = metadata.get("channel") if isinstance(metadata, dict) else None
    return channel if isinstance(channel, str) else None


def _referral(tracker: Tracker) -> str | None:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    code = metadata.get("referral") if isinstance(metadata, dict) else None
    return code if isinstance(code, str) and 0 < len(code) <= 64 else None


def _lines_only(now: datetime) -> SupportOptions:
    """The 24/7 lines when nothing else can be worked out (Cry-sis only while it is open)."""
    try:
        crysis = ("crysis",) if is_open_now("crysis", now) else ()
    except Exception:  # the 24/7 lines must still go out
        crysis = ()
    return SupportOptions(
        live_chat=False,
        callback=False,
        on_duty=False,
        next_opening=None,
        lines=("nhs111", "samaritans", "shout", *crysis),
    )


def current_options(tracker: Tracker) -> SupportOptions:
    """What is open now for this dad. Broken operator settings mean the lines only."""
    now = clock()
    try:
        settings = load_handoff_settings()
    except HandoffConfigError as error:
        # The error names the setting and how to fix it; it never holds a dad's message.
        if str(error) not in _logged_config_errors:
            _logged_config_errors.add(str(error))
            logger.error("Human support is off, offering the 24/7 lines only: %s", error)
        settings = HandoffSettings()
    try:
        return support_options(settings, now, _channel(tracker))
    except Exception as error:  # an offer of help must never fail
        logger.error("Could not work out human support options (%s)", type(error).__name__)
        return _lines_only(now)


def utter_lines(dispatcher: CollectingDispatcher, options: SupportOptions) -> None:
    dispatcher.utter_message(response=LINES_WITH_CRYSIS if "crysis" in options.lines else LINES)


def utter_offer(dispatcher: CollectingDispatcher, options: SupportOptions) -> None:
    """The offer of what is open now (none without operators), then the lines."""
    if options.callback:
        if options.live_chat:
            dispatcher.utter_message(response="utter_human_support_live")
        elif options.on_duty:
            dispatcher.utter_message(response="utter_human_support_callback_only")
        else:
            dispatcher.utter_message(
                response="utter_human_support_off_duty",
                next_opening=options.next_opening or NEXT_OPENING_UNKNOWN,
            )
    utter_lines(dispatcher, options)


class ActionOfferHumanSupport(Action):
    """ "Talk to a person": live chat, a call back and the lines, as far as they are open."""

    def name(self) -> str:
        return "action_offer_human_support"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        utter_offer(dispatcher, current_options(tracker))
        return []


class ActionStartLiveChat(Action):
    """ "Chat with someone now": the Telegram front end takes over on {"handoff": "start"}."""

    def name(self) -> str:
        return "action_start_live_chat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        options = current_options(tracker)
        if options.live_chat:
            dispatcher.utter_message(json_message=dict(HANDOFF_START))
        else:  # another channel, or off duty: what is open instead
            utter_offer(dispatcher, options)
        return []


# --- the call-back form -----------------------------------------------------------------------


def _conversation_id(tracker: Tracker) -> str:
    return pseudonymise(tracker.sender_id)


def _times_said(tracker: Tracker, response: str) -> int:
    """How often a response was sent since the call-back form last started."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == FORM:
            break
        metadata = event.get("metadata") or {}
        if event.get("event") == "bot" and metadata.get("utter_action") == response:
            count += 1
    return count


def _end_form(slot: str) -> dict[str, Any]:
    """Clear the slot just asked and close the form (action_submit_callback then resets)."""
    return {slot: None, REQUESTED_SLOT: None}


async def _cancel_draft(tracker: Tracker) -> None:
    try:
        await asyncio.to_thread(support.cancel_callback_draft, _conversation_id(tracker))
    except Exception as error:  # the draft expires by itself; the dad still gets his answer
        logger.warning("Could not cancel call-back draft (%s)", type(error).__name__)


def _interruption_response(tracker: Tracker, domain: dict[str, Any]) -> str | None:
    """The response for a real question asked instead of an answer, as the age form does."""
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    if not name or name in NOT_AN_INTERRUPTION:
        return None
    response = RESPONSE_FOR_INTENT.get(name, f"utter_{name}")
    if response not in (domain.get("responses") or {}):
        return None
    if (intent.get("confidence") or 0) < INTERRUPTION_MIN_CONFIDENCE:
        return None
    return response


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _text(slot_value: Any, tracker: Tracker) -> str:
    if isinstance(slot_value, str):
        return slot_value
    return tracker.latest_message.get("text") or ""


class ValidateCallbackForm(FormValidationAction):
    """Phone number, best time and consent for a call back; never keeps the number in a slot."""

    def name(self) -> str:
        return "validate_callback_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if tracker.get_slot(REQUESTED_SLOT) is None:
            return await self._start(dispatcher, tracker)
        return await super().run(dispatcher, tracker, domain)

    async def _start(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[Any]:
        """The form is starting (Rasa validates before the first question).

        Call backs need operators. Without them, the form says so and closes at once (setting
        requested_slot to None): one rule (request_callback -> callback_form) then covers both
        cases, and no featurized slot or FollowupAction is needed to choose between two rules.
        """
        options = current_options(tracker)
        if not options.callback:
            dispatcher.utter_message(response="utter_callback_unavailable")
            utter_lines(dispatcher, options)
            return [SlotSet(REQUESTED_SLOT, None)]
        # answers left over from a form that a safety message closed: ask afresh
        events = [
            SlotSet(slot, None) for slot in CALLBACK_SLOTS if tracker.get_slot(slot) is not None
        ]
        # "can someone ring me on 07700 900456": don't ask for a number he has just given
        number = find_uk_phone((tracker.latest_message or {}).get("text") or "")
        if number is not None and await self._save_draft(number, tracker):
            events.append(SlotSet(PHONE, hint(number)))
        return events

    async def _save_draft(self, number: str, tracker: Tracker) -> bool:
        """Store the number encrypted at once; False (logged) when the store failed."""
        try:
            await asyncio.to_thread(
                support.save_callback_draft,
                _conversation_id(tracker),
                number,
                service_code=_referral(tracker),
                now=clock(),
            )
        except Exception as error:  # never a crash: the caller apologises
            logger.warning("Could not save call-back draft (%s)", type(error).__name__)
            return False
        return True

    async def _stop(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, response: str
    ) -> dict[str, Any]:
        """Cancel kindly: delete any draft, say so, give the lines, close the form."""
        await _cancel_draft(tracker)
        dispatcher.utter_message(response=response)
        utter_lines(dispatcher, current_options(tracker))
        return _end_form(slot)

    async def _answer_instead(
        self, slot: str, response: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """A real question instead of an answer: answer it and put the call back aside."""
        await _cancel_draft(tracker)
        dispatcher.utter_message(response=response)
        dispatcher.utter_message(response="utter_callback_paused")
        return _end_form(slot)

    async def validate_callback_phone(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        text = _text(slot_value, tracker)
        number = (normalise_uk_phone(text) or find_uk_phone(text)) if text else None
        if number is not None:
            if not await self._save_draft(number, tracker):
                dispatcher.utter_message(response="utter_callback_store_failed")
                utter_lines(dispatcher, current_options(tracker))
                return _end_form(PHONE)
            return {PHONE: hint(number)}
        if _intent(tracker) in STOP_INTENTS or _STOP.match(text):
            return await self._stop(PHONE, dispatcher, tracker, "utter_callback_cancelled")
        if response := _interruption_response(tracker, domain):
            return await self._answer_instead(PHONE, response, dispatcher, tracker)
        if _times_said(tracker, "utter_callback_phone_invalid") >= PHONE_MISSES_BEFORE_GIVING_UP:
            return await self._stop(PHONE, dispatcher, tracker, "utter_callback_phone_give_up")
        dispatcher.utter_message(response="utter_callback_phone_invalid")
        return {PHONE: None}

    async def validate_callback_window(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        text = _text(slot_value, tracker)
        window = parse_window(text)
        if window is not None:
            return {WINDOW: window}
        if _intent(tracker) in STOP_INTENTS or _STOP.match(text):
            return await self._stop(WINDOW, dispatcher, tracker, "utter_callback_cancelled")
        if response := _interruption_response(tracker, domain):
            return await self._answer_instead(WINDOW, response, dispatcher, tracker)
        if _times_said(tracker, "utter_callback_window_not_understood") >= 1:
            return {WINDOW: ANY_TIME}  # asked twice already: any time will do
        dispatcher.utter_message(response="utter_callback_window_not_understood")
        return {WINDOW: None}

    async def validate_callback_consent(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> dict[str, Any]:
        if slot_value is True:
            return {CONSENT: True}
        if slot_value is False:
            return await self._stop(CONSENT, dispatcher, tracker, "utter_callback_cancelled")
        text = _text(slot_value, tracker)
        if _STOP.match(text):
            return await self._stop(CONSENT, dispatcher, tracker, "utter_callback_cancelled")
        if _YES.match(text):
            return {CONSENT: True}
        if response := _interruption_response(tracker, domain):
            return await self._answer_instead(CONSENT, response, dispatcher, tracker)
        if _times_said(tracker, "utter_callback_consent_not_understood") >= 1:
            # no clear yes after asking twice: no call
            return await self._stop(CONSENT, dispatcher, tracker, "utter_callback_no_clear_yes")
        dispatcher.utter_message(response="utter_callback_consent_not_understood")
        return {CONSENT: None}


class ActionSubmitCallback(Action):
    """After the form: book the call back if he said yes, then forget the answers.

    Runs however the form ended (a cancel or a give-up also close it); only a consent of True
    books anything. The slots are always reset so the form can be used again.
    """

    def name(self) -> str:
        return "action_submit_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        reset = [SlotSet(slot, None) for slot in CALLBACK_SLOTS]
        if tracker.get_slot(CONSENT) is not True:
            return reset
        window = tracker.get_slot(WINDOW)
        if window not in STORE_WINDOW:
            window = ANY_TIME
        options = current_options(tracker)
        try:
            booked = await asyncio.to_thread(
                support.submit_callback,
                _conversation_id(tracker),
                STORE_WINDOW[window],
                now=clock(),
            )
        except Exception as error:  # never a crash: apologise and give the lines
            logger.warning("Could not submit call back (%s)", type(error).__name__)
            booked = None
        if booked is None:
            dispatcher.utter_message(response="utter_callback_store_failed")
        else:
            details = {
                "ref": booked["ref"],
                "phone_hint": booked.get("phone_hint") or tracker.get_slot(PHONE),
                "window": WINDOW_PHRASE[window],
            }
            if options.on_duty:
                dispatcher.utter_message(response="utter_callback_confirmed", **details)
            else:
                dispatcher.utter_message(
                    response="utter_callback_confirmed_off_duty",
                    next_opening=options.next_opening or NEXT_OPENING_UNKNOWN,
                    **details,
                )
        utter_lines(dispatcher, options)
        return reset


class ActionCancelCallback(Action):
    """ "Cancel my call back" outside the form: cancel what he booked (number wiped at once)."""

    def name(self) -> str:
        return "action_cancel_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        try:
            refs = await asyncio.to_thread(
                support.cancel_open_callbacks, _conversation_id(tracker), now=clock()
            )
        except Exception as error:  # never a crash: say so, he can try again or tell the team
            logger.warning("Could not cancel a call back (%s)", type(error).__name__)
            dispatcher.utter_message(response="utter_callback_cancel_failed")
            return []
        if refs:
            booked = ", ".join(refs)
            dispatcher.utter_message(response="utter_callback_booked_cancelled", ref=booked)
        else:
            dispatcher.utter_message(response="utter_callback_nothing_to_cancel")
        return []
