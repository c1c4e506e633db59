"""Start and supervise the Small Hours processes: the action server and Rasa.

Usage: python scripts/supervise.py chat|serve|telegram|actions

- chat:    action server and Rasa server, then scripts/chat.py in this terminal.
- serve:   action server, then `rasa run` with the REST channel and the HTTP API.
- telegram: as serve, then the Telegram front end (python -m bot.telegram, settings from env:
           TELEGRAM_BOT_TOKEN is required; see bot/telegram/config.py).
- actions: the action server only (used by tests).

Every child runs in its own process group. SIGINT/SIGTERM stops all of them (SIGTERM, then
SIGKILL after 10 s); if one child dies the others are stopped and the exit code is non-zero.
Ports come from RASA_PORT (5005) and ACTIONS_PORT (5055); ACTION_SERVER_URL is derived from
ACTIONS_PORT when unset. The model must contain the safety layer or nothing starts.

The same logic is importable: ``start_stack("serve") -> Stack`` and ``Stack.stop()``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.safety.model_check import assert_model_has_safety_layer  # noqa: E402
from scripts._common import MODEL_PATH, HttpClient, rasa_env, rel, venv_bin  # noqa: E402

MODES = ("chat", "serve", "telegram", "actions")
TELEGRAM_SETTLE = 3.0  # the front end has no health URL: it must stay up this long
STOP_GRACE_SECONDS = 10.0
ACTIONS_TIMEOUT = 120.0
RASA_TIMEOUT = 300.0
POLL_SECONDS = 0.25


class StackError(RuntimeError):
    """A process of the stack failed to start or died; the message is one clear line."""


class SettingsError(StackError):
    """A setting (e.g. TELEGRAM_BOT_TOKEN) is missing or wrong: exit code 2, nothing started."""


class _Stop(BaseException):
    """Raised from the signal handler to unwind the supervisor."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class Child:
    """One supervised process (the leader of its own process group)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """Process id (also the process group id)."""
        return self.popen.pid

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self.popen.poll()

    def where_output(self) -> str:
        """Where to look for this child's output."""
        return f"see {rel(self.log_path)}" if self.log_path else "see its output above"


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _group_alive(pgid: int) -> bool:
    return _signal_group(pgid, 0)


def stop_children(children: list[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every child's process group, then SIGKILL whatever is left after ``grace``."""
    for child in reversed(children):
        _signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        remaining = max(0.0, deadline - time.monotonic())
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.popen.wait(timeout=remaining)
    while time.monotonic() < deadline and any(_group_alive(c.pid) for c in children):
        time.sleep(0.1)  # grandchildren (server workers) still shutting down
    for child in children:
        if _group_alive(child.pid):
            _signal_group(child.pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.popen.wait(timeout=5)


@dataclass
class Stack:
    """The running processes of one mode, with their URLs."""

    mode: str
    rasa_port: int
    actions_port: int
    children: list[Child] = field(default_factory=list)
    _stopped: bool = False

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rest_url(self) -> str:
        """URL of the REST channel webhook."""
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def actions_url(self) -> str:
        """Base URL of the action server."""
        return f"http://127.0.0.1:{self.actions_port}"

    def child(self, name: str) -> Child | None:
        """The child called ``name`` ("actions", "rasa", "chat" or "telegram")."""
        return next((c for c in self.children if c.name == name), None)

    def dead_child(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if c.exited() is not None), None)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop every process of the stack (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        stop_children(self.children, grace)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_ACTIVE: list[Stack] = []  # every stack started in this process


def _stop_active() -> None:
    for stack in _ACTIVE:
        stack.stop()


atexit.register(_stop_active)


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise StackError(f"{name}={port} is not a valid port")
    return port


def _spawn(
    stack: Stack,
    name: str,
    cmd: list[str],
    env: Mapping[str, str],
    log_dir: Path | None,
    cwd: Path,
    foreground: bool = False,
) -> Child:
    """Start ``cmd`` in a new session (own process group), output to the terminal or a log."""
    log_path = None
    stdout: IO[Any] | None = None
    if log_dir is not None and not foreground:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        stdout = log_path.open("wb")
    # A stop signal arriving between starting the process and recording it would leave an
    # orphan; hold the signals back until the child is in the stack (the child unblocks them).
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED_SIGNALS)
    try:
        popen = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=dict(env),
            stdin=None if foreground else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            start_new_session=True,
            preexec_fn=_unblock_signals,
        )
        child = Child(name=name, popen=popen, log_path=log_path)
        stack.children.append(child)
    except OSError as exc:
        raise StackError(f"could not start {name} ({exc}); run `make install` first") from exc
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if stdout is not None:
            stdout.close()
    return child


def _unblock_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED_SIGNALS)


