"""UrlSQLTrackerStore: one URL, SQLite and PostgreSQL, created the way Rasa creates it."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.store import db
from bot.store.tracker_store import UrlSQLTrackerStore

# The PostgreSQL fixtures (fresh schema per test) live with the repository tests.
from tests.store.test_repository import pg_base_url, pg_url  # noqa: F401

ENDPOINTS = db.REPO_ROOT / "endpoints.yml"

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # Rasa warns "auto-fill removed" on any slot
    DOMAIN = Domain.from_yaml(
        """
version: "3.1"
intents:
  - greet
slots:
  baby_stage:
    type: text
    influence_conversation: false
    mappings:
      - type: custom
"""
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'nested' / 'rasa.db'}"
    db.dispose_engines()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def make_tracker(sender_id: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender_id,
        [
            ActionExecuted("action_session_start", timestamp=1.0),
            SessionStarted(timestamp=1.0),
            ActionExecuted("action_listen", timestamp=1.0),
            UserUttered("hi", {"name": "greet", "confidence": 1.0}, timestamp=2.0),
            SlotSet("baby_stage", "newborn", timestamp=3.0),
            ActionExecuted("utter_greet", timestamp=3.0),
        ],
        slots=DOMAIN.slots,
    )


async def _roundtrip(store: UrlSQLTrackerStore) -> None:
    await store.save(make_tracker("alice"))
    await store.save(make_tracker("bob"))

    found = await store.retrieve("alice")
    assert found is not None
    assert list(found.events) == list(make_tracker("alice").events)
    assert found.get_slot("baby_stage") == "newborn"
    assert set(await store.keys()) == {"alice", "bob"}

    assert await store.delete("alice") == 6
    assert await store.retrieve("alice") is None
    assert await store.retrieve("bob") is not None
    assert await store.delete("alice") == 0


def test_save_retrieve_delete(url: str) -> None:
    store = UrlSQLTrackerStore(domain=DOMAIN, url=url)
    try:
        asyncio.run(_roundtrip(store))
    finally:
        store.engine.dispose()


def test_sqlite_folder_is_created(sqlite_url: str, tmp_path: Path) -> None:
    store = UrlSQLTrackerStore(domain=DOMAIN, url=sqlite_url)
    assert (tmp_path / "nested" / "rasa.db").exists()
    store.engine.dispose()


def test_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    store = UrlSQLTrackerStore(domain=DOMAIN)
    assert store.engine.url.database == str(tmp_path / "nested" / "rasa.db")
    store.engine.dispose()


def test_created_by_rasa_from_endpoint_config(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Rasa calls the class with host=<endpoint url> (None here), domain and event_broker."""
    monkeypatch.setenv("DATABASE_URL", url)
    store = TrackerStore.create(
        EndpointConfig(type="bot.store.tracker_store.UrlSQLTrackerStore"), domain=DOMAIN
    )
    # async methods, so Rasa uses it directly rather than wrapping it
    assert isinstance(store, UrlSQLTrackerStore)
    try:
        asyncio.run(_roundtrip(store))
    finally:
        store.engine.dispose()


def test_created_from_the_projects_endpoints_yml(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook")
    config = read_endpoint_config(str(ENDPOINTS), "tracker_store")
    assert config is not None
    store = TrackerStore.create(config, domain=DOMAIN)
    assert isinstance(store, UrlSQLTrackerStore)
    assert store.engine.url.database == str(tmp_path / "nested" / "rasa.db")
    store.engine.dispose()
