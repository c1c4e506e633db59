"""Live chat with a service's operators: the dad's side and the life of a handoff session.

Rasa asks for a handoff with a custom reply ``{"handoff": "start"}`` (actions/human_support.py).
From then on the front end owns the chat: it asks whether the team may see his last messages,
posts a card in the operators' chat, pauses his Rasa conversation and relays his messages as
replies to the card, until he or an operator ends it or nobody answers in time. The safety
layer still reads every message he sends meanwhile. See docs/human-support.md.

What is kept: a row in sh_handoffs (times, outcome, keyed-hash ids, the Telegram chat id
encrypted and wiped at the end). Relayed text is never stored or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.content.helplines import is_open_now
from bot.safety.tiers import Tier
from bot.telegram.handlers import (
    FrontEnd,
    front_end,
    remove_keyboard,
    safety_check,
    sender_id,
    store_id,
)
from bot.telegram.outbox import OperatorOutbox, Priority
from bot.telegram.rendering import OWN_PREFIX, keyboard, split_text

logger = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
SHARE_YES = f"{OWN_PREFIX}live:share"
SHARE_NO = f"{OWN_PREFIX}live:noshare"
CANCEL = f"{OWN_PREFIX}live:cancel"
END = f"{OWN_PREFIX}live:end"
CALLBACK_PAYLOAD = "/request_callback"
HISTORY_MESSAGES = 5  # how many of his last messages the card shows, with his agreement
HISTORY_CHARS = 300  # each one cut to this length
RELAY_PIECE = 3000  # a dad's long message is passed on in pieces this long (room for an alert)
# How long his message waits for the safety layer (loading after a restart, say). Longer than
# for the trouble card: nothing else answers him in a live chat, so the check must happen.
LIVE_CHAT_CLASSIFY_TIMEOUT = 15.0
SWEEP_EVERY = 5.0  # seconds between checks for chats nobody picked up
PURGE_EVERY = 3600.0  # seconds between retention clean-ups
TIER_WORDS = {
    Tier.EMERGENCY: "an emergency",
    Tier.SELF_HARM: "thoughts of self-harm",
    Tier.EDGE: "a dad at the edge with a crying baby",
    Tier.ABUSE: "domestic abuse",
    Tier.HARM_BY_OTHER: "someone harming the baby",
    Tier.MATERNITY: "a pregnancy or after-birth warning sign",
    Tier.URGENT: "an urgent health worry",
}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def london_time(value: str | datetime | None) -> str:
    """'Mon 23 Nov 14:05' in London time (for operators)."""
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(LONDON).strftime("%a %d %b %H:%M")


def wants_handoff(replies: list[dict[str, Any]]) -> bool:
    """True when Rasa's replies include the custom ``{"handoff": "start"}`` message."""
    for reply in replies:
        custom = reply.get("custom")
        if isinstance(custom, dict) and custom.get("handoff") == "start":
            return True
    return False


def minutes(fe: FrontEnd) -> str:
    """The wait promised to him, in words: "1 minute", "5 minutes"."""
    count = max(1, round(fe.handoff.timeout_seconds / 60))
    return f"{count} minute" if count == 1 else f"{count} minutes"


def end_markup(fe: FrontEnd) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(fe.texts["handoff_end_button"], callback_data=END)]]
    )


def lines(fe: FrontEnd) -> str:
    return fe.texts.lines(crysis_open=is_open_now("crysis"))


