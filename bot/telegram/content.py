"""Texts the front end sends itself (content/telegram.yml) and referral services.

Numbers are filled in from content/helplines.yml by key (``{nhs111.number}``), never typed.
Lines inside a paragraph are joined, so the YAML can wrap while Telegram shows flowing text;
lines starting with "-" or "/" stay on their own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.content.helplines import CONTENT_DIR, Helpline, load_helplines
from bot.safety.tiers import Tier

TELEGRAM_PATH = CONTENT_DIR / "telegram.yml"
SERVICES_PATH = CONTENT_DIR / "services.yml"
REFERRAL_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

TEXT_KEYS = (
    "welcome",
    "welcome_referred",
    "help",
    "privacy",
    "mydata_intro",
    "mydata_empty",
    "mydata_outro",
    "mydata_failed",
    "forget_confirm",
    "forget_yes_button",
    "forget_no_button",
    "forget_done",
    "forget_cancelled",
    "forget_failed",
    "no_reply",
    "button_expired",
    "non_text",
    "voice",
    "trouble",
    "handoff_share_question",
    "handoff_share_yes_button",
    "handoff_share_no_button",
    "handoff_cancel_button",
    "handoff_cancelled",
    "handoff_waiting",
    "handoff_already",
    "handoff_end_button",
    "handoff_unavailable",
    "handoff_failed",
    "handoff_relay_failed",
    "handoff_timeout",
    "handoff_callback_button",
    "handoff_ended_by_dad",
    "handoff_ended_by_operator",
    "handoff_no_chat",
    "handoff_non_text",
    "handoff_safety_unchecked",
    "lines_intro",
    "line_health",
    "line_samaritans",
    "line_shout",
    "line_crysis",
    "lines_danger",
    "op_card",
    "op_history_shared",
    "op_history_not_shared",
    "op_no_service",
    "op_no_tiers",
    "op_dad_message",
    "op_dad_edited",
    "op_dad_non_text",
    "dad_operator_message",
    "dad_operator_edited",
    "op_safety_alert",
    "op_ended_by_dad",
    "op_ended_by_operator",
    "op_timed_out",
    "op_not_open",
    "op_not_delivered",
    "op_text_only",
    "op_unknown_thread",
    "op_queue_empty",
    "op_queue_title",
    "op_callbacks_empty",
    "op_callback",
    "op_callback_done_button",
    "op_callback_done",
    "op_callback_not_open",
    "op_callbacks_more",
    "op_help",
)
# Values filled per message (Texts.render), left in place when the file is loaded.
RUNTIME_KEYS = frozenset(
    {"service", "ref", "minutes", "name", "time", "tiers", "history", "text", "tier", "lead"}
    | {"phone", "window", "consent", "count", "kind"}
)


class ContentError(ValueError):
    """content/telegram.yml or content/services.yml is incomplete or names an unknown key."""


def unwrap(text: str) -> str:
    """Join wrapped lines inside each paragraph; keep list items and commands on their own."""
    paragraphs = []
    for block in text.strip().split("\n\n"):
        lines: list[str] = []
        for raw in block.splitlines():
            line = raw.strip()
            if not line:
                continue
            if lines and not line.startswith(("-", "/")):
                lines[-1] = f"{lines[-1]} {line}"
            else:
                lines.append(line)
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


class _Values(dict):
    """Helplines by key; runtime keys such as ``{service}`` are left in place."""

    def __missing__(self, key: str) -> Any:
        if key in RUNTIME_KEYS:
            return f"{{{key}}}"
        raise ContentError(f"unknown helpline key {key!r}")


def fill(template: str, helplines: dict[str, Helpline], where: str) -> str:
    """Unwrap ``template`` and fill {key.field} from ``helplines``."""
    try:
        return unwrap(template).format_map(_Values(helplines))
    except ContentError as exc:
        raise ContentError(f"content/telegram.yml {where}: {exc}") from None
    except (AttributeError, IndexError, ValueError) as exc:
        raise ContentError(f"content/telegram.yml {where}: cannot fill ({exc})") from None


@dataclass(frozen=True)
class Texts:
    """Every text of content/telegram.yml, numbers filled in."""

    texts: dict[str, str]
    leads: dict[Tier, str]
    commands: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.texts[key]

    def welcome(self, service: str | None = None) -> str:
        """The welcome, naming the referring service when known."""
        if service:
            return self.texts["welcome_referred"].replace("{service}", service)
        return self.texts["welcome"]

    def render(self, key: str, **values: object) -> str:
        """The text ``key`` with runtime values filled in (plain replacement, so a value that
        itself holds braces, such as a dad's message, is never interpreted)."""
        text = self.texts[key]
        for name, value in values.items():
            text = text.replace(f"{{{name}}}", str(value))
        return text

    def lines(self, crysis_open: bool) -> str:
        """The people he can talk to now (Cry-sis only while it is open), then 999."""
        keys = ["line_health", "line_samaritans", "line_shout"]
        if crysis_open:
            keys.append("line_crysis")
        items = "\n".join(self.texts[key] for key in keys)
        return f"{self.texts['lines_intro']}\n{items}\n\n{self.texts['lines_danger']}"

    def trouble_card(self, tier: Tier | None = None) -> str:
        """The "I'm having trouble" card, led by the tier's line for a red flag."""
        card = self.texts["trouble"]
        return f"{self.leads[tier]}\n\n{card}" if tier is not None else card


def load_texts(path: Path = TELEGRAM_PATH) -> Texts:
    """Read and check content/telegram.yml (every text present, every key known)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    helplines = load_helplines()
    missing = [key for key in TEXT_KEYS if not isinstance(data.get(key), str)]
    if missing:
        raise ContentError(f"{path.name} lacks {', '.join(missing)}")
    texts = {key: fill(data[key], helplines, key) for key in TEXT_KEYS}
    leads_raw = data.get("lead") or {}
    leads = {}
    for tier in Tier:
        if not isinstance(leads_raw.get(tier.value), str):
            raise ContentError(f"{path.name} lacks lead.{tier.value}")
        leads[tier] = fill(leads_raw[tier.value], helplines, f"lead.{tier.value}")
    commands = {str(k): str(v) for k, v in (data.get("commands") or {}).items()}
    if not commands:
        raise ContentError(f"{path.name} lacks commands")
    return Texts(texts=texts, leads=leads, commands=commands)


def load_services(path: Path = SERVICES_PATH) -> dict[str, str]:
    """Referral code -> service name, codes checked against REFERRAL_CODE."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    services = {}
    for code, entry in (data.get("services") or {}).items():
        if not REFERRAL_CODE.match(str(code)):
            raise ContentError(f"{path.name}: {code!r} is not a valid referral code")
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ContentError(f"{path.name}: {code!r} has no name")
        services[str(code)] = str(entry["name"])
    return services


@lru_cache(maxsize=1)
def texts() -> Texts:
    """content/telegram.yml, loaded once."""
    return load_texts()


@lru_cache(maxsize=1)
def services() -> dict[str, str]:
    """content/services.yml, loaded once."""
    return load_services()


def referral_code(payload: str | None) -> str | None:
    """The referral code in a /start payload, or None when absent or malformed."""
    if payload and REFERRAL_CODE.match(payload):
        return payload
    return None
