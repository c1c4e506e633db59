"""Reading and writing Small Hours' own tables.

Every function takes the already-pseudonymised conversation id (callers use
``bot.store.pseudonym.pseudonymise``) and an optional database URL (default: DATABASE_URL).
Timestamps come back as ISO 8601 UTC strings so results can be shown or dumped as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from bot.safety.tiers import PRECEDENCE, Tier
from bot.store.db import session_scope
from bot.store.models import (
    CallbackRequest,
    EscalationEvent,
    HandoffSession,
    Profile,
    Referral,
    utcnow,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _check_id(conversation_id: str) -> str:
    if not conversation_id or len(conversation_id) > 64:
        raise ValueError("conversation_id must be 1 to 64 characters")
    return conversation_id


def record_escalation(
    conversation_id: str, tier: str, at: datetime | None = None, url: str | None = None
) -> None:
    """Count one safety reply. ``tier`` must be a Tier value such as "emergency"."""
    tier_value = Tier(tier).value  # ValueError for anything that is not a tier
    with session_scope(url) as session:
        session.add(
            EscalationEvent(
                conversation_id=_check_id(conversation_id),
                tier=tier_value,
                created_at=at or utcnow(),
            )
        )


def escalation_counts(since: datetime | None = None, url: str | None = None) -> dict[str, int]:
    """Escalations per tier (every tier listed, most serious first), optionally since a time."""
    query = select(EscalationEvent.tier, func.count()).group_by(EscalationEvent.tier)
    if since is not None:
        query = query.where(EscalationEvent.created_at >= since)
    with session_scope(url) as session:
        found = dict(session.execute(query).all())
    return {tier.value: int(found.get(tier.value, 0)) for tier in PRECEDENCE}


def save_baby_stage(conversation_id: str, stage: str | None, url: str | None = None) -> None:
    """Create or update the profile with the baby's stage (None clears it)."""
    if stage is not None and not 0 < len(stage) <= 32:
        raise ValueError("stage must be 1 to 32 characters")
    with session_scope(url) as session:
        profile = session.get(Profile, _check_id(conversation_id))
        if profile is None:
            session.add(Profile(conversation_id=conversation_id, baby_stage=stage))
        else:
            profile.baby_stage = stage
            profile.updated_at = utcnow()


def _profile_dict(profile: Profile) -> dict[str, Any]:
    return {
        "conversation_id": profile.conversation_id,
        "baby_stage": profile.baby_stage,
        "created_at": _iso(profile.created_at),
        "updated_at": _iso(profile.updated_at),
    }


def get_profile(conversation_id: str, url: str | None = None) -> dict[str, Any] | None:
    with session_scope(url) as session:
        profile = session.get(Profile, conversation_id)
        return _profile_dict(profile) if profile is not None else None


def record_referral(conversation_id: str, service_code: str, url: str | None = None) -> None:
    """Note that we pointed someone to a service (a key of content/helplines.yml)."""
    if not service_code or len(service_code) > 64:
        raise ValueError("service_code must be 1 to 64 characters")
    with session_scope(url) as session:
        session.add(Referral(conversation_id=_check_id(conversation_id), service_code=service_code))


def forget(conversation_id: str, url: str | None = None) -> int:
    """Delete everything we keep about a conversation; returns the number of rows deleted.

    Rasa's own conversation history is separate: see ``UrlSQLTrackerStore.delete``.
    """
    deleted = 0
    with session_scope(url) as session:
        for model in (EscalationEvent, Referral, HandoffSession, CallbackRequest, Profile):
            result = session.execute(delete(model).where(model.conversation_id == conversation_id))
            deleted += result.rowcount or 0
    return deleted


def export(conversation_id: str, url: str | None = None) -> dict[str, Any]:
    """Everything we keep about a conversation, for "see what is kept"."""
    with session_scope(url) as session:
        profile = session.get(Profile, conversation_id)
        escalations = session.scalars(
            select(EscalationEvent)
            .where(EscalationEvent.conversation_id == conversation_id)
            .order_by(EscalationEvent.created_at, EscalationEvent.id)
        ).all()
        referrals = session.scalars(
            select(Referral)
            .where(Referral.conversation_id == conversation_id)
            .order_by(Referral.created_at, Referral.id)
        ).all()
        handoffs = session.scalars(
            select(HandoffSession)
            .where(HandoffSession.conversation_id == conversation_id)
            .order_by(HandoffSession.created_at, HandoffSession.id)
        ).all()
        callbacks = session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.conversation_id == conversation_id)
            .order_by(CallbackRequest.created_at, CallbackRequest.id)
        ).all()
        return {
            "conversation_id": conversation_id,
            "profile": _profile_dict(profile) if profile is not None else None,
            "escalations": [
                {"tier": e.tier, "created_at": _iso(e.created_at)} for e in escalations
            ],
            "referrals": [
                {"service_code": r.service_code, "created_at": _iso(r.created_at)}
                for r in referrals
            ],
            # Outcomes and times only: never the relay chat id, the operator or the number.
            "handoffs": [
                {
                    "ref": h.ref,
                    "status": h.status,
                    "service_code": h.service_code,
                    "share_history": bool(h.share_history),
                    "created_at": _iso(h.created_at),
                    "first_response_at": _iso(h.first_response_at),
                    "ended_at": _iso(h.ended_at),
                    "ended_by": h.ended_by,
                }
                for h in handoffs
            ],
            "callbacks": [
                {
                    "ref": c.ref,
                    "status": c.status,
                    "service_code": c.service_code,
                    "phone_hint": c.phone_hint,
                    "window": c.window,
                    "created_at": _iso(c.created_at),
                    "consent_at": _iso(c.consent_at),
                    "done_at": _iso(c.done_at),
                }
                for c in callbacks
            ],
        }
