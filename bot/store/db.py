"""Database URL, engines and sessions for SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import Base

REPO_ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = REPO_ROOT / "var"
DEFAULT_URL = "sqlite:///var/small-hours.db"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_schema_ready: set[str] = set()


def database_url() -> str:
    """The configured database URL (env DATABASE_URL), SQLite under var/ by default."""
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def resolve_url(url: str | URL | None = None) -> URL:
    """Parse a URL; relative SQLite paths are made relative to the repo root (folder created).

    ``postgres://`` (as some hosts hand it out) is accepted as ``postgresql://``.
    """
    text = str(url) if isinstance(url, URL) else (url or database_url())
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    parsed = make_url(text)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = REPO_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        parsed = parsed.set(database=str(path))
    return parsed


def _key(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def get_engine(url: str | URL | None = None) -> Engine:
    """One engine per URL, created on first use."""
    resolved = resolve_url(url)
    key = _key(resolved)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if resolved.get_backend_name() == "sqlite":
                # Rasa and the action server may write to the same file: wait for locks.
                connect_args: dict[str, object] = {"timeout": 15}
            elif resolved.get_backend_name() == "postgresql":
                # Fail fast when the server is down rather than hang a reply.
                connect_args = {"connect_timeout": 5}
            else:
                connect_args = {}
            engine = create_engine(
                resolved, connect_args=connect_args, pool_pre_ping=True, future=True
            )
            _engines[key] = engine
        return engine


def create_schema(engine: Engine) -> None:
    """Create our tables if missing (idempotent)."""
    try:
        Base.metadata.create_all(engine)
    except (ProgrammingError, IntegrityError):
        # Another process created them at the same moment; a second pass sees them.
        Base.metadata.create_all(engine)


def _ensure_schema(engine: Engine) -> None:
    key = _key(engine.url)
    if key in _schema_ready:
        return
    with _lock:
        if key not in _schema_ready:
            create_schema(engine)
            _schema_ready.add(key)


@contextmanager
def session_scope(url: str | URL | None = None) -> Iterator[Session]:
    """A session that commits on success, rolls back on error and always closes."""
    engine = get_engine(url)
    _ensure_schema(engine)
    session = sessionmaker(bind=engine, future=True)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every cached engine (tests, and after a fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _schema_ready.clear()
