"""Tables behind human support: live-chat handoff sessions and call-back requests.

Every function takes the already-pseudonymised conversation id and an optional database URL
(default: DATABASE_URL). Results are plain dicts with ISO 8601 UTC timestamps, like
``bot.store.repository``. Secrets (the Telegram chat id to relay to, the phone number to call)
are stored encrypted with ``bot.store.crypto`` and wiped as soon as they are no longer needed.

State changes are conditional UPDATEs (``... WHERE status = 'waiting'``), so when two processes
race (an operator's first reply and the timeout job, say) exactly one of them wins.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.safety.tiers import PRECEDENCE
from bot.store.crypto import DecryptError, decrypt, encrypt
from bot.store.db import session_scope
from bot.store.models import CallbackRequest, EscalationEvent, HandoffSession, utcnow
from bot.store.repository import _check_id, _iso

logger = logging.getLogger(__name__)

T = TypeVar("T")

# No 0/O, 1/I/L: refs are read out and typed by people.
REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REF_LENGTH = 6
HANDOFF_PREFIX = "SH-"
CALLBACK_PREFIX = "CB-"

HANDOFF_OPEN = ("waiting", "active")
HANDOFF_CLOSED = ("ended", "timed_out")
ENDED_BY = frozenset({"dad", "operator", "timeout", "system"})
CALLBACK_CLOSED = ("done", "cancelled", "expired")
WINDOWS = frozenset({"morning", "afternoon", "any"})
# A live chat nobody closed (a crash, a lost timeout job) is closed by purge_expired after this.
STALE_HANDOFF = timedelta(days=1)

_PHONE = re.compile(r"0\d{9,10}")
_NO_SYNC = {"synchronize_session": False}


# --- helpers ---------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    """Aware UTC; naive values are taken to be UTC (as UTCDateTime does)."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


def _retry(work: Callable[[], T], attempts: int = 3) -> T:
    """Run a unit of work again when it lost a race on a unique index (ref, one open row)."""
    for attempt in range(attempts):
        try:
            return work()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            logger.debug("Unique index race, retrying (%d)", attempt + 1)
    raise AssertionError("unreachable")


def _ref_candidate(prefix: str) -> str:
    return prefix + "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def _new_ref(session: Session, model: type[HandoffSession | CallbackRequest], prefix: str) -> str:
    """A random ref not used yet in that table (collisions are rare; we just draw again)."""
    for _ in range(20):
        ref = _ref_candidate(prefix)
        if session.scalar(select(model.id).where(model.ref == ref)) is None:
            return ref
    raise RuntimeError(f"could not find a free {prefix} reference")


def _norm_ref(ref: str) -> str:
    """Operators type refs by hand: accept "sh-abc234" and stray spaces."""
    if not isinstance(ref, str):
        raise TypeError(f"ref must be a string, got {type(ref).__name__}")
    return ref.strip().upper()


def _check_service(service_code: str | None) -> str | None:
    if service_code is not None and not 0 < len(service_code) <= 64:
        raise ValueError("service_code must be 1 to 64 characters (or None)")
    return service_code


def _check_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    return value