def _wait_until(
    child: Child,
    ready: Callable[[], bool],
    what: str,
    timeout: float,
) -> None:
    """Poll ``ready`` until it is true; fail if ``child`` dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        code = child.exited()
        if code is not None:
            raise StackError(
                f"the {child.name} process exited with code {code} while starting; "
                f"{child.where_output()}"
            )
        try:
            if ready():
                return
        except (OSError, ValueError, RuntimeError):
            pass
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not become ready within {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def _actions_healthy(client: HttpClient) -> bool:
    status, body = client.get("/health")
    return status == 200 and isinstance(body, dict) and body.get("status") == "ok"


def _rasa_model_loaded(client: HttpClient) -> bool:
    status, _ = client.get("/")
    if status != 200:
        return False
    status, body = client.get("/status")
    return status == 200 and isinstance(body, dict) and bool(body.get("model_file"))


def start_front_end(name: str, env: Mapping[str, str], log_path: Path) -> Child:
    """The Telegram front end alone, in the background, output to ``log_path``.

    For callers that manage Rasa themselves (bench, end-to-end tests); stop it with
    stop_children([child]).
    """
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [venv_bin("python"), "-m", "bot.telegram"],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name=name, popen=popen, log_path=log_path)


def start_stack(
    mode: str,
    *,
    model: Path | str = MODEL_PATH,
    rasa_port: int | None = None,
    actions_port: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    actions_timeout: float = ACTIONS_TIMEOUT,
    rasa_timeout: float = RASA_TIMEOUT,
    root: Path = ROOT,
) -> Stack:
    """Start the processes for ``mode`` and return once they are ready.

    ``chat`` returns right after starting the chat client (it owns the terminal). Raises
    StackError (one clear line) on failure, after stopping whatever was started, and SystemExit
    when the model lacks the safety layer. ``log_dir`` sends the children's output to
    ``<log_dir>/<name>.log`` instead of the terminal. ``root`` is the project folder the
    children run in (actions/, endpoints.yml, credentials.yml, var/).
    """
    if mode not in MODES:
        raise StackError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    explicit_actions_port = actions_port is not None
    rasa_port = rasa_port if rasa_port is not None else _env_port("RASA_PORT", 5005)
    actions_port = actions_port if actions_port is not None else _env_port("ACTIONS_PORT", 5055)
    model = Path(model)
    if mode != "actions":
        if not model.is_absolute():
            model = root / model
        assert_model_has_safety_layer(model)

    env = rasa_env(dict(extra_env) if extra_env else None)
    if explicit_actions_port or not env.get("ACTION_SERVER_URL"):
        env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{actions_port}/webhook"
    if mode == "telegram":
        env.setdefault("RASA_URL", f"http://127.0.0.1:{rasa_port}")
        _check_telegram_settings(env)
    (root / "var").mkdir(exist_ok=True)  # default SQLite tracker store lives here

    ports = [("ACTIONS_PORT", actions_port)]
    if mode != "actions":
        ports.append(("RASA_PORT", rasa_port))
    for name, port in ports:
        if port_in_use(port):
            raise StackError(
                f"port {port} is already in use (is Small Hours already running?); "
                f"stop it or set {name} to a free port"
            )

    stack = Stack(mode=mode, rasa_port=rasa_port, actions_port=actions_port)
    _ACTIVE.append(stack)  # stopped at interpreter exit if the caller forgets
    rasa = venv_bin("rasa")
    try:
        actions = _spawn(
            stack,
            "actions",
            [rasa, "run", "actions", "--port", str(actions_port), "--actions", "actions"],
            env,
            log_dir,
            root,
        )
        client = HttpClient(stack.actions_url, timeout=5)
        try:
            _wait_until(
                actions, lambda: _actions_healthy(client), "the action server", actions_timeout
            )
        finally:
            client.close()

        if mode in ("serve", "telegram", "chat"):
            server = _spawn(
                stack,
                "rasa",
                [
                    rasa,
                    "run",
                    "--model",
                    str(model),
                    "--endpoints",
                    "endpoints.yml",
                    "--credentials",
                    "credentials.yml",
                    "--port",
                    str(rasa_port),
                    "--enable-api",
                ],
                env,
                log_dir,
                root,
            )
            client = HttpClient(stack.rasa_url, timeout=5)
            try:
                _wait_until(
                    server, lambda: _rasa_model_loaded(client), "the Rasa server", rasa_timeout
                )
            finally:
                client.close()
        if mode == "telegram":
            front_end = _spawn(
                stack, "telegram", [venv_bin("python"), "-m", "bot.telegram"], env, log_dir, root
            )
            settle = time.monotonic() + TELEGRAM_SETTLE
            _wait_until(
                front_end,
                lambda: time.monotonic() > settle,
                "the Telegram front end",
                TELEGRAM_SETTLE + 5,
            )
        elif mode == "chat":
            # our REST chat client, not `rasa shell` (which tracebacks on Ctrl-C at buttons)
            _spawn(
                stack,
                "chat",
                [venv_bin("python"), "scripts/chat.py", "--url", stack.rasa_url],
                env,
                log_dir,
                root,
                foreground=True,
            )
    except BaseException:
        stack.stop()
        raise
    return stack


def _check_telegram_settings(env: Mapping[str, str]) -> None:
    """Fail before starting anything when the front end's settings are missing or wrong."""
    from bot.telegram.config import ConfigError, load_config

    try:
        load_config(env)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from None


