"""End-to-end fixtures: the real Rasa server and action server, talked to over the REST channel.

One stack is started per test session (Rasa takes 20-50 s to load the model) through
``scripts.supervise.start_stack``, on unusual free ports so a developer's ``make serve`` is never
disturbed, with everything it writes (tracker store, our tables, logs) under a temporary folder
and a throwaway pseudonym key, so the tests leave nothing behind in var/.

Tests that need the action server in a given state ask ``bot.actions(...)`` for it: "up",
"down" (only the action server process stopped; Rasa keeps running), or "bad_db" (an action
server whose DATABASE_URL points at a database that refuses connections, while Rasa's own tracker
store keeps its working URL: each process reads DATABASE_URL from its own environment).
"""

from __future__ import annotations

import http.client
import json
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts._common import MODEL_PATH, rel
from scripts.supervise import Child, Stack, StackError, port_in_use, start_stack, stop_children

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_DIR = ROOT / "domain"
SOURCES_FILE = ROOT / "content" / "sources.yml"

# Away from 5005/5055 (make serve) and from the usual test ports; the first free pair is used.
PORT_RANGE = range(5105, 5200)
# Nothing listens here: connections are refused at once, like a database that is down.
UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/small_hours_e2e"
HTTP_TIMEOUT = 90.0
EMERGENCY_FIRST_LINE = "Call 999 now."
MAX_MESSAGE_CHARS = 1000  # a reply message must fit a phone screen or two
ACTION_STATES = ("up", "down", "bad_db")


def require_model() -> Path:
    """The trained model, or one clear failure telling how to make it."""
    if not MODEL_PATH.is_file():
        pytest.fail(
            f"No trained model at {rel(MODEL_PATH)}: run `make train` first "
            "(`make test` trains before running pytest).",
            pytrace=False,
        )
    return MODEL_PATH


def _free_ports(count: int, taken: set[int] | None = None) -> list[int]:
    taken = set(taken or ())
    found = []
    for port in PORT_RANGE:
        if port not in taken and not port_in_use(port):
            found.append(port)
            if len(found) == count:
                return found
    pytest.fail(f"no free port between {PORT_RANGE.start} and {PORT_RANGE.stop - 1}")


# --------------------------------------------------------------------------- domain content
def _load_responses() -> dict[str, list[str]]:
    """Every response name in domain/*.yml with the texts of its variants."""
    responses: dict[str, list[str]] = {}
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variants in (data.get("responses") or {}).items():
            texts = [
                v["text"].strip() for v in variants or [] if isinstance(v, dict) and "text" in v
            ]
            responses.setdefault(name, []).extend(texts)
    return responses