def _check_actor(name: str, value: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise ValueError(f"{name} must be 1 to 64 characters (a keyed hash, not a raw id)")
    return value


def _check_phone(phone: str) -> str:
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
        raise ValueError(
            "phone must be national digits only, 10 or 11 long, starting 0 "
            "(normalise it with bot.handoff.phone.normalise_uk_phone first)"
        )
    return phone


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def _read_chat_id(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        return int(decrypt(token))
    except (DecryptError, ValueError):
        logger.warning("Unreadable relay chat id (data key changed?)")
        return None


def _read_phone(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return decrypt(token)
    except DecryptError:
        logger.warning("Unreadable call-back number (data key changed?)")
        return None


def _handoff_dict(row: HandoffSession, chat_id: int | None = None) -> dict[str, Any]:
    return {
        "ref": row.ref,
        "conversation_id": row.conversation_id,
        "service_code": row.service_code,
        "status": row.status,
        "share_history": bool(row.share_history),
        "chat_id": chat_id if chat_id is not None else _read_chat_id(row.chat_enc),
        "card_message_id": row.card_message_id,
        "created_at": _iso(row.created_at),
        "deadline_at": _iso(row.deadline_at),
        "first_response_at": _iso(row.first_response_at),
        "ended_at": _iso(row.ended_at),
        "ended_by": row.ended_by,
        "operator_id": row.operator_id,
    }


def _callback_dict(row: CallbackRequest, with_phone: bool = False) -> dict[str, Any]:
    return {
        "ref": row.ref,
        "conversation_id": row.conversation_id,
        "service_code": row.service_code,
        "status": row.status,
        "phone": _read_phone(row.phone_enc) if with_phone else None,
        "phone_hint": row.phone_hint,
        "window": row.window,
        "consent_at": _iso(row.consent_at),
        "created_at": _iso(row.created_at),
        "done_at": _iso(row.done_at),
    }


def _handoff_by_ref(session: Session, ref: str) -> HandoffSession | None:
    return session.scalars(
        select(HandoffSession).where(HandoffSession.ref == _norm_ref(ref))
    ).first()


def _open_handoff_row(session: Session, conversation_id: str) -> HandoffSession | None:
    return session.scalars(
        select(HandoffSession)
        .where(
            HandoffSession.conversation_id == conversation_id,
            HandoffSession.status.in_(HANDOFF_OPEN),
        )
        .order_by(HandoffSession.id)
    ).first()


def _draft_row(session: Session, conversation_id: str) -> CallbackRequest | None:
    return session.scalars(
        select(CallbackRequest).where(
            CallbackRequest.conversation_id == conversation_id,
            CallbackRequest.status == "draft",
        )
    ).first()


# --- handoffs --------------------------------------------------------------------------------


def open_handoff(
    conversation_id: str,
    chat_id: int,
    service_code: str | None = None,
    share_history: bool = False,
    timeout_seconds: float = 300,
    now: datetime | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Start a live chat (status waiting), or return the one already open for him.

    One open session per conversation: a double tap on "Chat with someone now" must not post
    two cards to the operators.
    """
    _check_id(conversation_id)
    _check_int("chat_id", chat_id)
    _check_service(service_code)
    _positive("timeout_seconds", timeout_seconds)
    at = _now(now)

    def work() -> dict[str, Any]:
        with session_scope(url) as session:
            existing = _open_handoff_row(session, conversation_id)
            if existing is not None:
                return _handoff_dict(existing)
            row = HandoffSession(
                ref=_new_ref(session, HandoffSession, HANDOFF_PREFIX),
                conversation_id=conversation_id,
                service_code=service_code,
                status="waiting",
                share_history=bool(share_history),
                chat_enc=encrypt(str(chat_id)),
                created_at=at,
                deadline_at=at + timedelta(seconds=timeout_seconds),
            )
            session.add(row)
            session.flush()
            return _handoff_dict(row, chat_id=chat_id)

    return _retry(work)


def set_card_message(ref: str, message_id: int, url: str | None = None) -> None:
    """Remember the operators' card, so replies to it find the session."""
    _check_int("message_id", message_id)
    with session_scope(url) as session:
        session.execute(
            update(HandoffSession)
            .where(HandoffSession.ref == _norm_ref(ref))
            .values(card_message_id=message_id)
            .execution_options(**_NO_SYNC)
        )


def get_handoff(ref: str, url: str | None = None) -> dict[str, Any] | None:
    with session_scope(url) as session:
        row = _handoff_by_ref(session, ref)
        return _handoff_dict(row) if row is not None else None


def get_open_handoff(conversation_id: str, url: str | None = None) -> dict[str, Any] | None:
    """His waiting or active session, if any (where his messages should go)."""
    with session_scope(url) as session:
        row = _open_handoff_row(session, conversation_id)
        return _handoff_dict(row) if row is not None else None


def mark_first_response(
    ref: str, operator_id: str, now: datetime | None = None, url: str | None = None
) -> dict[str, Any] | None:
    """An operator replied: waiting -> active (first reply only). None if closed or unknown.

    Later replies leave the first response time and operator as they were.
    """
    _check_actor("operator_id", operator_id)
    at = _now(now)
    with session_scope(url) as session:
        row = _handoff_by_ref(session, ref)
        if row is None or row.status not in HANDOFF_OPEN:
            return None
        if row.status == "waiting":
            session.execute(
                update(HandoffSession)
                .where(HandoffSession.id == row.id, HandoffSession.status == "waiting")
                .values(status="active", first_response_at=at, operator_id=operator_id)
                .execution_options(**_NO_SYNC)
            )
            session.refresh(row)  # whoever won, report what is stored now
            if row.status != "active":
                return None
        return _handoff_dict(row)


def end_handoff(
    ref: str, ended_by: str, now: datetime | None = None, url: str | None = None
) -> dict[str, Any] | None:
    """Close a session and wipe the relay chat id; None if it was already closed.

    ``ended_by="timeout"`` gives status timed_out and only applies while still waiting: if an
    operator answered in the meantime the chat goes on and this returns None. The result's
    ``chat_id`` is read before the wipe, so the caller can tell the dad.
    """
    if ended_by not in ENDED_BY:
        raise ValueError(f"ended_by must be one of {sorted(ENDED_BY)}, got {ended_by!r}")
    from_states = ("waiting",) if ended_by == "timeout" else HANDOFF_OPEN
    at = _now(now)
    with session_scope(url) as session:
        row = _handoff_by_ref(session, ref)
        if row is None or row.status not in from_states:
            return None
        chat_id = _read_chat_id(row.chat_enc)
        result = session.execute(
            update(HandoffSession)
            .where(HandoffSession.id == row.id, HandoffSession.status.in_(from_states))
            .values(
                status="timed_out" if ended_by == "timeout" else "ended",
                ended_at=at,
                ended_by=ended_by,
                chat_enc=None,
            )
            .execution_options(**_NO_SYNC)
        )
        if not result.rowcount:
            return None  # someone else closed it first
        session.refresh(row)
        return _handoff_dict(row, chat_id=chat_id)


def overdue_handoffs(now: datetime | None = None, url: str | None = None) -> list[dict[str, Any]]:
    """Sessions still waiting for a first reply at their deadline (soonest deadline first)."""
    at = _now(now)
    with session_scope(url) as session:
        rows = session.scalars(
            select(HandoffSession)
            .where(HandoffSession.status == "waiting", HandoffSession.deadline_at <= at)
            .order_by(HandoffSession.deadline_at, HandoffSession.id)
        ).all()
        return [_handoff_dict(row) for row in rows]


def open_handoffs(url: str | None = None) -> list[dict[str, Any]]:
    """Waiting and active sessions, oldest first (after a restart: whom to reconnect)."""
    with session_scope(url) as session:
        rows = session.scalars(
            select(HandoffSession)
            .where(HandoffSession.status.in_(HANDOFF_OPEN))
            .order_by(HandoffSession.created_at, HandoffSession.id)
        ).all()
        return [_handoff_dict(row) for row in rows]


# --- call backs ------------------------------------------------------------------------------


def save_callback_draft(
    conversation_id: str,
    phone: str,
    service_code: str | None = None,
    now: datetime | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Keep the number he just gave, encrypted, before he has consented (one draft each).

    Giving a new number replaces the draft's number. The form's slot keeps only the hint.
    """
    _check_id(conversation_id)
    _check_phone(phone)
    _check_service(service_code)
    at = _now(now)
    hint = "ending " + phone[-3:]

    def work() -> dict[str, Any]:
        with session_scope(url) as session:
            row = _draft_row(session, conversation_id)
            if row is None:
                row = CallbackRequest(
                    ref=_new_ref(session, CallbackRequest, CALLBACK_PREFIX),
                    conversation_id=conversation_id,
                    status="draft",
                )
                session.add(row)
            row.phone_enc = encrypt(phone)
            row.phone_hint = hint
            if service_code is not None:
                row.service_code = service_code
            row.created_at = at  # drafts are purged by age: count from the latest number
            session.flush()
            return _callback_dict(row)

    return _retry(work)


def submit_callback(
    conversation_id: str, window: str, now: datetime | None = None, url: str | None = None
) -> dict[str, Any] | None:
    """He consented: his draft becomes an open request. None if there is no draft."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {sorted(WINDOWS)}, got {window!r}")
    at = _now(now)
    with session_scope(url) as session:
        row = _draft_row(session, conversation_id)
        if row is None:
            return None
        result = session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == row.id, CallbackRequest.status == "draft")
            .values(status="open", window=window, consent_at=at)
            .execution_options(**_NO_SYNC)
        )
        if not result.rowcount:
            return None
        session.refresh(row)
        return _callback_dict(row)


def cancel_callback_draft(conversation_id: str, url: str | None = None) -> int:
    """He changed his mind before consenting: delete the draft (and its number) outright."""
    with session_scope(url) as session:
        result = session.execute(
            delete(CallbackRequest)
            .where(
                CallbackRequest.conversation_id == conversation_id,
                CallbackRequest.status == "draft",
            )
            .execution_options(**_NO_SYNC)
        )
        return int(result.rowcount or 0)


def cancel_open_callbacks(
    conversation_id: str, now: datetime | None = None, url: str | None = None
) -> list[str]:
    """He no longer wants the call he booked: open -> cancelled, number wiped; the refs."""
    at = _now(now)
    with session_scope(url) as session:
        rows = session.scalars(
            select(CallbackRequest).where(
                CallbackRequest.conversation_id == conversation_id,
                CallbackRequest.status == "open",
            )
        ).all()
        refs = []
        for row in rows:
            result = session.execute(
                update(CallbackRequest)
                .where(CallbackRequest.id == row.id, CallbackRequest.status == "open")
                .values(status="cancelled", phone_enc=None, done_at=at, done_by="dad")
                .execution_options(**_NO_SYNC)
            )
            if result.rowcount:
                refs.append(row.ref)
        return refs


def open_callbacks(url: str | None = None) -> list[dict[str, Any]]:
    """Requests waiting for a call, oldest first, with the number decrypted for the operator."""
    with session_scope(url) as session:
        rows = session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.status == "open")
            .order_by(CallbackRequest.created_at, CallbackRequest.id)
        ).all()
        return [_callback_dict(row, with_phone=True) for row in rows]


