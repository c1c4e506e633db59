"""Rasa replies -> Telegram messages: joined when short, split when long, buttons as keyboards.

Texts are sent as plain text (no parse mode), so nothing needs escaping and a stray "*" or "_"
in content can never break a message.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback data
JOIN_LIMIT = 1200  # consecutive replies are joined while the result stays this short
LONG_PAYLOAD_PREFIX = "p:"  # callback data standing for a payload longer than 64 bytes
OWN_PREFIX = "sh:"  # callback data of the front end's own buttons (e.g. /forget)
NO_TEXT = "Choose one:"

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")


@dataclass
class OutMessage:
    """One Telegram message to send."""

    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, Rasa payload)


class CallbackRegistry:
    """Maps Rasa payloads to callback data of at most 64 bytes, and back.

    Short payloads are used as they are. Longer ones (and any that could be mistaken for our
    own prefixes) get a short hash key kept in memory (the newest ``size`` are kept); a button
    whose key was forgotten, e.g. after a restart, is answered with "please type it".
    """

    def __init__(self, size: int = 5000) -> None:
        self.size = size
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def encode(self, payload: str) -> str:
        fits = len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES
        if fits and payload and not payload.startswith((LONG_PAYLOAD_PREFIX, OWN_PREFIX)):
            return payload
        key = LONG_PAYLOAD_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self.size:
            self._payloads.popitem(last=False)
        return key

    def decode(self, data: str) -> str | None:
        """The Rasa payload for callback data; None for an unknown key or our own buttons."""
        if data.startswith(OWN_PREFIX):
            return None
        if data.startswith(LONG_PAYLOAD_PREFIX):
            return self._payloads.get(data)
        return data or None


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: most emoji count as two)."""
    return len(text.encode("utf-16-le")) // 2


def _fitting(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` (UTF-16 code units, as Telegram counts).

    Cuts at the last paragraph break, else line break, else sentence end, else space that keeps
    a piece under the limit; a single word longer than the limit is cut where it must be.
    """
    text = text.strip()
    pieces: list[str] = []
    while utf16_len(text) > limit:
        fit = max(1, _fitting(text, limit))  # always progress, even at a tiny limit
        cut = _best_cut(text[: fit + 1], fit)
        piece, text = text[:cut].rstrip(), text[cut:].lstrip()
        if piece:
            pieces.append(piece)
    if text:
        pieces.append(text)
    return pieces


def _best_cut(window: str, limit: int) -> int:
    """Where to cut ``window`` (limit + 1 characters) so the first part is at most ``limit``."""
    floor = limit // 4  # never cut so early that we make lots of tiny messages
    for separator in ("\n\n", "\n"):
        index = window.rfind(separator, floor, limit + 1)
        if index > 0:
            return index
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if floor <= m.end() <= limit + 1]
    if ends:
        return ends[-1]
    index = window.rfind(" ", floor, limit + 1)
    return index if index > 0 else limit


def _reply_text(reply: dict[str, Any]) -> str:
    parts = []
    if isinstance(reply.get("text"), str) and reply["text"].strip():
        parts.append(reply["text"].strip())
    if isinstance(reply.get("image"), str) and reply["image"].strip():
        parts.append(reply["image"].strip())
    return "\n\n".join(parts)


def _reply_buttons(reply: dict[str, Any]) -> list[tuple[str, str]]:
    buttons = []
    for button in reply.get("buttons") or []:
        if not isinstance(button, dict):
            continue
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or "").strip()
        if title and payload:
            buttons.append((title, payload))
    return buttons


def render(
    replies: Iterable[dict[str, Any]], join_limit: int = JOIN_LIMIT, limit: int = MAX_TEXT
) -> list[OutMessage]:
    """Turn Rasa's replies into Telegram messages.

    Consecutive replies are joined (blank line between) while the result stays within
    ``join_limit`` characters and the earlier ones carry no buttons. Long texts are split at
    ``limit``; a reply's buttons go with its last piece.
    """
    groups: list[OutMessage] = []
    for reply in replies:
        text = _reply_text(reply)
        buttons = _reply_buttons(reply)
        if not text and not buttons:
            continue
        last = groups[-1] if groups else None
        if last is not None and not last.buttons:
            joined = f"{last.text}\n\n{text}" if text else last.text
            if not text or len(joined) <= join_limit:
                last.text, last.buttons = joined, buttons
                continue
        groups.append(OutMessage(text=text or NO_TEXT, buttons=buttons))

    messages: list[OutMessage] = []
    for group in groups:
        pieces = split_text(group.text, limit) or [NO_TEXT]
        messages.extend(OutMessage(text=piece) for piece in pieces[:-1])
        messages.append(OutMessage(text=pieces[-1], buttons=group.buttons))
    return messages


def keyboard(
    buttons: list[tuple[str, str]], registry: CallbackRegistry
) -> InlineKeyboardMarkup | None:
    """One button per row (titles stay readable on a phone); None without buttons."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(title, callback_data=registry.encode(payload))]
            for title, payload in buttons
        ]
    )
