"""bot.store.support: handoff sessions and call backs, on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store import crypto, db, repository, support
from bot.store.models import CallbackRequest, HandoffSession

# The PostgreSQL fixtures (fresh schema per test) live with the repository tests.
from tests.store.test_repository import pg_base_url, pg_url  # noqa: F401

T0 = datetime(2025, 1, 6, 2, 30, tzinfo=timezone.utc)
CHAT = 123456789
PHONE = "07700900123"
REF_RE = re.compile(r"(SH|CB)-[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A throwaway Fernet key and default database: tests never touch the repo's var/."""
    monkeypatch.setenv(crypto.KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'stray.db'}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'support.db'}"
    db.dispose_engines()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def raw_handoff(url: str, ref: str) -> HandoffSession:
    with db.session_scope(url) as session:
        row = session.scalars(select(HandoffSession).where(HandoffSession.ref == ref)).one()
        session.expunge(row)
        return row


def raw_callback(url: str, ref: str) -> CallbackRequest:
    with db.session_scope(url) as session:
        row = session.scalars(select(CallbackRequest).where(CallbackRequest.ref == ref)).one()
        session.expunge(row)
        return row


def count(url: str, model: type) -> int:
    with db.session_scope(url) as session:
        return len(session.scalars(select(model)).all())


# --- handoffs --------------------------------------------------------------------------------


def test_open_handoff(url: str) -> None:
    h = support.open_handoff("c1", CHAT, service_code="crysis", share_history=True, now=T0, url=url)
    assert REF_RE.fullmatch(h["ref"]) and h["ref"].startswith("SH-")
    assert h["status"] == "waiting"
    assert h["conversation_id"] == "c1"
    assert h["service_code"] == "crysis"
    assert h["share_history"] is True
    assert h["chat_id"] == CHAT
    assert h["created_at"] == T0.isoformat()
    assert h["deadline_at"] == (T0 + timedelta(seconds=300)).isoformat()
    assert h["first_response_at"] is None and h["ended_at"] is None
    assert h["ended_by"] is None and h["operator_id"] is None and h["card_message_id"] is None
    assert support.get_handoff(h["ref"], url=url) == h
    assert support.get_open_handoff("c1", url=url) == h
    assert support.get_open_handoff("c2", url=url) is None
    assert support.get_handoff("SH-ZZZZZZ", url=url) is None


def test_chat_id_is_stored_encrypted(url: str) -> None:
    h = support.open_handoff("c1", CHAT, url=url)
    row = raw_handoff(url, h["ref"])
    assert row.chat_enc and str(CHAT) not in row.chat_enc
    assert crypto.decrypt(row.chat_enc) == str(CHAT)


def test_double_open_returns_the_same_session(url: str) -> None:
    first = support.open_handoff("c1", CHAT, now=T0, url=url)
    second = support.open_handoff("c1", CHAT, now=T0 + timedelta(seconds=5), url=url)
    assert second == first
    assert count(url, HandoffSession) == 1
    other = support.open_handoff("c2", 42, url=url)
    assert other["ref"] != first["ref"]


def test_concurrent_opens_make_one_session(url: str) -> None:
    refs: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait()
        try:
            refs.append(support.open_handoff("c1", CHAT, url=url)["ref"])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    support.open_handoffs(url=url)  # create the schema before the race
    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(refs) == 4 and len(set(refs)) == 1
    assert count(url, HandoffSession) == 1


def test_second_open_row_is_refused_by_the_database(url: str) -> None:
    h = support.open_handoff("c1", CHAT, now=T0, url=url)
    with pytest.raises(IntegrityError), db.session_scope(url) as session:
        session.add(
            HandoffSession(
                ref="SH-AAAAAA",
                conversation_id="c1",
                status="active",
                created_at=T0,
                deadline_at=T0,
            )
        )
    # ...but closed sessions do not count: a new chat after the last one ended is fine.
    support.end_handoff(h["ref"], "dad", url=url)
    again = support.open_handoff("c1", CHAT, url=url)
    assert again["ref"] != h["ref"] and again["status"] == "waiting"