async def db(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a bot.store call in a thread (SQLAlchemy is synchronous)."""
    return await asyncio.to_thread(function, *args, **kwargs)


# --- asking --------------------------------------------------------------------------------


async def ask_to_share_history(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    """Rasa offered live chat and he took it: first, may the team see his last messages?"""
    fe = front_end(context)
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(fe.texts["handoff_share_yes_button"], callback_data=SHARE_YES)],
            [InlineKeyboardButton(fe.texts["handoff_share_no_button"], callback_data=SHARE_NO)],
            [InlineKeyboardButton(fe.texts["handoff_cancel_button"], callback_data=CANCEL)],
        ]
    )
    await context.bot.send_message(chat_id, fe.texts["handoff_share_question"], reply_markup=markup)


async def on_live_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The dad's own live-chat buttons: share or not (then start), cancel, end chat."""
    fe = front_end(context)
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    if query is None or user is None or chat is None:
        return
    await query.answer()
    await remove_keyboard(update)
    if query.data == CANCEL:
        await context.bot.send_message(chat.id, fe.texts["handoff_cancelled"])
    elif query.data == END:
        await end_by_dad(context, user.id, chat.id)
    elif query.data in (SHARE_YES, SHARE_NO):
        await start_live_chat(context, user.id, chat.id, share_history=query.data == SHARE_YES)


# --- starting --------------------------------------------------------------------------------


async def start_live_chat(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, chat_id: int, share_history: bool
) -> None:
    """Open a session, post the card to the operators, pause Rasa, tell him what happens next."""
    from bot.store import support

    fe = front_end(context)
    settings = fe.handoff
    if not settings.on_duty(now_utc()) or settings.operator_chat_id is None:
        await context.bot.send_message(chat_id, f"{fe.texts['handoff_unavailable']}\n\n{lines(fe)}")
        return
    conversation = store_id(user_id)
    session: dict[str, Any] | None = None
    try:
        existing = await db(support.get_open_handoff, conversation, url=fe.database_url)
        if existing is not None:
            text = fe.texts.render("handoff_already", ref=existing["ref"])
            await context.bot.send_message(chat_id, text, reply_markup=end_markup(fe))
            return
        code = context.user_data.get("referral") if context.user_data is not None else None
        session = await db(
            support.open_handoff,
            conversation,
            chat_id,
            service_code=code,
            share_history=share_history,
            timeout_seconds=settings.timeout_seconds,
            url=fe.database_url,
        )
        card = await build_card(fe, session, user_id, code)
    except Exception as exc:  # the database: he must still get people to talk to
        logger.error("Could not start a live chat: %s", type(exc).__name__)
        if session is not None:
            with contextlib.suppress(Exception):
                await db(support.end_handoff, session["ref"], "system", url=fe.database_url)
        await context.bot.send_message(chat_id, f"{fe.texts['handoff_failed']}\n\n{lines(fe)}")
        return
    ref = session["ref"]
    await fe.rasa.set_paused(sender_id(user_id), True)
    logger.info("Live chat %s requested", ref)
    waiting = fe.texts.render("handoff_waiting", ref=ref, minutes=minutes(fe))
    try:
        await context.bot.send_message(chat_id, waiting, reply_markup=end_markup(fe))
    finally:
        # Queued after he is told, so a card that fails at once is explained after, not before.
        operators_outbox(fe).post(
            card,
            priority=Priority.CARD,
            ref=ref,
            card=True,
            on_sent=partial(card_posted, fe, ref),
            on_failed=partial(card_failed, context.application, fe, ref, user_id, chat_id),
        )


async def card_posted(fe: FrontEnd, ref: str, message: Message) -> None:
    """Remember the card's message id, so a restart still threads his messages under it."""
    from bot.store import support

    await db(support.set_card_message, ref, message.message_id, url=fe.database_url)


async def card_failed(
    application: Application,
    fe: FrontEnd,
    ref: str,
    user_id: int,
    chat_id: int,
    _exc: BaseException,
) -> None:
    """The card could not be posted: end the session, give him back the bot and the lines."""
    from bot.store import support

    dropped = operators_outbox(fe).discard(ref)
    with contextlib.suppress(Exception):
        await db(support.end_handoff, ref, "system", url=fe.database_url)
    await fe.rasa.set_paused(sender_id(user_id), False)
    logger.error("Live chat %s could not reach the operators (%d posts dropped)", ref, dropped)
    with contextlib.suppress(TelegramError):
        await application.bot.send_message(chat_id, f"{fe.texts['handoff_failed']}\n\n{lines(fe)}")


async def build_card(fe: FrontEnd, session: dict[str, Any], user_id: int, code: str | None) -> str:
    """The operators' card: reference, service, time, tiers seen, his last messages if agreed."""
    from bot.store import support

    tiers = await db(support.tiers_seen, session["conversation_id"], url=fe.database_url)
    if session["share_history"]:
        recent = await recent_messages(fe, user_id)
        quoted = "\n".join(f"> {text}" for text in recent) or "> (none yet)"
        history = f"{fe.texts['op_history_shared']}\n{quoted}"
    else:
        history = fe.texts["op_history_not_shared"]
    return fe.texts.render(
        "op_card",
        ref=session["ref"],
        service=fe.services.get(code or "", fe.texts["op_no_service"]),
        time=london_time(session["created_at"]),
        tiers=", ".join(tiers) if tiers else fe.texts["op_no_tiers"],
        history=history,
        name=fe.handoff.display_name,
    )


async def recent_messages(fe: FrontEnd, user_id: int) -> list[str]:
    """His last few typed messages from Rasa's tracker (numbers already redacted there)."""
    try:
        store = await asyncio.to_thread(fe.tracker_store)
        tracker = await store.retrieve(sender_id(user_id))
    except Exception as exc:
        logger.warning("Could not read recent messages for a card: %s", type(exc).__name__)
        return []
    if tracker is None:
        return []
    texts = [
        str(event.text).strip()
        for event in tracker.events
        if getattr(event, "type_name", "") == "user"
        and isinstance(getattr(event, "text", None), str)
        and event.text.strip()
        and not event.text.startswith("/")
    ]
    return [text[:HISTORY_CHARS] for text in texts[-HISTORY_MESSAGES:]]


# --- during the chat -------------------------------------------------------------------------


async def open_session_for(fe: FrontEnd, user_id: int) -> dict[str, Any] | None:
    """His waiting or active live chat, if any (None also when the database is unreachable)."""
    if not fe.handoff.configured:
        return None
    from bot.store import support

    try:
        return await db(support.get_open_handoff, store_id(user_id), url=fe.database_url)
    except Exception as exc:
        logger.error("Could not look up a live chat: %s", type(exc).__name__)
        return None


async def relay_from_dad(
    context: ContextTypes.DEFAULT_TYPE,
    session: dict[str, Any],
    chat_id: int,
    text: str,
    edited: bool = False,
) -> None:
    """Safety first (his tier's lead at once), then queue his message for the operators.

    Nothing here waits for the operators' chat (Telegram lets a bot post there only about 20
    times a minute): his next message is read at once, however busy the team's chat is.
    """
    fe = front_end(context)
    ref = session["ref"]
    tier, checked = await safety_check(fe, text, LIVE_CHAT_CLASSIFY_TIMEOUT)
    if not checked:  # the safety layer is broken or still loading: the 999 line, to be safe
        await context.bot.send_message(chat_id, fe.texts["handoff_safety_unchecked"])
    header = None
    if tier is not None:
        lead = fe.texts.leads[tier]
        await context.bot.send_message(chat_id, lead)
        await record_tier(fe, session["conversation_id"], tier)
        header = fe.texts.render("op_safety_alert", ref=ref, tier=TIER_WORDS[tier], lead=lead)
        logger.warning("Safety alert in live chat %s (tier=%s)", ref, tier.value)
    key = "op_dad_edited" if edited else "op_dad_message"
    pieces = [fe.texts.render(key, ref=ref, text=piece) for piece in split_text(text, RELAY_PIECE)]

    async def tell_dad(_exc: BaseException) -> None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(
                chat_id, f"{fe.texts['handoff_relay_failed']}\n\n{lines(fe)}"
            )

    operators_outbox(fe).relay(
        ref, pieces, header=header, reply_to=session.get("card_message_id"), on_failed=tell_dad
    )


async def record_tier(fe: FrontEnd, conversation_id: str, tier: Tier) -> None:
    from bot.store.repository import record_escalation

    try:
        await db(record_escalation, conversation_id, tier.value, url=fe.database_url)
    except Exception as exc:
        logger.error("Could not record an escalation: %s", type(exc).__name__)


def operators_outbox(fe: FrontEnd) -> OperatorOutbox:
    """The queue in front of the operators' chat (made by the app when operators are set)."""
    if fe.outbox is None:
        raise RuntimeError("live chat needs OPERATOR_CHAT_ID and the operators' outbox")
    return fe.outbox


def note_to_operators(fe: FrontEnd, session: dict[str, Any], text: str) -> None:
    """The last note in a chat's thread: he ended it, or nobody picked up."""
    operators_outbox(fe).post(
        text, ref=session["ref"], reply_to=session.get("card_message_id"), ends_thread=True
    )


def note_non_text(fe: FrontEnd, session: dict[str, Any], kind: str) -> None:
    """He sent a photo, sticker or voice note: the team should know he tried to say something."""
    text = fe.texts.render("op_dad_non_text", ref=session["ref"], kind=kind)
    operators_outbox(fe).post(text, ref=session["ref"], reply_to=session.get("card_message_id"))


# --- ending --------------------------------------------------------------------------------


async def end_by_dad(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, chat_id: int, tell_dad: bool = True
) -> None:
    """His "End chat" button, /end, or /forget (``tell_dad=False``: /forget says it itself)."""
    from bot.store import support

    fe = front_end(context)
    session = await open_session_for(fe, user_id)
    if session is None:
        if tell_dad:
            await context.bot.send_message(chat_id, fe.texts["handoff_no_chat"])
        return
    try:
        ended = await db(support.end_handoff, session["ref"], "dad", url=fe.database_url)
    except Exception as exc:
        logger.error("Could not end a live chat: %s", type(exc).__name__)
        ended = None
    await fe.rasa.set_paused(sender_id(user_id), False)
    if tell_dad:
        await context.bot.send_message(chat_id, fe.texts["handoff_ended_by_dad"])
    if ended is not None:
        note_to_operators(fe, session, fe.texts.render("op_ended_by_dad", ref=session["ref"]))
    logger.info("Live chat %s ended by the dad", session["ref"])


async def finish(
    application: Application, fe: FrontEnd, ended: dict[str, Any], dad_text: str, reply_markup=None
) -> None:
    """After a session ended on the operators' side (operator or timeout): resume him."""
    chat_id = ended.get("chat_id")
    if chat_id is None:
        logger.warning("Live chat %s ended without a chat to tell", ended["ref"])
        return
    # Rasa's sender id comes from the Telegram user id, which is the chat id of a private chat.
    await fe.rasa.set_paused(sender_id(int(chat_id)), False)
    try:
        await application.bot.send_message(int(chat_id), dad_text, reply_markup=reply_markup)
    except TelegramError as exc:
        logger.warning("Could not tell a dad his chat ended: %s", type(exc).__name__)


async def time_out(application: Application, fe: FrontEnd, session: dict[str, Any]) -> None:
    """Nobody picked up in time: tell him, offer the call back and the lines, tell operators."""
    from bot.store import support

    ended = await db(support.end_handoff, session["ref"], "timeout", url=fe.database_url)
    if ended is None:
        return  # picked up or ended meanwhile
    text = f"{fe.texts.render('handoff_timeout', minutes=minutes(fe))}\n\n{lines(fe)}"
    markup = keyboard([(fe.texts["handoff_callback_button"], CALLBACK_PAYLOAD)], fe.registry)
    await finish(application, fe, ended, text, markup)
    note = fe.texts.render("op_timed_out", ref=ended["ref"], minutes=minutes(fe))
    note_to_operators(fe, ended, note)
    logger.info("Live chat %s timed out", ended["ref"])


async def sweep(application: Application, every: float = SWEEP_EVERY) -> None:
    """Forever: time out chats nobody picked up; hourly, apply the retention periods.

    Scheduling lives in the database (deadline_at), so a restart loses nothing: the first
    sweep after it finds whatever fell due meanwhile.
    """
    from bot.store import support

    fe: FrontEnd = application.bot_data["front_end"]
    last_purge = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            for session in await db(support.overdue_handoffs, url=fe.database_url):
                await time_out(application, fe, session)
            if loop.time() - last_purge >= PURGE_EVERY:
                counts = await db(
                    support.purge_expired,
                    callback_days=fe.handoff.callback_retention_days,
                    handoff_days=fe.handoff.handoff_retention_days,
                    url=fe.database_url,
                )
                last_purge = loop.time()
                logger.info("Retention clean-up: %s", counts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep sweeping; the next round may succeed
            logger.error("Live chat sweep failed: %s", type(exc).__name__)
        await asyncio.sleep(every)
