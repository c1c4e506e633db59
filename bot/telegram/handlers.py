"""Telegram update handlers: one small function per kind of update.

Privacy: the Telegram user id is pseudonymised before it goes anywhere (Rasa's sender id is
``pseudonymise(user id)``; our own tables use ``pseudonymise(sender)``, as the actions do).
Message text is never logged at INFO or above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.handoff.settings import HandoffSettings, load_handoff_settings
from bot.safety.tiers import Tier
from bot.store.pseudonym import pseudonymise
from bot.telegram.content import Texts, referral_code
from bot.telegram.outbox import OperatorOutbox
from bot.telegram.rasa_client import RasaClient, RasaUnavailable
from bot.telegram.rendering import OWN_PREFIX, CallbackRegistry, keyboard, render

logger = logging.getLogger(__name__)

TOPICS_PAYLOAD = "/ask_capabilities"
HUMAN_PAYLOAD = "/request_human"
FORGET_YES = f"{OWN_PREFIX}forget:yes"
FORGET_NO = f"{OWN_PREFIX}forget:no"
TYPING_EVERY = 4.5  # Telegram shows "typing..." for about 5 s per chat action
CLASSIFY_TIMEOUT = 2.0  # the trouble card must not wait long for the safety layer


@dataclass
class FrontEnd:
    """What every handler shares, kept in ``application.bot_data["front_end"]``."""

    rasa: RasaClient
    texts: Texts
    services: dict[str, str]
    registry: CallbackRegistry = field(default_factory=CallbackRegistry)
    database_url: str | None = None  # None: DATABASE_URL
    handoff: HandoffSettings = field(default_factory=lambda: load_handoff_settings({}))
    outbox: OperatorOutbox | None = None  # the operators' chat queue, when operators are set
    classifier: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="safety")
    )
    _tracker_store: Any = None

    def tracker_store(self) -> Any:
        """Rasa's tracker store on the same database (imported on first /forget: it is slow)."""
        if self._tracker_store is None:
            from bot.store.tracker_store import UrlSQLTrackerStore

            self._tracker_store = UrlSQLTrackerStore(url=self.database_url)
        return self._tracker_store


def front_end(context: ContextTypes.DEFAULT_TYPE) -> FrontEnd:
    return context.application.bot_data["front_end"]


def sender_id(user_id: int) -> str:
    """Rasa's sender id for a Telegram user: a keyed hash, never the raw id."""
    return pseudonymise(str(user_id))


def store_id(user_id: int) -> str:
    """The id our own tables use (the actions hash the sender id once more)."""
    return pseudonymise(sender_id(user_id))


# --- talking to Rasa ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> AsyncIterator[None]:
    """Show "typing..." in the chat until the block ends.

    Stopped by an event, not only by cancellation: a cancelled Bot API call may surface as a
    NetworkError rather than CancelledError, which must not keep the loop alive.
    """
    done = asyncio.Event()

    async def keep_typing() -> None:
        while not done.is_set():
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(done.wait(), TYPING_EVERY)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        done.set()
        await asyncio.wait([task], timeout=1.0)
        if not task.done():
            task.cancel()


async def red_flag_tier(fe: FrontEnd, text: str) -> Tier | None:
    """The safety layer's tier for ``text``, or None (also when it takes too long)."""
    tier, _checked = await safety_check(fe, text, CLASSIFY_TIMEOUT)
    return tier


async def safety_check(fe: FrontEnd, text: str, timeout: float) -> tuple[Tier | None, bool]:
    """(tier or None, whether the safety layer answered within ``timeout`` seconds)."""
    from bot.safety.classifier import classify

    loop = asyncio.get_running_loop()
    try:
        running = loop.run_in_executor(fe.classifier, classify, text)
        result = await asyncio.wait_for(running, timeout)
    except asyncio.TimeoutError:
        logger.warning("Safety layer still loading after %.0f s", timeout)
        return None, False
    except Exception:  # the caller's reply must go out whatever happens here
        logger.exception("Safety layer failed")
        return None, False
    return result.tier, True


async def send_trouble_card(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str | None
) -> None:
    """Rasa is down or slow: emergency numbers, led by the tier's line for a red flag."""
    fe = front_end(context)
    tier = await red_flag_tier(fe, text) if text else None
    logger.info("Trouble card sent (tier=%s)", tier.value if tier else "none")
    await context.bot.send_message(chat_id, fe.texts.trouble_card(tier))


