"""Rasa's SQL tracker store, configured from one database URL (env DATABASE_URL).

endpoints.yml only says ``type: bot.store.tracker_store.UrlSQLTrackerStore``. Rasa then calls
``UrlSQLTrackerStore(host=None, domain=..., event_broker=...)``, so the URL is read here rather
than split into dialect/host/port/db keys in endpoints.yml.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain

from bot.store.db import database_url, resolve_url

logger = logging.getLogger(__name__)


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