def complete_callback(
    ref: str, done_by: str, now: datetime | None = None, url: str | None = None
) -> dict[str, Any] | None:
    """An operator called him: open -> done and the number is wiped. None if not open."""
    _check_actor("done_by", done_by)
    at = _now(now)
    with session_scope(url) as session:
        row = session.scalars(
            select(CallbackRequest).where(CallbackRequest.ref == _norm_ref(ref))
        ).first()
        if row is None or row.status != "open":
            return None
        result = session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == row.id, CallbackRequest.status == "open")
            .values(status="done", phone_enc=None, done_at=at, done_by=done_by)
            .execution_options(**_NO_SYNC)
        )
        if not result.rowcount:
            return None
        session.refresh(row)
        return _callback_dict(row)


# --- both ------------------------------------------------------------------------------------


def tiers_seen(conversation_id: str, url: str | None = None) -> list[str]:
    """Safety tiers shown in this conversation, most serious first (for the operators' card)."""
    with session_scope(url) as session:
        found = set(
            session.scalars(
                select(EscalationEvent.tier)
                .where(EscalationEvent.conversation_id == conversation_id)
                .distinct()
            ).all()
        )
    rank = {tier.value: index for index, tier in enumerate(PRECEDENCE)}
    return sorted(found, key=lambda tier: (rank.get(tier, len(rank)), tier))