def test_lost_race_is_retried_and_finds_the_winner(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As if another process inserted between our check and our insert."""
    winner = support.open_handoff("c1", CHAT, url=url)
    draft = support.save_callback_draft("c1", PHONE, url=url)
    real_handoff, real_draft = support._open_handoff_row, support._draft_row
    blind = {"handoff": 1, "draft": 1}

    def handoff_row(session: Session, conversation_id: str) -> HandoffSession | None:
        if blind["handoff"]:
            blind["handoff"] -= 1
            return None
        return real_handoff(session, conversation_id)

    def draft_row(session: Session, conversation_id: str) -> CallbackRequest | None:
        if blind["draft"]:
            blind["draft"] -= 1
            return None
        return real_draft(session, conversation_id)

    monkeypatch.setattr(support, "_open_handoff_row", handoff_row)
    monkeypatch.setattr(support, "_draft_row", draft_row)
    assert support.open_handoff("c1", CHAT, url=url)["ref"] == winner["ref"]
    assert support.save_callback_draft("c1", "02079460018", url=url)["ref"] == draft["ref"]
    assert blind == {"handoff": 0, "draft": 0}
    assert count(url, HandoffSession) == 1 and count(url, CallbackRequest) == 1


def test_ref_collision_draws_again(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = support.open_handoff("c1", CHAT, url=url)["ref"]
    candidates = iter([taken, taken, "SH-BCDEFG"])
    monkeypatch.setattr(support, "_ref_candidate", lambda prefix: next(candidates))
    assert support.open_handoff("c2", CHAT, url=url)["ref"] == "SH-BCDEFG"


def test_set_card_message_and_refs_are_case_insensitive(url: str) -> None:
    h = support.open_handoff("c1", CHAT, url=url)
    support.set_card_message(h["ref"].lower(), 9_876_543_210, url=url)
    got = support.get_handoff(f"  {h['ref'].lower()} ", url=url)
    assert got is not None and got["card_message_id"] == 9_876_543_210


def test_first_response(url: str) -> None:
    h = support.open_handoff("c1", CHAT, now=T0, url=url)
    at = T0 + timedelta(seconds=40)
    active = support.mark_first_response(h["ref"], "op-hash-1", now=at, url=url)
    assert active is not None
    assert active["status"] == "active"
    assert active["first_response_at"] == at.isoformat()
    assert active["operator_id"] == "op-hash-1"
    assert active["chat_id"] == CHAT
    # a later reply (by anyone) keeps the first response as it was
    later = support.mark_first_response(h["ref"], "op-hash-2", now=at + timedelta(60), url=url)
    assert later == active
    assert support.mark_first_response("SH-ZZZZZZ", "op-hash-1", url=url) is None


def test_end_handoff_wipes_the_chat_and_is_idempotent(url: str) -> None:
    h = support.open_handoff("c1", CHAT, now=T0, url=url)
    at = T0 + timedelta(minutes=3)
    ended = support.end_handoff(h["ref"], "dad", now=at, url=url)
    assert ended is not None
    assert ended["status"] == "ended"
    assert ended["ended_by"] == "dad"
    assert ended["ended_at"] == at.isoformat()
    assert ended["chat_id"] == CHAT  # read before the wipe, so the caller can tell him
    assert raw_handoff(url, h["ref"]).chat_enc is None
    stored = support.get_handoff(h["ref"], url=url)
    assert stored is not None and stored["chat_id"] is None and stored["status"] == "ended"

    assert support.end_handoff(h["ref"], "operator", url=url) is None
    assert support.end_handoff(h["ref"], "timeout", url=url) is None
    assert support.get_open_handoff("c1", url=url) is None
    assert support.mark_first_response(h["ref"], "op", url=url) is None
    assert support.end_handoff("SH-ZZZZZZ", "dad", url=url) is None


def test_operator_ends_an_active_chat(url: str) -> None:
    h = support.open_handoff("c1", CHAT, url=url)
    support.mark_first_response(h["ref"], "op-hash", url=url)
    ended = support.end_handoff(h["ref"], "operator", url=url)
    assert ended is not None and ended["status"] == "ended" and ended["operator_id"] == "op-hash"


def test_timeout(url: str) -> None:
    h = support.open_handoff("c1", CHAT, now=T0, url=url)
    timed_out = support.end_handoff(h["ref"], "timeout", now=T0 + timedelta(seconds=301), url=url)
    assert timed_out is not None
    assert timed_out["status"] == "timed_out" and timed_out["ended_by"] == "timeout"
    assert timed_out["chat_id"] == CHAT
    assert raw_handoff(url, h["ref"]).chat_enc is None


def test_timeout_does_not_end_an_answered_chat(url: str) -> None:
    h = support.open_handoff("c1", CHAT, now=T0, url=url)
    support.mark_first_response(h["ref"], "op-hash", now=T0 + timedelta(seconds=299), url=url)
    assert (
        support.end_handoff(h["ref"], "timeout", now=T0 + timedelta(seconds=300), url=url) is None
    )
    still = support.get_handoff(h["ref"], url=url)
    assert still is not None and still["status"] == "active" and still["chat_id"] == CHAT


def test_overdue_handoffs(url: str) -> None:
    a = support.open_handoff("c1", CHAT, timeout_seconds=300, now=T0, url=url)
    b = support.open_handoff("c2", 2, timeout_seconds=60, now=T0, url=url)
    assert support.overdue_handoffs(now=T0 + timedelta(seconds=59), url=url) == []
    overdue = support.overdue_handoffs(now=T0 + timedelta(seconds=60), url=url)
    assert [h["ref"] for h in overdue] == [b["ref"]]
    both = support.overdue_handoffs(now=T0 + timedelta(seconds=300), url=url)
    assert [h["ref"] for h in both] == [b["ref"], a["ref"]]  # soonest deadline first
    assert both[0]["chat_id"] == 2

    support.mark_first_response(a["ref"], "op", now=T0 + timedelta(seconds=10), url=url)
    support.end_handoff(b["ref"], "dad", url=url)
    assert support.overdue_handoffs(now=T0 + timedelta(hours=1), url=url) == []


def test_overdue_accepts_naive_utc(url: str) -> None:
    h = support.open_handoff("c1", CHAT, now=T0, url=url)
    naive = (T0 + timedelta(seconds=300)).replace(tzinfo=None)
    assert [x["ref"] for x in support.overdue_handoffs(now=naive, url=url)] == [h["ref"]]
    other_zone = (T0 + timedelta(seconds=299)).astimezone(timezone(timedelta(hours=5)))
    assert support.overdue_handoffs(now=other_zone, url=url) == []


def test_open_handoffs_oldest_first(url: str) -> None:
    b = support.open_handoff("c2", 2, now=T0 + timedelta(minutes=1), url=url)
    a = support.open_handoff("c1", 1, now=T0, url=url)
    c = support.open_handoff("c3", 3, now=T0 + timedelta(minutes=2), url=url)
    support.mark_first_response(b["ref"], "op", url=url)
    support.end_handoff(c["ref"], "dad", url=url)
    assert [h["ref"] for h in support.open_handoffs(url=url)] == [a["ref"], b["ref"]]


def test_unreadable_chat_id_is_none(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    h = support.open_handoff("c1", CHAT, url=url)
    monkeypatch.setenv(crypto.KEY_ENV, Fernet.generate_key().decode())  # the key changed
    got = support.get_handoff(h["ref"], url=url)
    assert got is not None and got["chat_id"] is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda u: support.open_handoff("c1", "123", url=u), "chat_id"),
        (lambda u: support.open_handoff("c1", True, url=u), "chat_id"),
        (lambda u: support.open_handoff("", 1, url=u), "conversation_id"),
        (lambda u: support.open_handoff("c1", 1, timeout_seconds=0, url=u), "timeout"),
        (lambda u: support.open_handoff("c1", 1, service_code="x" * 65, url=u), "service"),
        (lambda u: support.end_handoff("SH-AAAAAA", "bot", url=u), "ended_by"),
        (lambda u: support.mark_first_response("SH-AAAAAA", "", url=u), "operator_id"),
        (lambda u: support.set_card_message("SH-AAAAAA", "1", url=u), "message_id"),
    ],
)
def test_handoff_input_is_validated(url: str, call: Callable[[str], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(url)
    assert support.open_handoffs(url=url) == []


# --- call backs ------------------------------------------------------------------------------


def test_callback_flow(url: str) -> None:
    draft = support.save_callback_draft("c1", PHONE, service_code="crysis", now=T0, url=url)
    assert REF_RE.fullmatch(draft["ref"]) and draft["ref"].startswith("CB-")
    assert draft["status"] == "draft"
    assert draft["phone_hint"] == "ending 123"
    assert draft["phone"] is None
    assert draft["window"] is None and draft["consent_at"] is None
    row = raw_callback(url, draft["ref"])
    assert row.phone_enc and PHONE not in row.phone_enc and "900123" not in row.phone_enc
    assert crypto.decrypt(row.phone_enc) == PHONE
    assert support.open_callbacks(url=url) == []  # no consent yet

    consent = T0 + timedelta(minutes=1)
    opened = support.submit_callback("c1", "morning", now=consent, url=url)
    assert opened is not None
    assert opened["ref"] == draft["ref"]
    assert opened["status"] == "open"
    assert opened["window"] == "morning"
    assert opened["consent_at"] == consent.isoformat()
    assert opened["phone"] is None  # only open_callbacks hands out the number
    assert opened["service_code"] == "crysis"

    listed = support.open_callbacks(url=url)
    assert [c["ref"] for c in listed] == [draft["ref"]]
    assert listed[0]["phone"] == PHONE

    done_at = T0 + timedelta(hours=5)
    done = support.complete_callback(draft["ref"].lower(), "op-hash", now=done_at, url=url)
    assert done is not None
    assert done["status"] == "done" and done["done_at"] == done_at.isoformat()
    assert done["phone"] is None and done["phone_hint"] == "ending 123"
    row = raw_callback(url, draft["ref"])
    assert row.phone_enc is None
    assert row.done_by == "op-hash"
    assert support.open_callbacks(url=url) == []
    assert support.complete_callback(draft["ref"], "op-hash", url=url) is None


def test_new_number_replaces_the_draft(url: str) -> None:
    first = support.save_callback_draft("c1", PHONE, now=T0, url=url)
    second = support.save_callback_draft("c1", "02079460018", now=T0 + timedelta(1), url=url)
    assert second["ref"] == first["ref"]
    assert second["phone_hint"] == "ending 018"
    assert count(url, CallbackRequest) == 1
    assert crypto.decrypt(raw_callback(url, first["ref"]).phone_enc) == "02079460018"
    support.submit_callback("c1", "any", url=url)
    # after submitting, a new number starts a new draft; the open request is left alone
    third = support.save_callback_draft("c1", PHONE, url=url)
    assert third["ref"] != first["ref"]
    assert [c["phone"] for c in support.open_callbacks(url=url)] == ["02079460018"]


def test_submit_without_draft(url: str) -> None:
    assert support.submit_callback("c1", "afternoon", url=url) is None
    support.save_callback_draft("c1", PHONE, url=url)
    assert support.submit_callback("c1", "afternoon", url=url) is not None
    assert support.submit_callback("c1", "afternoon", url=url) is None  # already submitted


def test_cancel_draft(url: str) -> None:
    support.save_callback_draft("c1", PHONE, url=url)
    support.save_callback_draft("c2", PHONE, url=url)
    support.submit_callback("c2", "any", url=url)
    assert support.cancel_callback_draft("c1", url=url) == 1
    assert support.cancel_callback_draft("c1", url=url) == 0
    assert support.submit_callback("c1", "any", url=url) is None
    assert support.cancel_callback_draft("c2", url=url) == 0  # consented requests stay
    assert len(support.open_callbacks(url=url)) == 1


def test_he_can_cancel_the_call_he_booked(url: str) -> None:
    mine = support.save_callback_draft("c1", PHONE, now=T0, url=url)
    support.submit_callback("c1", "morning", now=T0, url=url)
    support.save_callback_draft("c2", "07700900222", url=url)
    support.submit_callback("c2", "any", url=url)
    support.save_callback_draft("c1", "07700900333", url=url)  # a new draft is not booked
    assert support.cancel_open_callbacks("c1", now=T0 + timedelta(hours=1), url=url) == [
        mine["ref"]
    ]
    row = raw_callback(url, mine["ref"])
    assert (row.status, row.phone_enc, row.done_by) == ("cancelled", None, "dad")
    assert [c["phone"] for c in support.open_callbacks(url=url)] == ["07700900222"]
    assert support.cancel_open_callbacks("c1", url=url) == []
    assert support.complete_callback(mine["ref"], "op", url=url) is None


def test_open_callbacks_oldest_first(url: str) -> None:
    support.save_callback_draft("c2", "07700900222", now=T0 + timedelta(minutes=5), url=url)
    support.save_callback_draft("c1", "07700900111", now=T0, url=url)
    support.submit_callback("c2", "any", url=url)
    support.submit_callback("c1", "any", url=url)
    assert [c["phone"] for c in support.open_callbacks(url=url)] == ["07700900111", "07700900222"]


def test_unreadable_number_is_none(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    support.save_callback_draft("c1", PHONE, url=url)
    support.submit_callback("c1", "any", url=url)
    monkeypatch.setenv(crypto.KEY_ENV, Fernet.generate_key().decode())
    listed = support.open_callbacks(url=url)
    assert len(listed) == 1 and listed[0]["phone"] is None
    assert listed[0]["phone_hint"] == "ending 123"


@pytest.mark.parametrize(
    "phone",
    ["7700900123", "077009001234", "077009001", "07700 900123", "+447700900123", "", "0770090012a"],
)
def test_bad_phone_is_refused(url: str, phone: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        support.save_callback_draft("c1", phone, url=url)
    assert count(url, CallbackRequest) == 0


@pytest.mark.parametrize("phone", ["07700900123", "0207946001", "02079460018"])
def test_ten_and_eleven_digit_numbers(url: str, phone: str) -> None:
    assert support.save_callback_draft("c1", phone, url=url)["phone_hint"] == "ending " + phone[-3:]


@pytest.mark.parametrize("window", ["evening", "any time", "", "Morning"])
def test_bad_window_is_refused(url: str, window: str) -> None:
    support.save_callback_draft("c1", PHONE, url=url)
    with pytest.raises(ValueError, match="window"):
        support.submit_callback("c1", window, url=url)
    assert support.open_callbacks(url=url) == []


def test_complete_needs_an_open_request(url: str) -> None:
    draft = support.save_callback_draft("c1", PHONE, url=url)
    assert support.complete_callback(draft["ref"], "op", url=url) is None  # still a draft
    assert support.complete_callback("CB-ZZZZZZ", "op", url=url) is None
    with pytest.raises(ValueError, match="done_by"):
        support.complete_callback(draft["ref"], "", url=url)


# --- both ------------------------------------------------------------------------------------


def test_tiers_seen(url: str) -> None:
    assert support.tiers_seen("c1", url=url) == []
    for tier in ("urgent", "emergency", "urgent", "edge"):
        repository.record_escalation("c1", tier, url=url)
    repository.record_escalation("c2", "self_harm", url=url)
    assert support.tiers_seen("c1", url=url) == ["emergency", "edge", "urgent"]


def test_purge_expired(url: str) -> None:
    now = T0 + timedelta(days=400)
    # call backs: one open too long, one open recently, one old draft, one fresh draft,
    # one done long ago, one done recently
    support.save_callback_draft("old-open", PHONE, now=now - timedelta(days=31), url=url)
    old_open = support.submit_callback("old-open", "any", url=url)
    support.save_callback_draft("new-open", PHONE, now=now - timedelta(days=29), url=url)
    new_open = support.submit_callback("new-open", "any", url=url)
    support.save_callback_draft("old-draft", PHONE, now=now - timedelta(hours=25), url=url)
    support.save_callback_draft("new-draft", PHONE, now=now - timedelta(hours=23), url=url)
    support.save_callback_draft("ancient", PHONE, now=now - timedelta(days=366), url=url)
    support.submit_callback("ancient", "any", url=url)
    ancient = support.complete_callback(
        support.open_callbacks(url=url)[0]["ref"], "op", now=now - timedelta(days=366), url=url
    )
    assert ancient is not None and ancient["conversation_id"] == "ancient"
    # handoffs: one ended long ago, one ended recently, one left open for two days,
    # one open for an hour
    gone = support.open_handoff("h-old", 1, now=now - timedelta(days=366), url=url)
    support.end_handoff(gone["ref"], "dad", now=now - timedelta(days=366), url=url)
    kept = support.open_handoff("h-recent", 2, now=now - timedelta(days=10), url=url)
    support.end_handoff(kept["ref"], "timeout", now=now - timedelta(days=10), url=url)
    stale = support.open_handoff("h-stale", 3, now=now - timedelta(days=2), url=url)
    live = support.open_handoff("h-live", 4, now=now - timedelta(hours=1), url=url)

    assert support.purge_expired(now=now, url=url) == {
        "callbacks_expired": 1,
        "drafts_deleted": 1,
        "handoffs_closed": 1,
        "handoffs_deleted": 1,
        "callbacks_deleted": 1,
    }
    assert old_open is not None and new_open is not None
    expired = raw_callback(url, old_open["ref"])
    assert expired.status == "expired" and expired.phone_enc is None
    assert [c["ref"] for c in support.open_callbacks(url=url)] == [new_open["ref"]]
    assert support.submit_callback("old-draft", "any", url=url) is None  # deleted
    assert support.cancel_callback_draft("new-draft", url=url) == 1  # kept
    assert support.get_handoff(gone["ref"], url=url) is None
    assert support.get_handoff(kept["ref"], url=url) is not None
    closed = support.get_handoff(stale["ref"], url=url)
    assert closed is not None
    assert closed["status"] == "ended" and closed["ended_by"] == "system"
    assert closed["ended_at"] == now.isoformat() and closed["chat_id"] is None
    assert raw_handoff(url, stale["ref"]).chat_enc is None
    assert support.get_open_handoff("h-live", url=url) == live

    # a second run finds nothing more to do
    assert set(support.purge_expired(now=now, url=url).values()) == {0}


def test_purge_retention_is_configurable(url: str) -> None:
    support.save_callback_draft("c1", PHONE, now=T0, url=url)
    support.submit_callback("c1", "any", url=url)
    later = T0 + timedelta(days=3)
    assert support.purge_expired(now=later, callback_days=5, url=url)["callbacks_expired"] == 0
    assert support.purge_expired(now=later, callback_days=2, url=url)["callbacks_expired"] == 1
    with pytest.raises(ValueError, match="callback_days"):
        support.purge_expired(callback_days=0, url=url)


def test_nothing_secret_in_any_result(url: str) -> None:
    h = support.open_handoff("c1", CHAT, url=url)
    support.end_handoff(h["ref"], "dad", url=url)
    support.save_callback_draft("c1", PHONE, url=url)
    done = support.submit_callback("c1", "any", url=url)
    assert done is not None
    support.complete_callback(done["ref"], "op", url=url)
    dumped = json.dumps(
        [
            support.get_handoff(h["ref"], url=url),
            repository.export("c1", url=url),
            support.open_callbacks(url=url),
        ]
    )
    assert "900123" not in dumped and str(CHAT) not in dumped
