"""Keyed pseudonyms for conversation ids, so the database never holds a raw chat id.

The Telegram channel already hashes Telegram user ids into Rasa sender ids; the actions hash
the Rasa sender id once more before storing anything. Hashing twice is deterministic, so the
same person always maps to the same stored id, and neither id can be reversed without the key.

The key comes from env SMALL_HOURS_ID_KEY; without it a random key is made once and kept in
var/id.key (mode 600) so ids stay stable across restarts. Losing that file unlinks old rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from bot.store.db import VAR_DIR

KEY_ENV = "SMALL_HOURS_ID_KEY"
KEY_FILE = VAR_DIR / "id.key"
LENGTH = 32

_lock = threading.Lock()
_file_keys: dict[Path, bytes] = {}


def _read_or_create_key_file(path: Path) -> bytes:
    """Read the key file, creating it atomically if missing (several processes may race)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(32) + "\n")
            # os.link fails if another process got there first: then we use theirs.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise RuntimeError(f"empty pseudonym key file {path}")
    return key.encode("ascii")


def _key() -> bytes:
    env_key = os.environ.get(KEY_ENV)
    if env_key:
        return env_key.encode("utf-8")
    path = KEY_FILE
    with _lock:
        if path not in _file_keys:
            _file_keys[path] = _read_or_create_key_file(path)
        return _file_keys[path]


def pseudonymise(raw_id: str) -> str:
    """HMAC-SHA256 of the id under our key, first 32 hex characters (fits String(64))."""
    digest = hmac.new(_key(), str(raw_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:LENGTH]