def purge_expired(
    now: datetime | None = None,
    callback_days: float = 30,
    handoff_days: float = 365,
    draft_hours: float = 24,
    url: str | None = None,
) -> dict[str, int]:
    """Apply the retention rules; returns how many rows each rule touched.

    - open call backs older than ``callback_days``: expired, number wiped;
    - drafts (never consented) older than ``draft_hours``: deleted;
    - live chats still waiting/active after a day (nobody closed them): ended by "system",
      relay chat id wiped;
    - closed live chats and closed call backs older than ``handoff_days``: deleted.
    """
    at = _now(now)
    callback_cutoff = at - timedelta(days=_positive("callback_days", callback_days))
    handoff_cutoff = at - timedelta(days=_positive("handoff_days", handoff_days))
    draft_cutoff = at - timedelta(hours=_positive("draft_hours", draft_hours))
    counts: dict[str, int] = {}
    with session_scope(url) as session:

        def run(key: str, statement: Any) -> None:
            result = session.execute(statement.execution_options(**_NO_SYNC))
            counts[key] = int(result.rowcount or 0)

        run(
            "callbacks_expired",
            update(CallbackRequest)
            .where(CallbackRequest.status == "open", CallbackRequest.created_at < callback_cutoff)
            .values(status="expired", phone_enc=None),
        )
        run(
            "drafts_deleted",
            delete(CallbackRequest).where(
                CallbackRequest.status == "draft", CallbackRequest.created_at < draft_cutoff
            ),
        )
        run(
            "handoffs_closed",
            update(HandoffSession)
            .where(
                HandoffSession.status.in_(HANDOFF_OPEN),
                HandoffSession.created_at < at - STALE_HANDOFF,
            )
            .values(status="ended", ended_by="system", ended_at=at, chat_enc=None),
        )
        run(
            "handoffs_deleted",
            delete(HandoffSession).where(
                HandoffSession.status.in_(HANDOFF_CLOSED),
                HandoffSession.created_at < handoff_cutoff,
            ),
        )
        run(
            "callbacks_deleted",
            delete(CallbackRequest).where(
                CallbackRequest.status.in_(CALLBACK_CLOSED),
                CallbackRequest.created_at < handoff_cutoff,
            ),
        )
    return counts
