"""Trackers and a throwaway database for action tests.

Trackers are built from plain dicts, as the action server receives them (Tracker.from_dict).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.store import db

SENDER_ID = "tg-5f2a9c"
UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/x"

BABY_AGE_DOMAIN: dict[str, Any] = {
    "forms": {"baby_age_form": {"required_slots": ["baby_age_weeks"]}},
    "slots": {
        "baby_age_weeks": {
            "type": "any",
            "influence_conversation": False,
            "mappings": [
                {
                    "type": "from_text",
                    "conditions": [
                        {"active_loop": "baby_age_form", "requested_slot": "baby_age_weeks"}
                    ],
                }
            ],
        },
        "baby_stage": {"type": "categorical", "mappings": [{"type": "custom"}]},
    },
}


def tracker_dict(
    intent: str | None = None,
    text: str = "",
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    active_loop: dict[str, Any] | None = None,
    confidence: float = 1.0,
) -> dict[str, Any]:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "intent_ranking": [],
        "entities": [],
    }
    return {
        "sender_id": SENDER_ID,
        "slots": {"baby_age_weeks": None, "baby_stage": None, **(slots or {})},
        "latest_message": latest,
        "events": events
        or [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "parse_data": latest},
        ],
        "paused": False,
        "followup_action": None,
        "active_loop": active_loop or {},
        "latest_action_name": "action_listen",
    }


def make_tracker(**kwargs: Any) -> Tracker:
    return Tracker.from_dict(tracker_dict(**kwargs))


def form_tracker(
    answer: Any,
    intent: str = "tell_baby_age",
    confidence: float = 0.9,
    earlier: list[dict[str, Any]] | None = None,
) -> Tracker:
    """The tracker as the form hands it over: the from_text answer is the last SlotSet."""
    text = answer if isinstance(answer, str) else str(answer)
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence}}
    return Tracker.from_dict(
        tracker_dict(
            intent=intent,
            confidence=confidence,
            text=text,
            slots={"requested_slot": "baby_age_weeks", "baby_age_weeks": answer},
            events=[
                {"event": "active_loop", "name": "baby_age_form"},
                {"event": "slot", "name": "requested_slot", "value": "baby_age_weeks"},
                *(earlier or []),
                {"event": "action", "name": "action_listen"},
                {"event": "user", "text": text, "parse_data": latest},
                {"event": "slot", "name": "baby_age_weeks", "value": answer},
            ],
            active_loop={"name": "baby_age_form"},
        )
    )


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(autouse=True)
def id_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed pseudonym key, so tests never create var/id.key in the repo."""
    monkeypatch.setenv("SMALL_HOURS_ID_KEY", "test-key")


@pytest.fixture
def store_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'actions.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    db.dispose_engines()


@pytest.fixture
def unreachable_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_DB)
    yield UNREACHABLE_DB
    db.dispose_engines()