async def converse(
    update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, *, typed: bool = True
) -> None:
    """Send the dad's message to Rasa and his chat the replies (or the trouble card)."""
    fe = front_end(context)
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None:
        return
    metadata: dict[str, Any] = {"channel": "telegram"}
    code = context.user_data.get("referral") if context.user_data is not None else None
    if code:
        metadata["referral"] = code
    async with typing(context, chat.id):
        try:
            replies = await asyncio.wait_for(
                fe.rasa.send(sender_id(user.id), text, metadata), fe.rasa.timeout + 1
            )
        except (RasaUnavailable, asyncio.TimeoutError) as exc:
            logger.warning("Rasa unavailable: %s", exc)
            replies = None
    if replies is None:
        await send_trouble_card(context, chat.id, text if typed else None)
        return
    from bot.telegram import handoff

    live_chat = handoff.wants_handoff(replies)
    messages = render(replies)
    if not messages and not live_chat:
        await context.bot.send_message(chat.id, fe.texts["no_reply"])
        return
    for message in messages:
        await context.bot.send_message(
            chat.id, message.text, reply_markup=keyboard(message.buttons, fe.registry)
        )
    if live_chat:
        await handoff.ask_to_share_history(context, chat.id)


# --- commands ---------------------------------------------------------------------------------


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, with an optional deep-link referral code: record it and welcome the dad."""
    fe = front_end(context)
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    code = referral_code(context.args[0] if context.args and len(context.args) == 1 else None)
    service = fe.services.get(code) if code else None
    if service is not None and code is not None:
        if context.user_data is not None:
            context.user_data["referral"] = code
        try:
            await asyncio.to_thread(_record_referral, store_id(user.id), code, fe.database_url)
            logger.info("Referral recorded (service=%s)", code)
        except Exception:
            logger.exception("Could not record a referral (service=%s)", code)
    if not await in_live_chat(update, context):  # the team is with him: no welcome over it
        await message.reply_text(fe.texts.welcome(service))


def _record_referral(conversation_id: str, code: str, url: str | None) -> None:
    from bot.store.repository import record_referral

    record_referral(conversation_id, code, url=url)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help (and any command we don't know)."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(front_end(context).texts["help"])


async def on_topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/topics: Rasa's list of what the bot can help with."""
    if not await in_live_chat(update, context):
        await converse(update, context, TOPICS_PAYLOAD, typed=False)


