"""Symmetric encryption for the few secrets we must keep: call-back numbers, relay chat ids.

Uses Fernet (AES-CBC + HMAC, with a timestamp), so a token cannot be read or altered without
the key. The key comes from env SMALL_HOURS_DATA_KEY (a Fernet key, as made by
``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``);
without it a key is made once and kept in var/data.key (mode 600), like var/id.key. Losing the
key makes stored numbers unreadable (``DecryptError``), which is safe: they are short-lived.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bot.store.db import VAR_DIR

KEY_ENV = "SMALL_HOURS_DATA_KEY"
KEY_FILE = VAR_DIR / "data.key"

_lock = threading.Lock()
_file_keys: dict[Path, bytes] = {}
_fernets: dict[bytes, Fernet] = {}


class DecryptError(ValueError):
    """A token could not be decrypted: the key changed or the token is corrupt."""


def _read_or_create_key_file(path: Path) -> bytes:
    """Read the key file, creating it atomically if missing (several processes may race)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(Fernet.generate_key().decode("ascii") + "\n")
            # os.link fails if another process got there first: then we use theirs.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise RuntimeError(f"empty data key file {path}")
    return key.encode("ascii")


def _fernet_for(key: bytes, source: str) -> Fernet:
    fernet = _fernets.get(key)
    if fernet is None:
        try:
            fernet = Fernet(key)
        except (ValueError, TypeError):
            # Never echo the key itself: it may be a real secret with a typo.
            raise ValueError(
                f"{source} is not a valid Fernet key (32 url-safe base64-encoded bytes, "
                "e.g. from cryptography.fernet.Fernet.generate_key())"
            ) from None
        _fernets[key] = fernet
    return fernet


def _fernet() -> Fernet:
    env_key = os.environ.get(KEY_ENV)
    with _lock:
        if env_key:
            return _fernet_for(env_key.strip().encode("utf-8"), KEY_ENV)
        path = KEY_FILE
        if path not in _file_keys:
            _file_keys[path] = _read_or_create_key_file(path)
        return _fernet_for(_file_keys[path], f"the key file {path}")


def encrypt(text: str) -> str:
    """Encrypt a short string; the result is ASCII, safe for a Text column."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt what ``encrypt`` made; ``DecryptError`` if the key changed or it was altered."""
    fernet = _fernet()
    try:
        return fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError, TypeError, AttributeError) as exc:
        raise DecryptError("cannot decrypt: the data key changed or the token is corrupt") from exc
