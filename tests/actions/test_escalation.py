from __future__ import annotations

import asyncio
import logging

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import ActionRecordEscalation
from bot.store.pseudonym import pseudonymise
from bot.store.repository import escalation_counts, export
from tests.actions.conftest import SENDER_ID, make_tracker


def run(intent: str | None, dispatcher: CollectingDispatcher) -> list:
    return asyncio.run(ActionRecordEscalation().run(dispatcher, make_tracker(intent=intent), {}))


def test_name() -> None:
    assert ActionRecordEscalation().name() == "action_record_escalation"


@pytest.mark.parametrize(
    ("intent", "tier"),
    [("safety_emergency", "emergency"), ("safety_edge", "edge"), ("safety_urgent", "urgent")],
)
def test_records_the_tier(
    store_url: str, dispatcher: CollectingDispatcher, intent: str, tier: str
) -> None:
    assert run(intent, dispatcher) == []
    assert dispatcher.messages == []
    assert escalation_counts(url=store_url)[tier] == 1
    kept = export(pseudonymise(SENDER_ID), url=store_url)
    assert [e["tier"] for e in kept["escalations"]] == [tier]
    assert export(SENDER_ID, url=store_url)["escalations"] == []  # raw id never stored


@pytest.mark.parametrize("intent", ["ask_colic", "safety_", "safety_unknown", None])
def test_ignores_non_safety_intents(
    store_url: str, dispatcher: CollectingDispatcher, intent: str | None
) -> None:
    assert run(intent, dispatcher) == []
    assert sum(escalation_counts(url=store_url).values()) == 0


def test_unreachable_database_does_not_raise(
    unreachable_store: str, dispatcher: CollectingDispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="actions.escalation"):
        assert run("safety_emergency", dispatcher) == []
    assert "OperationalError" in caplog.text
    assert "127.0.0.1" not in caplog.text and "nobody" not in caplog.text
