"""Tables Small Hours keeps. Ids are pseudonymised; no message text is ever stored."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String
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
