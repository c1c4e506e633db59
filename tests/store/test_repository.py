"""Repository and pseudonym tests, on SQLite and (when reachable) PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bot.store import crypto, db, pseudonym, repository, support
from bot.store.models import Base, CallbackRequest, HandoffSession

PG_BASE = "postgresql://{user}@127.0.0.1:5432/test"
PG_USERS = ("postgres", "root")


def postgres_base_url() -> str | None:
    """The first PostgreSQL login that works, or None when the server is unreachable."""
    for user in PG_USERS:
        url = PG_BASE.format(user=user)
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                return url
        except Exception:  # any failure means "try the next user"
            continue
        finally:
            engine.dispose()
    return None


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    url = postgres_base_url()
    if url is None:
        pytest.skip(f"PostgreSQL unreachable at {PG_BASE} (users {', '.join(PG_USERS)})")
    return url


@pytest.fixture
def pg_url(pg_base_url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards (reruns start clean)."""
    schema = f"sh_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        db.dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'store.db'}"
    db.dispose_engines()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_tables_are_prefixed() -> None:
    assert Base.metadata.tables
    assert all(name.startswith("sh_") for name in Base.metadata.tables)


def test_schema_creation_is_idempotent(url: str) -> None:
    engine = db.get_engine(url)
    db.create_schema(engine)
    db.create_schema(engine)
    repository.record_referral("c1", "samaritans", url=url)
    assert repository.export("c1", url=url)["referrals"][0]["service_code"] == "samaritans"


def test_escalation_counts(url: str) -> None:
    repository.record_escalation("c1", "emergency", url=url)
    repository.record_escalation("c2", "emergency", url=url)
    repository.record_escalation("c1", "edge", url=url)
    counts = repository.escalation_counts(url=url)
    assert counts["emergency"] == 2
    assert counts["edge"] == 1
    assert counts["urgent"] == 0
    assert list(counts)[0] == "emergency"  # most serious first


def test_escalation_counts_since(url: str) -> None:
    now = datetime.now(timezone.utc)
    repository.record_escalation("c1", "urgent", at=now - timedelta(days=10), url=url)
    repository.record_escalation("c1", "urgent", at=now, url=url)
    assert repository.escalation_counts(since=now - timedelta(days=1), url=url)["urgent"] == 1
    # naive datetimes are read as UTC
    naive = (now - timedelta(days=1)).replace(tzinfo=None)
    assert repository.escalation_counts(since=naive, url=url)["urgent"] == 1


@pytest.mark.parametrize("tier", ["crisis", "safety_emergency", "", "EMERGENCY"])
def test_unknown_tier_is_rejected(url: str, tier: str) -> None:
    with pytest.raises(ValueError):
        repository.record_escalation("c1", tier, url=url)
    assert sum(repository.escalation_counts(url=url).values()) == 0


def test_baby_stage_profile(url: str) -> None:
    assert repository.get_profile("c1", url=url) is None
    repository.save_baby_stage("c1", "newborn", url=url)
    first = repository.get_profile("c1", url=url)
    assert first is not None and first["baby_stage"] == "newborn"
    repository.save_baby_stage("c1", "peak_crying", url=url)
    second = repository.get_profile("c1", url=url)
    assert second is not None
    assert second["baby_stage"] == "peak_crying"
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] >= first["updated_at"]
    assert datetime.fromisoformat(second["created_at"]).utcoffset() == timedelta(0)


def test_export_and_forget(url: str) -> None:
    repository.save_baby_stage("c1", "settling", url=url)
    repository.record_escalation("c1", "self_harm", url=url)
    repository.record_referral("c1", "samaritans", url=url)
    repository.record_referral("c2", "crysis", url=url)

    kept = repository.export("c1", url=url)
    assert kept["profile"]["baby_stage"] == "settling"
    assert [e["tier"] for e in kept["escalations"]] == ["self_harm"]
    assert [r["service_code"] for r in kept["referrals"]] == ["samaritans"]

    assert repository.forget("c1", url=url) == 3
    assert repository.export("c1", url=url) == {
        "conversation_id": "c1",
        "profile": None,
        "escalations": [],
        "referrals": [],
        "handoffs": [],
        "callbacks": [],
    }
    assert repository.forget("c1", url=url) == 0
    assert repository.export("c2", url=url)["referrals"]  # others untouched


@pytest.fixture
def data_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A throwaway key for encrypted columns, so tests never create the repo's var/data.key."""
    monkeypatch.setenv(crypto.KEY_ENV, Fernet.generate_key().decode())