_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_stop(signum: int, _frame: object) -> None:
    # Further signals are ignored: the teardown is bounded by the SIGKILL grace period anyway.
    _ignore_signals()
    raise _Stop(signum)


def _ignore_signals() -> None:
    for sig in _HANDLED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _save_terminal() -> list[Any] | None:
    """The terminal settings of stdin, if it is a terminal."""
    try:
        return termios.tcgetattr(sys.stdin.fileno()) if sys.stdin.isatty() else None
    except (termios.error, OSError, ValueError):
        return None


def _restore_terminal(saved: list[Any] | None) -> None:
    """Undo a raw mode left behind by a killed `rasa shell`."""
    if saved is None:
        return
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    except (termios.error, OSError, ValueError):
        pass
    finally:
        signal.signal(signal.SIGTTOU, previous)


def supervise(mode: str) -> int:
    """Run ``mode`` until a signal arrives or a child ends; return the exit code."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in _HANDLED_SIGNALS}
    terminal = _save_terminal() if mode == "chat" else None
    stack: Stack | None = None
    try:
        stack = start_stack(mode)
        if mode == "serve":
            print(f"Small Hours is up: REST {stack.rest_url}", flush=True)
        elif mode == "telegram":
            print(f"Small Hours is up on Telegram (Rasa at {stack.rasa_url})", flush=True)
        elif mode == "actions":
            print(f"Small Hours action server is up: {stack.actions_url}/webhook", flush=True)
        dead = stack.dead_child()
        while dead is None:
            time.sleep(POLL_SECONDS)
            dead = stack.dead_child()
        _ignore_signals()
        code = dead.exited()
        stack.stop()
        if dead.name == "chat" and code == 0:
            return 0
        print(
            f"error: the {dead.name} process stopped unexpectedly (exit code {code}); "
            f"stopped the others; {dead.where_output()}",
            file=sys.stderr,
        )
        return 1
    except _Stop:
        if stack is not None:
            stack.stop()
        print("Small Hours stopped.", file=sys.stderr)
        return 0
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsError) else 1
    finally:
        _restore_terminal(terminal)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=MODES)
    args = parser.parse_args(argv)
    return supervise(args.mode)


if __name__ == "__main__":
    sys.exit(main())
