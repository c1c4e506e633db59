"""UrlSQLTrackerStore: one URL, SQLite and PostgreSQL, created the way Rasa creates it."""

from __future__ import annotations

import asyncio
import copy
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    EntitiesAdded,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.store import db
from bot.store.tracker_store import UrlSQLTrackerStore, redact_event

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
  callback_phone:
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


# --- phone number redaction ---------------------------------------------------------------

NUMBER_TEXT = "my number is 07700 900123, call after 3:30"
PARSE_DATA = {
    "intent": {"name": "give_phone", "confidence": 0.93},
    "entities": [
        {"entity": "phone", "value": "07700 900123", "start": 13, "end": 25, "extractor": "x"}
    ],
    "text": NUMBER_TEXT,
}


def make_phone_tracker(sender_id: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender_id,
        [
            ActionExecuted("action_session_start", timestamp=1.0),
            SessionStarted(timestamp=1.0),
            ActionExecuted("action_listen", timestamp=1.0),
            UserUttered(
                NUMBER_TEXT,
                PARSE_DATA["intent"],
                PARSE_DATA["entities"],
                parse_data=copy.deepcopy(PARSE_DATA),
                timestamp=2.0,
                input_channel="rest",
                message_id="m1",
            ),
            EntitiesAdded([{"entity": "phone", "value": "+44 7700 900123"}], timestamp=2.0),
            SlotSet("callback_phone", "07700900123", timestamp=3.0),
            SlotSet("baby_stage", "newborn", timestamp=3.0),
            BotUttered("Cry-sis is on 0800 448 0737 from 9am", timestamp=3.0),
            ActionExecuted("action_listen", timestamp=3.0),
        ],
        slots=DOMAIN.slots,
    )


def stored_rows(store: UrlSQLTrackerStore, sender_id: str) -> list[dict]:
    with store.session_scope() as session:
        rows = (
            session.query(store.SQLEvent)
            .filter(store.SQLEvent.sender_id == sender_id)
            .order_by(store.SQLEvent.id)
            .all()
        )
        return [json.loads(row.data) for row in rows]


async def _redaction(store: UrlSQLTrackerStore) -> None:
    tracker = make_phone_tracker("dad")
    before = [copy.deepcopy(e.as_dict()) for e in tracker.events]
    await store.save(tracker)

    # the running turn's tracker still has the real number (the form may need it)
    assert [e.as_dict() for e in tracker.events] == before
    assert tracker.get_slot("callback_phone") == "07700900123"
    assert tracker.latest_message.text == NUMBER_TEXT

    rows = stored_rows(store, "dad")
    assert len(rows) == len(tracker.events)
    raw = json.dumps(rows)
    assert "900123" not in raw and "7700" not in raw

    found = await store.retrieve("dad")
    assert found is not None
    user = found.latest_message
    assert user.text == "my number is [phone number], call after 3:30"
    assert user.parse_data["text"] == user.text
    assert user.intent_name == "give_phone"
    assert user.entities[0]["value"] == "[phone number]"
    assert user.entities[0]["entity"] == "phone" and user.entities[0]["start"] == 13
    assert user.input_channel == "rest" and user.message_id == "m1"
    assert found.get_slot("callback_phone") == "[phone number]"
    assert found.get_slot("baby_stage") == "newborn"
    # bot messages keep their (helpline) numbers
    assert "0800 448 0737" in [e for e in found.events if isinstance(e, BotUttered)][0].text
    assert len(found.events) == len(tracker.events)

    # the next turn appends only its new events, also redacted
    tracker.update(ActionExecuted("action_listen", timestamp=4.0))
    tracker.update(UserUttered("or 020 7946 0018 at home", {"name": "x"}, timestamp=5.0))
    await store.save(tracker)
    rows = stored_rows(store, "dad")
    assert len(rows) == len(tracker.events)
    assert rows[-1]["text"] == "or [phone number] at home"
    assert "7946" not in json.dumps(rows)


def test_phone_numbers_are_redacted_in_storage(url: str) -> None:
    store = UrlSQLTrackerStore(domain=DOMAIN, url=url)
    try:
        asyncio.run(_redaction(store))
    finally:
        store.engine.dispose()


def test_redact_event_leaves_the_original_alone() -> None:
    event = UserUttered(
        NUMBER_TEXT,
        PARSE_DATA["intent"],
        PARSE_DATA["entities"],
        parse_data=copy.deepcopy(PARSE_DATA),
        timestamp=2.0,
    )
    before = copy.deepcopy(event.as_dict())
    redacted = redact_event(event)
    assert redacted is not event and isinstance(redacted, UserUttered)
    assert event.as_dict() == before
    assert redacted.timestamp == event.timestamp
    assert "900123" not in json.dumps(redacted.as_dict())


def test_events_without_numbers_are_kept_as_they_are() -> None:
    events = [
        UserUttered("she is 6 weeks, fed at 3:30, 4.2kg, 38.5C", {"name": "x"}, timestamp=1.0),
        SlotSet("baby_stage", "newborn", timestamp=1.0),
        SlotSet("callback_phone", None, timestamp=1.0),
        SlotSet("callback_phone", "ending 123", timestamp=1.0),
        SlotSet("count", 7700900123, timestamp=1.0),  # not text: left alone
        ActionExecuted("utter_greet", timestamp=1.0),
        BotUttered("call 0800 448 0737", timestamp=1.0),
    ]
    for event in events:
        assert redact_event(event) is event


def test_slot_values_in_lists_are_redacted() -> None:
    redacted = redact_event(SlotSet("numbers", ["07700900123", "ok"], timestamp=1.0))
    assert isinstance(redacted, SlotSet)
    assert redacted.value == ["[phone number]", "ok"]
