"""Odd, broken and hostile input over the REST channel: always a calm answer, never a 500.

A message the bot cannot use gets HTTP 200 and a kind reply (never a safety escalation); an HTTP
body that is not a usable request gets a clean 4xx with no traceback.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.e2e.conftest import (
    EMERGENCY_FIRST_LINE,
    Bot,
    assert_kind_reply,
    assert_no_traceback,
    is_response,
    joined_text,
    new_sender,
    safety_response_in,
)

pytestmark = pytest.mark.server

RAMBLE = (
    "sorry this is going to be a long one, its been a rough few weeks and i keep going over "
    "everything in my head, work is busy, the little one feeds every couple of hours and my "
    "missus is shattered, i just want to know if what we are doing is normal. "
)
LONG_MESSAGE = (RAMBLE * 40)[:5000]
# Worst case found for the text normaliser: short tokens only, slowest per character.
LONG_PUNCTUATION = ("!?." * 1700)[:5000]
# How long another conversation may wait while a 5,000-character message is processed.
OTHER_CONVERSATION_MAX_SECONDS = 15.0


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n\t  ", id="whitespace"),
        pytest.param(LONG_MESSAGE, id="5000-chars"),
        pytest.param(LONG_PUNCTUATION, id="5000-punctuation"),
        pytest.param("😭😭😭🍼😴", id="emoji-only"),
        pytest.param("🙂", id="one-emoji"),
        pytest.param("mon bébé pleure sans arrêt, je ne sais plus quoi faire", id="french"),
        pytest.param("moja żona płacze cały czas, dziecko nie śpi", id="polish"),
        pytest.param("mi bebé no para de llorar, qué hago", id="spanish"),
        pytest.param("mein baby weint die ganze nacht", id="german"),
        pytest.param(
            "\u0000\u0007\u001b[31m\ufffd\udcff\ud800 \u202e", id="control-and-surrogates"
        ),
        pytest.param("<script>alert('x')</script><b>hi</b>", id="html-script"),
        pytest.param("'; DROP TABLE events; --", id="sql"),
        pytest.param("{{ 7*7 }} ${jndi:ldap://x} {sender_id}", id="templates"),
        pytest.param("1234567890", id="only-numbers"),
        pytest.param("07700 900123 42 3.14", id="numbers-and-phone"),
        pytest.param("/", id="slash"),
        pytest.param("/not_an_intent", id="unknown-payload"),
        pytest.param('/greet{"baby_stage": "older"}', id="payload-with-slots"),
    ],
)
def test_odd_message_gets_a_kind_reply(bot: Bot, text: str) -> None:
    bot.actions("up")
    replies = bot.send(new_sender("odd"), text)
    assert_kind_reply(replies, repr(text[:40]))
    reply = joined_text(replies)
    assert "<script" not in reply and "DROP TABLE" not in reply, "user input echoed back"


def test_long_message_with_an_emergency_at_the_end_still_gets_999(bot: Bot) -> None:
    text = LONG_MESSAGE[:4970] + " hes not breathing"
    assert len(text) < 5000
    replies = bot.send(new_sender("long-999"), text)
    assert replies and replies[0].get("text") == EMERGENCY_FIRST_LINE, joined_text(replies)[:80]
    assert is_response(replies, "utter_safety_emergency")


def test_long_message_with_an_emergency_at_the_start_gets_999(bot: Bot) -> None:
    text = "hes not breathing " + LONG_MESSAGE[:4980]
    replies = bot.send(new_sender("long-999-start"), text)
    assert replies and replies[0].get("text") == EMERGENCY_FIRST_LINE, joined_text(replies)[:200]


def test_other_conversations_are_answered_while_a_long_message_is_processed(bot: Bot) -> None:
    bot.actions("up")
    long_result: dict[str, Any] = {}

    def send_long() -> None:
        started = time.monotonic()
        try:
            long_result["replies"] = bot.send(new_sender("long"), LONG_PUNCTUATION)
        except BaseException as exc:
            long_result["error"] = exc
        long_result["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=send_long)
    worker.start()
    time.sleep(0.2)  # let the long message reach the server first
    started = time.monotonic()
    replies = bot.send(new_sender("meanwhile"), "hi")
    waited = time.monotonic() - started
    worker.join(timeout=120)

    assert is_response(replies, "utter_greet"), joined_text(replies)
    assert waited < OTHER_CONVERSATION_MAX_SECONDS, (
        f"another conversation waited {waited:.1f} s behind a 5,000-character message"
    )
    assert "error" not in long_result, long_result.get("error")
    assert_kind_reply(long_result["replies"], "the long message")
    print(
        f"\nlong message {long_result['seconds']:.2f} s; other conversation waited {waited:.2f} s"
    )


# ------------------------------------------------------------------ malformed HTTP requests
def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode("utf-8")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"this is not json", "application/json", id="not-json"),
        pytest.param(b"this is not json", "text/plain", id="plain-text"),
        pytest.param(b'{"sender": "x", "message": "hi"', "application/json", id="truncated-json"),
        pytest.param(
            b'{"sender": "raw-bytes", "message": "\xff\xfe\x80 baby \xc3"}',
            "application/json",
            id="invalid-utf8-in-json",
        ),
        pytest.param(bytes(range(256)) * 4, "application/octet-stream", id="random-bytes-body"),
        pytest.param(
            _json({"sender": "no-message-field"}),
            "application/json",
            id="missing-message",
        ),
        pytest.param(
            _json({"sender": "x", "message": None}),
            "application/json",
            id="message-null",
        ),
        pytest.param(
            _json({"sender": "x", "message": 12}),
            "application/json",
            id="message-number",
        ),
        pytest.param(
            b"",
            "application/json",
            id="empty-body",
        ),
        pytest.param(
            b"[1, 2]",
            "application/json",
            id="json-array",
        ),
        pytest.param(
            b'"hello"',
            "application/json",
            id="json-string",
        ),
    ],
)
def test_malformed_request_gets_a_kind_reply_or_a_clean_4xx(
    bot: Bot, body: bytes, content_type: str
) -> None:
    raw = bot.post_raw(body, content_type)
    assert raw.status != 500, f"HTTP 500: {raw.body[:200]}"
    assert_no_traceback(raw.body, "malformed request")
    if 400 <= raw.status < 500:
        return
    assert raw.status == 200, f"HTTP {raw.status}: {raw.body[:200]}"
    replies = raw.json()
    assert isinstance(replies, list), raw.body[:200]
    assert_kind_reply(replies, "malformed request")


def test_the_server_is_still_healthy_after_bad_input(bot: Bot) -> None:
    assert bot.rasa_alive(), "the Rasa server died"
    replies = bot.send(new_sender("after"), "hes not breathing")
    assert replies[0]["text"] == EMERGENCY_FIRST_LINE
    assert safety_response_in(replies) == "utter_safety_emergency"
