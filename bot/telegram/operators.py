"""The operators' chat: replies relayed to dads, /end, /queue, /callbacks and /done.

Only updates from OPERATOR_CHAT_ID act, and only from users on OPERATOR_USER_IDS when that
allowlist is set; anything else that looks like operator work is ignored and logged (without
text or ids). An operator answers a dad by replying to his card or to any message of that
chat's thread: the reference (SH-XXXXXX) in the message replied to says which chat it is.
Dads see replies signed with OPERATOR_DISPLAY_NAME, never the operator's own account.

What the bot says in the operators' chat goes through its queue (bot.telegram.outbox):
Telegram allows about 20 posts a minute there, and a dad's safety alert must never wait
behind answers to commands.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.handoff.phone import display
from bot.store.pseudonym import pseudonymise
from bot.telegram.handlers import FrontEnd, front_end
from bot.telegram.handoff import db, finish, london_time, now_utc, operators_outbox
from bot.telegram.rendering import MAX_TEXT, OWN_PREFIX, split_text, utf16_len

logger = logging.getLogger(__name__)

HANDOFF_REF = re.compile(r"\bSH-[A-Z0-9]{6}\b")
CALLBACK_REF = re.compile(r"\bCB-[A-Z0-9]{6}\b")
DONE_PREFIX = f"{OWN_PREFIX}cb:done:"
MAX_CALLBACKS_SHOWN = 15  # in one message, each with its own "Mark done" button
WINDOWS = {"morning": "morning", "afternoon": "afternoon", "any": "any time"}


def operator_id(user_id: int) -> str:
    """Operators are audited by a keyed hash of their Telegram id, like dads."""
    return pseudonymise(f"operator:{user_id}")


def is_operator(update: Update, fe: FrontEnd) -> bool:
    """True for an allowed operator in the operators' chat; logs anyone else who tries."""
    chat, user = update.effective_chat, update.effective_user
    allowed = (
        chat is not None
        and fe.handoff.is_operator(chat.id, user.id if user is not None else None)
        and (user is None or not user.is_bot)
    )
    if not allowed:
        logger.warning("Ignored operator action from someone not allowed to act as an operator")
    return allowed


def ref_in(message: Message | None, pattern: re.Pattern[str] = HANDOFF_REF) -> str | None:
    """The reference in one of our own messages (a card, a relayed message, a note)."""
    if message is None or not message.text:
        return None
    found = pattern.search(message.text)
    return found.group(0) if found else None


def answer(fe: FrontEnd, message: Message, text: str, markup: Any = None) -> None:
    """Answer an operator's message in the operators' chat (queued, as a reply to it)."""
    operators_outbox(fe).post(text, reply_to=message.message_id, markup=markup)


# --- replies: an operator answering a dad ------------------------------------------------


async def on_operator_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reply in the operators' chat to one of our messages: relay it to that dad."""
    from bot.store import support

    fe = front_end(context)
    message = update.effective_message
    if message is None or message.reply_to_message is None or not message.text:
        return
    replied = message.reply_to_message
    if replied.from_user is None or replied.from_user.id != context.bot.id:
        return  # staff talking among themselves
    if not is_operator(update, fe):
        return
    ref = ref_in(replied)
    if ref is None:
        return
    session = await db(support.get_handoff, ref, url=fe.database_url)
    if session is None or session["status"] not in ("waiting", "active"):
        answer(fe, message, fe.texts.render("op_not_open", ref=ref))
        return
    chat_id = session.get("chat_id")
    if chat_id is None:
        answer(fe, message, fe.texts.render("op_not_delivered", ref=ref))
        return
    user = update.effective_user
    await db(
        support.mark_first_response,
        ref,
        operator_id(user.id) if user is not None else "unknown",
        url=fe.database_url,
    )
    key = "dad_operator_edited" if update.edited_message is not None else "dad_operator_message"
    text = fe.texts.render(key, name=fe.handoff.display_name, text=message.text)
    try:
        for piece in split_text(text):
            await context.bot.send_message(int(chat_id), piece)
    except (Forbidden, BadRequest) as exc:
        logger.warning("Could not deliver an operator reply: %s", type(exc).__name__)
        answer(fe, message, fe.texts.render("op_not_delivered", ref=ref))
        return
    logger.info("Operator reply relayed in live chat %s", ref)


async def on_operator_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or sticker as a reply in a chat's thread: only text reaches dads."""
    fe = front_end(context)
    message = update.effective_message
    if message is None or ref_in(message.reply_to_message) is None:
        return
    if is_operator(update, fe):
        answer(fe, message, fe.texts["op_text_only"])


# --- commands ----------------------------------------------------------------------------