RESPONSES = _load_responses()
SAFETY_RESPONSES = sorted(n for n in RESPONSES if n.startswith("utter_safety_"))
SOURCE_NAMES = set((yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8")) or {})["sources"])


def joined_text(replies: list[dict[str, Any]]) -> str:
    """The reply as one text. The REST channel splits a button-less text at blank lines."""
    return "\n\n".join(str(r.get("text") or "") for r in replies).strip()


def is_response(replies: list[dict[str, Any]], name: str) -> bool:
    """True when the bot's messages are exactly one variant of domain response ``name``."""
    return joined_text(replies) in RESPONSES[name]


def safety_response_in(replies: list[dict[str, Any]]) -> str | None:
    """The name of the safety response these messages are, if any."""
    text = joined_text(replies)
    for name in SAFETY_RESPONSES:
        if text in RESPONSES[name] or any(v and v in text for v in RESPONSES[name]):
            return name
    if any(str(r.get("text") or "").startswith(EMERGENCY_FIRST_LINE) for r in replies):
        return "utter_safety_emergency"
    return None


def assert_kind_reply(replies: list[dict[str, Any]], what: str) -> None:
    """A real answer: at least one non-empty message and no safety escalation."""
    assert replies, f"{what}: the bot sent no reply at all"
    assert all(isinstance(r, dict) for r in replies), f"{what}: malformed reply {replies!r}"
    assert joined_text(replies), f"{what}: the reply has no text: {replies!r}"
    tier = safety_response_in(replies)
    assert tier is None, f"{what}: got the safety reply {tier}: {joined_text(replies)[:200]!r}"


def assert_no_traceback(body: str, what: str) -> None:
    for marker in ("Traceback", 'File "/', "site-packages", "Exception:"):
        assert marker not in body, f"{what}: the response body leaks internals ({marker!r})"


# --------------------------------------------------------------------------- HTTP
@dataclass
class RawResponse:
    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = "application/json",
    timeout: float = HTTP_TIMEOUT,
) -> RawResponse:
    """One request on a fresh connection (safe to call from many threads at once)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": content_type} if content_type and body is not None else {}
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return RawResponse(
        response.status, raw.decode("utf-8", errors="replace"), time.monotonic() - started
    )


@dataclass
class Bot:
    """The running stack and the ways tests talk to it."""

    stack: Stack
    workdir: Path
    db_path: Path
    db_url: str
    id_key: str
    _actions_state: str = "up"
    _actions_children: list[Child] = field(default_factory=list)
    _extra_stacks: list[Stack] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _starts: int = 0
    replies_seen: list[dict[str, Any]] = field(default_factory=list)

    # ---- addresses
    @property
    def rasa_port(self) -> int:
        return self.stack.rasa_port

    @property
    def actions_port(self) -> int:
        return self.stack.actions_port

    @property
    def actions_log(self) -> Path:
        return self.workdir / "logs" / f"actions-{self._starts}" / "actions.log"

    # ---- the action server
    def actions(self, state: str) -> None:
        """Put the action server in ``state`` ("up", "down", "bad_db"); Rasa is never touched."""
        assert state in ACTION_STATES, state
        if state == self._actions_state:
            return
        if self._actions_children:
            stop_children(self._actions_children, grace=5)
            self._actions_children = []
        deadline = time.monotonic() + 10
        while port_in_use(self.actions_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not port_in_use(self.actions_port), "the action server did not stop"
        self._actions_state = "down"
        if state == "down":
            return
        env = self._env(actions_db=UNREACHABLE_DB if state == "bad_db" else self.db_url)
        self._starts += 1
        try:
            extra = start_stack(
                "actions",
                actions_port=self.actions_port,
                extra_env=env,
                log_dir=self.actions_log.parent,
            )
        except StackError as exc:
            pytest.fail(f"could not restart the action server: {exc}", pytrace=False)
        self._extra_stacks.append(extra)
        self._actions_children = list(extra.children)
        self._actions_state = state

    def _env(self, actions_db: str | None = None) -> dict[str, str]:
        return {
            "DATABASE_URL": actions_db or self.db_url,
            "SMALL_HOURS_ID_KEY": self.id_key,
            "RASA_TELEMETRY_ENABLED": "false",
        }

    def rasa_alive(self) -> bool:
        child = self.stack.child("rasa")
        return child is not None and child.exited() is None

    def stop(self) -> None:
        if self._actions_children:
            stop_children(self._actions_children, grace=5)
        for extra in self._extra_stacks:
            extra.stop(grace=5)
        self.stack.stop()

    # ---- talking
    def post_raw(
        self, body: bytes | None, content_type: str | None = "application/json"
    ) -> RawResponse:
        return http_request(self.rasa_port, "POST", "/webhooks/rest/webhook", body, content_type)

    def send(self, sender: str, text: str) -> list[dict[str, Any]]:
        """One message; returns the bot's messages (fails the test on anything but 200 + list)."""
        raw = self.post_raw(json.dumps({"sender": sender, "message": text}).encode("utf-8"))
        assert raw.status == 200, f"HTTP {raw.status} for {text[:60]!r}: {raw.body[:300]}"
        replies = raw.json()
        assert isinstance(replies, list), f"not a list: {raw.body[:300]}"
        with self._lock:
            self.replies_seen.extend(replies)
        return replies

    def parse(self, text: str) -> dict[str, Any]:
        """NLU only (HTTP API), no conversation."""
        body = json.dumps({"text": text}).encode("utf-8")
        raw = http_request(self.rasa_port, "POST", "/model/parse", body)
        assert raw.status == 200, raw.body[:300]
        return raw.json()

    def tracker(self, sender: str) -> dict[str, Any]:
        raw = http_request(self.rasa_port, "GET", f"/conversations/{sender}/tracker")
        assert raw.status == 200, raw.body[:300]
        return raw.json()

    def active_form(self, sender: str) -> str | None:
        return (self.tracker(sender).get("active_loop") or {}).get("name")

    # ---- our tables
    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of one of our tables (empty when the table does not exist yet)."""
        if not self.db_path.exists():
            return []
        conn = sqlite3.connect(self.db_path, timeout=15)
        try:
            conn.row_factory = sqlite3.Row
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).fetchone()
            if not exists:
                return []
            return [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]  # noqa: S608
        finally:
            conn.close()


def new_sender(prefix: str = "e2e") -> str:
    """A fresh conversation id."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """The Small Hours stack (Rasa + action server), started once for all e2e tests."""
    model = require_model()
    workdir = tmp_path_factory.mktemp("e2e")
    db_path = workdir / "small-hours-e2e.db"
    db_url = f"sqlite:///{db_path}"
    id_key = secrets.token_hex(16)
    rasa_port, actions_port = _free_ports(2)
    env = {"DATABASE_URL": db_url, "SMALL_HOURS_ID_KEY": id_key, "RASA_TELEMETRY_ENABLED": "false"}
    try:
        stack = start_stack(
            "serve",
            model=model,
            rasa_port=rasa_port,
            actions_port=actions_port,
            extra_env=env,
            log_dir=workdir / "logs" / "actions-0",
        )
    except StackError as exc:
        pytest.fail(f"the Small Hours stack did not start: {exc}", pytrace=False)
    except SystemExit as exc:  # the model has no safety layer, or cannot be read
        pytest.fail(str(exc), pytrace=False)
    running = Bot(stack=stack, workdir=workdir, db_path=db_path, db_url=db_url, id_key=id_key)
    running._actions_children = [c for c in stack.children if c.name == "actions"]
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def actions_up(bot: Bot) -> Bot:
    bot.actions("up")
    return bot
