"""Tables Small Hours keeps. Ids are pseudonymised; no message text is ever stored."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, String, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python; ``timestamptz`` on PostgreSQL, naive UTC on SQLite.

    Naive values handed in are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Profile(Base):
    """What a dad chose to tell us about his baby, for age-specific answers."""

    __tablename__ = "sh_profiles"

    conversation_id = Column(String(64), primary_key=True)
    baby_stage = Column(String(32), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class EscalationEvent(Base):
    """One safety reply shown (the tier only), for counting how often each tier fires."""

    __tablename__ = "sh_escalation_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    tier = Column(String(20), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class Referral(Base):
    """A service we pointed someone to (its code in content/helplines.yml)."""

    __tablename__ = "sh_referrals"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    service_code = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


# Partial unique indexes (SQLite and PostgreSQL) so that two processes racing cannot give one
# conversation two open handoffs or two call-back drafts: the loser gets an IntegrityError and
# bot.store.support retries, finding the winner's row.
_HANDOFF_OPEN = text("status IN ('waiting', 'active')")
_CALLBACK_DRAFT = text("status = 'draft'")


class HandoffSession(Base):
    """One live chat with the operators: times and outcome, plus the relay target while open.

    ``chat_enc`` is the encrypted Telegram chat id, needed only to relay messages; it is wiped
    when the session ends. ``operator_id`` is a keyed hash, never a Telegram id or a name.
    """

    __tablename__ = "sh_handoffs"
    __table_args__ = (
        Index(
            "ux_sh_handoffs_one_open",
            "conversation_id",
            unique=True,
            sqlite_where=_HANDOFF_OPEN,
            postgresql_where=_HANDOFF_OPEN,
        ),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    ref = Column(String(12), nullable=False, unique=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    service_code = Column(String(64), nullable=True)
    status = Column(String(16), nullable=False)  # waiting, active, ended, timed_out
    share_history = Column(Boolean, nullable=False, default=False)
    chat_enc = Column(Text, nullable=True)
    card_message_id = Column(BigInteger, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    deadline_at = Column(UTCDateTime, nullable=False)
    first_response_at = Column(UTCDateTime, nullable=True)
    ended_at = Column(UTCDateTime, nullable=True)
    ended_by = Column(String(16), nullable=True)  # dad, operator, timeout, system
    operator_id = Column(String(64), nullable=True)


class CallbackRequest(Base):
    """A request to be phoned back. The number is encrypted and wiped once it is not needed."""

    __tablename__ = "sh_callbacks"
    __table_args__ = (
        Index(
            "ux_sh_callbacks_one_draft",
            "conversation_id",
            unique=True,
            sqlite_where=_CALLBACK_DRAFT,
            postgresql_where=_CALLBACK_DRAFT,
        ),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    ref = Column(String(12), nullable=False, unique=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    service_code = Column(String(64), nullable=True)
    status = Column(String(16), nullable=False)  # draft, open, done, cancelled, expired
    phone_enc = Column(Text, nullable=True)
    phone_hint = Column(String(16), nullable=True)  # "ending 123"
    window = Column(String(16), nullable=True)  # morning, afternoon, any
    consent_at = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    done_at = Column(UTCDateTime, nullable=True)
    done_by = Column(String(64), nullable=True)  # keyed hash of the operator
