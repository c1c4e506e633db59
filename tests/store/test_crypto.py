"""bot.store.crypto: round trips, wrong keys, corrupt tokens and the var/data.key file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.store import crypto


@pytest.fixture(autouse=True)
def isolated_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env key, a key file under tmp_path and empty caches (never touch the repo's var/)."""
    monkeypatch.delenv(crypto.KEY_ENV, raising=False)
    key_file = tmp_path / "var" / "data.key"
    monkeypatch.setattr(crypto, "KEY_FILE", key_file)
    monkeypatch.setattr(crypto, "_file_keys", {})
    monkeypatch.setattr(crypto, "_fernets", {})
    return key_file


@pytest.mark.parametrize("plain", ["07700900123", "-1001234567890", "", "café ☕"])
def test_round_trip(plain: str) -> None:
    token = crypto.encrypt(plain)
    assert crypto.decrypt(token) == plain
    assert token.isascii()
    if plain:
        assert plain not in token


def test_tokens_are_randomised() -> None:
    assert crypto.encrypt("07700900123") != crypto.encrypt("07700900123")


def test_wrong_key_raises_decrypt_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(crypto.KEY_ENV, Fernet.generate_key().decode())
    token = crypto.encrypt("07700900123")
    monkeypatch.setenv(crypto.KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(token)


def test_decrypt_error_is_a_value_error() -> None:
    assert issubclass(crypto.DecryptError, ValueError)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),  # altered
        lambda t: t[: len(t) // 2],  # truncated
        lambda t: "not a token",
        lambda t: "",
        lambda t: "é" + t,  # not ASCII
    ],
)
def test_corrupt_token_raises_decrypt_error(corrupt: Callable[[str], str]) -> None:
    token = crypto.encrypt("07700900123")
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(corrupt(token))


def test_key_file_is_created_once_with_mode_600(isolated_key: Path) -> None:
    token = crypto.encrypt("secret")
    assert isolated_key.exists()
    assert isolated_key.stat().st_mode & 0o777 == 0o600
    content = isolated_key.read_text()
    Fernet(content.strip().encode())  # a valid Fernet key

    crypto._file_keys.clear()  # as after a restart
    crypto._fernets.clear()
    assert crypto.decrypt(token) == "secret"
    assert isolated_key.read_text() == content
    assert list(isolated_key.parent.iterdir()) == [isolated_key]  # no temporary files left


def test_racing_creators_agree_on_one_key(isolated_key: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        keys.append(crypto._read_or_create_key_file(isolated_key))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert list(isolated_key.parent.iterdir()) == [isolated_key]


def test_env_key_is_used_and_no_file_is_made(
    monkeypatch: pytest.MonkeyPatch, isolated_key: Path
) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(crypto.KEY_ENV, key.decode())
    token = crypto.encrypt("07700900123")
    assert Fernet(key).decrypt(token.encode()) == b"07700900123"
    assert crypto.decrypt(Fernet(key).encrypt(b"x").decode()) == "x"
    assert not isolated_key.exists()


@pytest.mark.parametrize("bad", ["not-a-key", "c2hvcnQ=", "x" * 44])
def test_bad_env_key_is_a_clear_value_error(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(crypto.KEY_ENV, bad)
    with pytest.raises(ValueError, match=crypto.KEY_ENV) as caught:
        crypto.encrypt("07700900123")
    assert not isinstance(caught.value, crypto.DecryptError)
    assert bad not in str(caught.value)  # the (possibly real) key is never echoed


def test_encrypt_wants_text() -> None:
    with pytest.raises(TypeError):
        crypto.encrypt(7700900123)  # type: ignore[arg-type]
