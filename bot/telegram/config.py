"""Front-end settings, all from environment variables.

| variable | default | meaning |
| --- | --- | --- |
| TELEGRAM_BOT_TOKEN | (required) | the bot's token from @BotFather |
| TELEGRAM_API_BASE_URL | https://api.telegram.org/bot | Bot API base (the token is appended) |
| RASA_URL | http://127.0.0.1:$RASA_PORT | the Rasa server (REST channel) |
| RASA_TIMEOUT | 8 | seconds to wait for Rasa before sending the trouble card |
| TELEGRAM_WEBHOOK_URL | (unset: long polling) | public HTTPS URL Telegram posts updates to |
| TELEGRAM_WEBHOOK_PORT | 8443 | local port the webhook listens on (plain HTTP, all addresses) |
| TELEGRAM_WEBHOOK_SECRET | (required with a webhook) | checked on every webhook call |
| OPERATOR_* | (unset: no live chat) | operators' chat, hours, timeout: docs/human-support.md |

The webhook URL must be https (Telegram refuses anything else), except on a loopback host
(``http://127.0.0.1:<port>/...``), which only a local fake Bot API server can reach: the tests
use that. Behind a reverse proxy the URL is the proxy's public address; the proxy terminates TLS
and forwards to TELEGRAM_WEBHOOK_PORT on the same path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.handoff.settings import HandoffConfigError, HandoffSettings, load_handoff_settings

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_RASA_TIMEOUT = 8.0
DEFAULT_WEBHOOK_PORT = 8443
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

MISSING_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set: create a bot by messaging @BotFather on Telegram (/newbot), "
    "then export TELEGRAM_BOT_TOKEN=<the token it gives you>."
)


class ConfigError(ValueError):
    """A setting is missing or wrong; the message is one sentence saying how to fix it."""


@dataclass(frozen=True)
class Config:
    token: str
    api_base_url: str = DEFAULT_API_BASE_URL
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = DEFAULT_RASA_TIMEOUT
    webhook_url: str | None = None
    webhook_port: int = DEFAULT_WEBHOOK_PORT
    webhook_secret: str | None = None
    handoff: HandoffSettings = field(default_factory=lambda: load_handoff_settings({}))

    @property
    def webhook(self) -> bool:
        """True when updates come by webhook rather than long polling."""
        return self.webhook_url is not None

    @property
    def webhook_path(self) -> str:
        """The path of the webhook URL (where the local server listens)."""
        return urlsplit(self.webhook_url or "").path.lstrip("/")


def _port(name: str, raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number.") from None
    if not 0 < port < 65536:
        raise ConfigError(f"{name}={port} is not a valid port (1 to 65535).")
    return port


def _http_url(name: str, raw: str, https: bool = False) -> str:
    parts = urlsplit(raw)
    schemes = ("https",) if https else ("http", "https")
    if parts.scheme not in schemes or not parts.netloc:
        wanted = "an https:// URL" if https else "an http:// or https:// URL"
        raise ConfigError(f"{name}={raw!r} is not {wanted}.")
    return raw


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read the settings; raise ConfigError with one clear sentence when something is wrong."""
    env = os.environ if env is None else env
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError(MISSING_TOKEN)
    if not _TOKEN.match(token):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then letters); "
            "copy it again from @BotFather."
        )
    base = _http_url(
        "TELEGRAM_API_BASE_URL", env.get("TELEGRAM_API_BASE_URL") or DEFAULT_API_BASE_URL
    )
    rasa_port = _port("RASA_PORT", env.get("RASA_PORT") or "5005")
    rasa_url = _http_url("RASA_URL", env.get("RASA_URL") or f"http://127.0.0.1:{rasa_port}")
    raw_timeout = env.get("RASA_TIMEOUT") or str(DEFAULT_RASA_TIMEOUT)
    try:
        timeout = float(raw_timeout)
    except ValueError:
        raise ConfigError(f"RASA_TIMEOUT={raw_timeout!r} is not a number of seconds.") from None
    if not 0.5 <= timeout <= 60:
        raise ConfigError(f"RASA_TIMEOUT={raw_timeout} should be between 0.5 and 60 seconds.")

    webhook_url = env.get("TELEGRAM_WEBHOOK_URL") or None
    webhook_port = _port(
        "TELEGRAM_WEBHOOK_PORT", env.get("TELEGRAM_WEBHOOK_PORT") or str(DEFAULT_WEBHOOK_PORT)
    )
    secret = env.get("TELEGRAM_WEBHOOK_SECRET") or None
    if webhook_url is not None:
        loopback = urlsplit(webhook_url).hostname in LOOPBACK_HOSTS
        _http_url("TELEGRAM_WEBHOOK_URL", webhook_url, https=not loopback)
        if secret is None:
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL, so that only "
                "Telegram can post updates (1 to 256 of A-Z, a-z, 0-9, _ and -)."
            )
    if secret is not None and not _SECRET.match(secret):
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET may only hold 1 to 256 of A-Z, a-z, 0-9, _ and -."
        )
    try:
        handoff = load_handoff_settings(env)
    except HandoffConfigError as exc:
        raise ConfigError(str(exc)) from None
    return Config(
        token=token,
        handoff=handoff,
        api_base_url=base,
        rasa_url=rasa_url.rstrip("/"),
        rasa_timeout=timeout,
        webhook_url=webhook_url,
        webhook_port=webhook_port,
        webhook_secret=secret,
    )