@pytest.mark.usefixtures("data_key")
def test_export_and_forget_cover_human_support(url: str) -> None:
    t0 = datetime(2025, 3, 1, 1, 0, tzinfo=timezone.utc)
    handoff = support.open_handoff("c1", 555123456789, share_history=True, now=t0, url=url)
    support.mark_first_response(handoff["ref"], "op-hash", now=t0 + timedelta(minutes=2), url=url)
    support.end_handoff(handoff["ref"], "operator", now=t0 + timedelta(minutes=9), url=url)
    open_now = support.open_handoff("c1", 555123456789, now=t0 + timedelta(hours=1), url=url)
    support.save_callback_draft("c1", "07700900123", service_code="crysis", now=t0, url=url)
    callback = support.submit_callback("c1", "morning", now=t0, url=url)
    assert callback is not None
    support.save_callback_draft("c1", "02079460018", url=url)  # a second, unconsented draft
    support.open_handoff("c2", 42, url=url)
    support.save_callback_draft("c2", "07700900999", url=url)

    kept = repository.export("c1", url=url)
    assert [(h["ref"], h["status"], h["ended_by"]) for h in kept["handoffs"]] == [
        (handoff["ref"], "ended", "operator"),
        (open_now["ref"], "waiting", None),
    ]
    assert kept["handoffs"][0] == {
        "ref": handoff["ref"],
        "status": "ended",
        "service_code": None,
        "share_history": True,
        "created_at": t0.isoformat(),
        "first_response_at": (t0 + timedelta(minutes=2)).isoformat(),
        "ended_at": (t0 + timedelta(minutes=9)).isoformat(),
        "ended_by": "operator",
    }
    assert [(c["ref"], c["status"]) for c in kept["callbacks"]] == [
        (callback["ref"], "open"),
        (kept["callbacks"][1]["ref"], "draft"),
    ]
    assert kept["callbacks"][0] == {
        "ref": callback["ref"],
        "status": "open",
        "service_code": "crysis",
        "phone_hint": "ending 123",
        "window": "morning",
        "created_at": t0.isoformat(),
        "consent_at": t0.isoformat(),
        "done_at": None,
    }
    dumped = json.dumps(kept)
    for secret in ("07700900123", "900123", "02079460018", "555123456789", "op-hash"):
        assert secret not in dumped

    assert repository.forget("c1", url=url) == 4  # two handoffs, two call backs
    gone = repository.export("c1", url=url)
    assert gone["handoffs"] == [] and gone["callbacks"] == []
    assert support.get_open_handoff("c1", url=url) is None
    assert support.open_callbacks(url=url) == []
    with db.session_scope(url) as session:
        for model in (HandoffSession, CallbackRequest):
            left = session.scalars(select(model.conversation_id)).all()
            assert left == ["c2"]  # others untouched


def test_default_url_is_sqlite_under_repo_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    resolved = db.resolve_url()
    assert resolved.get_backend_name() == "sqlite"
    assert Path(resolved.database) == db.REPO_ROOT / "var" / "small-hours.db"


def test_relative_sqlite_path_is_under_repo_root() -> None:
    resolved = db.resolve_url("sqlite:///var/x.db")
    assert Path(resolved.database) == db.REPO_ROOT / "var" / "x.db"


def test_postgres_scheme_alias() -> None:
    assert db.resolve_url("postgres://u@h/d").get_backend_name() == "postgresql"


# --- pseudonyms ---------------------------------------------------------------------------


def test_pseudonym_is_stable_keyed_and_hides_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pseudonym.KEY_ENV, "key-one")
    first = pseudonym.pseudonymise("123456789")
    assert first == pseudonym.pseudonymise("123456789")
    assert len(first) == 32 and all(c in "0123456789abcdef" for c in first)
    assert "123456789" not in first
    assert first != pseudonym.pseudonymise("123456780")
    monkeypatch.setenv(pseudonym.KEY_ENV, "key-two")
    assert pseudonym.pseudonymise("123456789") != first


def test_pseudonym_key_file_is_created_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(pseudonym.KEY_ENV, raising=False)
    key_file = tmp_path / "var" / "id.key"
    monkeypatch.setattr(pseudonym, "KEY_FILE", key_file)
    first = pseudonym.pseudonymise("telegram-42")
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o777 == 0o600
    content = key_file.read_text()

    pseudonym._file_keys.clear()  # as after a restart
    assert pseudonym.pseudonymise("telegram-42") == first
    assert key_file.read_text() == content
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary files left


def test_different_key_files_give_different_ids(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(pseudonym.KEY_ENV, raising=False)
    monkeypatch.setattr(pseudonym, "KEY_FILE", tmp_path / "a.key")
    a = pseudonym.pseudonymise("same")
    monkeypatch.setattr(pseudonym, "KEY_FILE", tmp_path / "b.key")
    assert pseudonym.pseudonymise("same") != a