async def on_human(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/human: the people he can reach now (Rasa's offer: live chat, call back, lines)."""
    if not await in_live_chat(update, context):
        await converse(update, context, HUMAN_PAYLOAD, typed=False)


async def on_end(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/end from a dad: end his live chat with the team."""
    from bot.telegram import handoff

    user, chat = update.effective_user, update.effective_chat
    if user is not None and chat is not None:
        await handoff.end_by_dad(context, user.id, chat.id)


async def on_privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/privacy: what is kept and for how long."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(front_end(context).texts["privacy"])


async def on_mydata(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mydata: what our tables hold about him, in plain words (never a number or text)."""
    from bot.store.repository import export

    fe = front_end(context)
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    try:
        kept = await asyncio.to_thread(export, store_id(user.id), fe.database_url)
    except Exception as exc:
        logger.error("Could not export a dad's data: %s", type(exc).__name__)
        await message.reply_text(fe.texts["mydata_failed"])
        return
    await message.reply_text(describe_kept(fe, kept))


def describe_kept(fe: FrontEnd, kept: dict[str, Any]) -> str:
    """One line per kind of row we keep; dates only, in Europe/London."""
    from bot.telegram.handoff import london_time

    items = ["- Our conversation: your messages and my replies, under a scrambled code."]
    profile = kept.get("profile") or {}
    if profile.get("baby_stage"):
        items.append(f"- Your baby's stage: {profile['baby_stage'].replace('_', ' ')}.")
    for row in kept.get("escalations", []):
        when = london_time(row["created_at"])
        items.append(f"- A safety reply ({row['tier'].replace('_', ' ')}) on {when}.")
    for row in kept.get("referrals", []):
        service = fe.services.get(row["service_code"], row["service_code"])
        items.append(f"- You came from {service} on {london_time(row['created_at'])}.")
    for row in kept.get("handoffs", []):
        when = london_time(row["created_at"])
        items.append(f"- A live chat request ({row['ref']}, {row['status']}) on {when}.")
    for row in kept.get("callbacks", []):
        when = london_time(row["created_at"])
        hint = row.get("phone_hint") or "no number"
        items.append(f"- A call-back request ({row['ref']}, {row['status']}, {hint}) on {when}.")
    if len(items) == 1:
        return fe.texts["mydata_empty"]
    return "\n".join([fe.texts["mydata_intro"], *items, "", fe.texts["mydata_outro"]])


async def on_forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/forget: ask for confirmation first."""
    texts = front_end(context).texts
    if update.effective_message is None:
        return
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts["forget_yes_button"], callback_data=FORGET_YES)],
            [InlineKeyboardButton(texts["forget_no_button"], callback_data=FORGET_NO)],
        ]
    )
    await update.effective_message.reply_text(texts["forget_confirm"], reply_markup=markup)


async def on_forget_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The /forget confirmation: delete profile, escalations, referrals and tracker events."""
    fe = front_end(context)
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    if query is None or user is None or chat is None:
        return
    await query.answer()
    await remove_keyboard(update)
    if query.data != FORGET_YES:
        await context.bot.send_message(chat.id, fe.texts["forget_cancelled"])
        return
    from bot.telegram import handoff

    # A live chat still open is ended first (the operators are told), so nobody waits on him.
    await handoff.end_by_dad(context, user.id, chat.id, tell_dad=False)
    try:
        rows, events = await forget_everything(fe, user.id)
    except Exception:
        logger.exception("Could not delete a dad's data")
        await context.bot.send_message(chat.id, fe.texts["forget_failed"])
        return
    if context.user_data is not None:
        context.user_data.clear()
    logger.info("Deleted a dad's data (%d rows, %d tracker events)", rows, events)
    await context.bot.send_message(chat.id, fe.texts["forget_done"])


async def forget_everything(fe: FrontEnd, user_id: int) -> tuple[int, int]:
    """Delete our rows and Rasa's tracker events for a Telegram user; returns both counts."""
    from bot.store.repository import forget

    rows = await asyncio.to_thread(forget, store_id(user_id), fe.database_url)
    store = await asyncio.to_thread(fe.tracker_store)
    events = await store.delete(sender_id(user_id))
    return rows, events


# --- messages and buttons -----------------------------------------------------------------


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Typed text (new or edited): to the team during a live chat, otherwise to Rasa."""
    from bot.telegram import handoff

    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or not message.text or user is None or chat is None:
        return
    session = await handoff.open_session_for(front_end(context), user.id)
    if session is not None:
        edited = update.edited_message is not None
        await handoff.relay_from_dad(context, session, chat.id, message.text, edited=edited)
        return
    await converse(update, context, message.text)


async def in_live_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """During a live chat, commands, old Rasa buttons and non-text get a note, not the bot.

    Rasa is paused then, so it would not answer; a photo or voice note is not passed on, but
    the team is told he sent one.
    """
    from bot.telegram import handoff

    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return False
    fe = front_end(context)
    session = await handoff.open_session_for(fe, user.id)
    if session is None:
        return False
    message = update.effective_message
    if update.callback_query is not None or (message is not None and message.text):
        text = fe.texts.render("handoff_already", ref=session["ref"])
    else:
        text = fe.texts["handoff_non_text"]
        handoff.note_non_text(fe, session, kind_of(message))
    await context.bot.send_message(chat.id, text, reply_markup=handoff.end_markup(fe))
    return True


def kind_of(message: Any) -> str:
    """What a non-text message is, in a few words for the operators."""
    kinds = (
        ("voice", "voice message"),
        ("audio", "voice message"),
        ("video_note", "video message"),
        ("video", "video"),
        ("photo", "photo"),
        ("sticker", "sticker"),
        ("animation", "GIF"),
        ("document", "file"),
        ("location", "location"),
        ("contact", "contact"),
    )
    for attribute, words in kinds:
        if message is not None and getattr(message, attribute, None):
            return words
    return "message that is not text"


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A Rasa button: answer the query, remove the keyboard, send the payload as the dad's."""
    fe = front_end(context)
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    if update.effective_chat is None or update.effective_chat.type != "private":
        return  # a stray button in a group: dads' buttons only act in their own chat
    await remove_keyboard(update)
    if await in_live_chat(update, context):
        return
    payload = fe.registry.decode(query.data or "")
    if payload is None:
        if update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, fe.texts["button_expired"])
        return
    await converse(update, context, payload, typed=False)


async def remove_keyboard(update: Update) -> None:
    """Take the buttons off the message that carried them (so each is pressed once)."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    with contextlib.suppress(BadRequest):  # already removed, or the message is too old
        await query.edit_message_reply_markup(reply_markup=None)


async def on_voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Voice and audio: ask for typing, with the emergency line."""
    if update.effective_message is not None and not await in_live_chat(update, context):
        await update.effective_message.reply_text(front_end(context).texts["voice"])


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, locations, documents...: a kind note that the bot reads text."""
    if update.effective_message is not None and not await in_live_chat(update, context):
        await update.effective_message.reply_text(front_end(context).texts["non_text"])


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error (type only at INFO+: the traceback may quote text only at DEBUG)."""
    error = context.error
    logger.error("Error while handling an update: %s", type(error).__name__)
    logger.debug("Details", exc_info=error)
