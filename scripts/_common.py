"""Shared helpers for the developer scripts (paths, environment, tiny HTTP client).

Only the standard library is used here so that every script starts quickly.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
MODEL_NAME = "small-hours"
MODELS_DIR = ROOT / "models"
MODEL_PATH = MODELS_DIR / f"{MODEL_NAME}.tar.gz"
RESULTS_DIR = ROOT / "results"


def venv_bin(name: str) -> str:
    """Return the executable ``name`` from the same virtualenv as this Python.

    ``sys.executable`` may be a symlink to the base interpreter, so the directory of the path as
    given (not the resolved one) is used; then sys.prefix, the repo's .venv and PATH.
    """
    folders = [Path(sys.executable).parent, Path(sys.prefix) / "bin", ROOT / ".venv" / "bin"]
    for folder in folders:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name) or name


def rasa_train_command(out_dir: Path, force: bool = False) -> list[str]:
    """The one `rasa train` command line the project uses (make train and make bench)."""
    cmd = [venv_bin("rasa"), "train", "--domain", "domain", "--data", "data"]
    cmd += ["--config", "config.yml", "--out", str(out_dir), "--fixed-model-name", MODEL_NAME]
    return [*cmd, "--force"] if force else cmd


def _quiet(env: dict[str, str] | os._Environ) -> None:
    """Telemetry off, TensorFlow and SQLAlchemy quiet, in ``env``."""
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")


def quiet_rasa_in_process() -> None:
    """The same for Rasa loaded in this process: call before anything imports Rasa."""
    import warnings

    _quiet(os.environ)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def rasa_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Rasa child processes: telemetry off, quiet TensorFlow, repo importable."""
    env = dict(os.environ)
    _quiet(env)
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    python_path = env.get("PYTHONPATH", "")
    if str(ROOT) not in python_path.split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), python_path) if p)
    if extra:
        env.update(extra)
    return env


def fail(message: str, code: int = 1) -> SystemExit:
    """Print one clear line to stderr and return a SystemExit to raise."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return SystemExit(code)


def rel(path: Path) -> str:
    """A path relative to the repo when possible, for short messages."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


class HttpClient:
    """A small keep-alive JSON client for one host (one instance per thread)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        """Close the underlying connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send a request and return (status, parsed JSON body or raw text).

        Retries once on a dropped keep-alive connection. Raises OSError (ConnectionError for a
        malformed response) when the server cannot be reached.
        """
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
            except OSError:
                self.close()
                raise
            except http.client.HTTPException as exc:
                self.close()
                raise ConnectionError(f"bad HTTP response ({type(exc).__name__})") from exc
        text = raw.decode("utf-8", errors="replace")
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    def get(self, path: str) -> tuple[int, Any]:
        """GET ``path``."""
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST ``body`` as JSON to ``path``."""
        return self.request("POST", path, body)


def rest_message(client: HttpClient, sender: str, text: str) -> list[dict[str, Any]]:
    """Send one message to Rasa's REST channel and return the bot's replies.

    Raises RuntimeError when the server answers with anything but a JSON list.
    """
    status, body = client.post("/webhooks/rest/webhook", {"sender": sender, "message": text})
    if status != 200 or not isinstance(body, list):
        raise RuntimeError(f"REST channel answered HTTP {status}")
    return body