async def on_end(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/end as a reply in a chat's thread, or /end SH-XXXXXX."""
    from bot.store import support

    fe = front_end(context)
    message = update.effective_message
    if message is None or not is_operator(update, fe):
        return
    ref = next((a.upper() for a in context.args or [] if HANDOFF_REF.fullmatch(a.upper())), None)
    ref = ref or ref_in(message.reply_to_message)
    if ref is None:
        answer(fe, message, fe.texts["op_unknown_thread"])
        return
    ended = await db(support.end_handoff, ref, "operator", url=fe.database_url)
    if ended is None:
        answer(fe, message, fe.texts.render("op_not_open", ref=ref))
        return
    dad_text = fe.texts.render("handoff_ended_by_operator", name=fe.handoff.display_name)
    await finish(context.application, fe, ended, dad_text)
    operators_outbox(fe).post(
        fe.texts.render("op_ended_by_operator", ref=ref),
        ref=ref,
        reply_to=message.message_id,
        ends_thread=True,
    )
    logger.info("Live chat %s ended by an operator", ref)


async def on_queue(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/queue: live chats waiting for a first reply, then those under way."""
    from bot.store import support

    fe = front_end(context)
    message = update.effective_message
    if message is None or not is_operator(update, fe):
        return
    sessions = await db(support.open_handoffs, url=fe.database_url)
    if not sessions:
        answer(fe, message, fe.texts["op_queue_empty"])
        return
    lines = [fe.texts["op_queue_title"], *(queue_line(fe, session) for session in sessions)]
    for piece in split_text("\n".join(lines)):
        answer(fe, message, piece)


def queue_line(fe: FrontEnd, session: dict[str, Any]) -> str:
    from datetime import datetime

    started = datetime.fromisoformat(session["created_at"])
    waited = max(0, int((now_utc() - started).total_seconds() // 60))
    state = "waiting" if session["status"] == "waiting" else "in chat"
    service = fe.services.get(session.get("service_code") or "", fe.texts["op_no_service"])
    return f"- {session['ref']}: {state}, asked {waited} min ago, service: {service}"


async def on_callbacks(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/callbacks: the open requests in one message, each with its own "Mark done" button."""
    fe = front_end(context)
    message = update.effective_message
    if message is None or not is_operator(update, fe):
        return
    text, markup = await callbacks_list(fe)
    answer(fe, message, text, markup)


async def callbacks_list(
    fe: FrontEnd, done_note: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The open call-back requests as one message (oldest first) and their buttons."""
    from bot.store import support

    requests = await db(support.open_callbacks, url=fe.database_url)
    parts = [done_note] if done_note else []
    if not requests:
        return "\n\n".join([*parts, fe.texts["op_callbacks_empty"]]), None
    entries: list[str] = []  # each request's text, while the message stays within Telegram's limit
    for request in requests[:MAX_CALLBACKS_SHOWN]:
        entry = callback_text(fe, request)
        if entries and utf16_len("\n\n".join([*parts, *entries, entry])) > MAX_TEXT - 100:
            break
        entries.append(entry)
    shown = requests[: len(entries)]
    parts.extend(entries)
    if len(requests) > len(shown):
        parts.append(fe.texts.render("op_callbacks_more", count=str(len(requests) - len(shown))))
    buttons = [
        [
            InlineKeyboardButton(
                fe.texts.render("op_callback_done_button", ref=request["ref"]),
                callback_data=f"{DONE_PREFIX}{request['ref']}",
            )
        ]
        for request in shown
    ]
    return "\n\n".join(parts), InlineKeyboardMarkup(buttons)


def callback_text(fe: FrontEnd, request: dict[str, Any]) -> str:
    phone = request.get("phone")
    return fe.texts.render(
        "op_callback",
        ref=request["ref"],
        phone=display(phone) if phone else "(number unreadable: the data key has changed)",
        window=WINDOWS.get(request.get("window") or "any", "any time"),
        time=london_time(request.get("created_at")),
        consent=london_time(request.get("consent_at")),
        service=fe.services.get(request.get("service_code") or "", fe.texts["op_no_service"]),
    )


async def on_done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/done CB-XXXXXX."""
    fe = front_end(context)
    message = update.effective_message
    if message is None or not is_operator(update, fe):
        return
    ref = next((a.upper() for a in context.args or [] if CALLBACK_REF.fullmatch(a.upper())), None)
    ref = ref or ref_in(message.reply_to_message, CALLBACK_REF)
    if ref is None:
        answer(fe, message, fe.texts["op_help"])
        return
    answer(fe, message, await complete(fe, update, ref))


async def on_done_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "Mark done" button under a call-back request."""
    fe = front_end(context)
    query = update.callback_query
    if query is None:
        return
    if not is_operator(update, fe):
        await query.answer()
        return
    await query.answer()
    ref = (query.data or "")[len(DONE_PREFIX) :]
    text, markup = await callbacks_list(fe, done_note=await complete(fe, update, ref))
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except TelegramError:  # too old to edit, say: tell them in a new message
        operators_outbox(fe).post(text, markup=markup)


async def complete(fe: FrontEnd, update: Update, ref: str) -> str:
    from bot.store import support

    user = update.effective_user
    done = await db(
        support.complete_callback,
        ref,
        operator_id(user.id) if user is not None else "unknown",
        url=fe.database_url,
    )
    if done is None:
        return fe.texts.render("op_callback_not_open", ref=ref)
    logger.info("Call back %s marked done", ref)
    return fe.texts.render("op_callback_done", ref=ref)


async def on_operator_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help in the operators' chat."""
    fe = front_end(context)
    if update.effective_message is not None and is_operator(update, fe):
        answer(fe, update.effective_message, fe.texts["op_help"])


async def on_other_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any group that is not the operators' chat: ignored (the bot talks to dads one to one)."""
    logger.warning("Ignored an update from a group that is not the operators' chat")
