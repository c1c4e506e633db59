"""Rasa's SQL tracker store, configured from one database URL (env DATABASE_URL).

endpoints.yml only says ``type: bot.store.tracker_store.UrlSQLTrackerStore``. Rasa then calls
``UrlSQLTrackerStore(host=None, domain=..., event_broker=...)``, so the URL is read here rather
than split into dialect/host/port/db keys in endpoints.yml.

Phone numbers never reach the stored history: every event is written as a redacted copy (the
user's text, its parse data and entities, slot values), while the tracker of the running turn
keeps the real text so the call-back form can still read the number it was just given.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.phone import redact_phone_numbers
from bot.store.db import database_url, resolve_url

logger = logging.getLogger(__name__)


def _redact(value: Any) -> Any:
    """Every string in a JSON-like value with phone numbers replaced (a new value)."""
    if isinstance(value, str):
        return redact_phone_numbers(value)
    if isinstance(value, list):
        return [_redact(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    return value


def _redact_entities(entities: Any) -> Any:
    # Entity names and extractors never look like numbers; values and their text may.
    return _redact(entities) if isinstance(entities, list) else entities


def redact_event(event: Event) -> Event:
    """A copy of the event with phone numbers removed, or the event itself if it had none.

    Covers what a dad typed (user text, parse data text and entities, added entities) and
    slot values. Bot messages are left alone: helpline numbers there are meant to be kept.
    """
    data = event.as_dict()
    if event.type_name == "user":
        redacted = copy.deepcopy(data)  # parse_data is shared with the live event
        redacted["text"] = _redact(data.get("text"))
        parse_data = redacted.get("parse_data")
        if isinstance(parse_data, dict):
            parse_data["text"] = _redact(parse_data.get("text"))
            if "entities" in parse_data:
                parse_data["entities"] = _redact_entities(parse_data["entities"])
    elif event.type_name == "slot":
        redacted = {**data, "value": _redact(data.get("value"))}
    elif event.type_name == "entities":
        redacted = {**data, "entities": _redact_entities(data.get("entities"))}
    else:
        return event
    if redacted == data:
        return event
    rebuilt = Event.from_parameters(redacted)
    return rebuilt if rebuilt is not None else event


class UrlSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore on SQLite or PostgreSQL, chosen by a single URL."""

    def __init__(
        self,
        domain: Domain | None = None,
        url: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        # Rasa passes the endpoint's `url:` as `host`; accept a full URL there too.
        host = kwargs.pop("host", None)
        if url is None and host and "://" in str(host):
            url = str(host)
        parsed = resolve_url(url or database_url())  # also creates the SQLite folder
        self.database_backend = parsed.get_backend_name()
        super().__init__(
            domain=domain,
            dialect=parsed.drivername,
            host=parsed.host,
            port=parsed.port,
            db=parsed.database,
            username=parsed.username,
            password=parsed.password,
            event_broker=event_broker,
            query=dict(parsed.query),
            **kwargs,
        )

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events Rasa is about to store, as redacted copies (the tracker is untouched)."""
        for event in super()._additional_events(session, tracker):
            yield redact_event(event)

    async def _stream_new_events(
        self, event_broker: EventBroker, new_events: Iterable[Event], sender_id: str
    ) -> None:
        """An event broker, if one is ever configured, gets the same redacted copies."""
        await super()._stream_new_events(
            event_broker, [redact_event(event) for event in new_events], sender_id
        )

    async def delete(self, sender_id: str) -> int:
        """Remove every stored event of a conversation; returns how many were deleted.

        Call it outside a running turn (e.g. from the channel after the reply): if an action
        deletes mid-turn, Rasa saves the whole in-memory tracker again at the end of the turn.
        """
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        logger.debug("Deleted %d tracker events for one conversation", deleted)
        return int(deleted)
