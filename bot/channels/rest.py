"""The REST channel, hardened: a clear 400 for a malformed request, never an empty reply.

Same URL as Rasa's own (`POST /webhooks/rest/webhook`, `{"sender", "message"}`). Differences:
a body that is not a JSON object, or has no usable sender, gets a 400 that says what is
expected (Rasa's channel answered some of these with a 500); a missing or non-text message is
treated as empty; if the bot produced no reply (an action server or database failure), the dad
gets the "having trouble" card with the 999 / NHS 111 / Samaritans lines, led by the safety
tier when the message is a red flag. No message text is ever logged.

Two more routes let the Telegram front end hand a dad to a person and back (see
docs/human-support.md): ``POST /webhooks/rest/pause`` and ``POST /webhooks/rest/resume`` with
``{"sender": "some-id"}`` append Rasa's ConversationPaused / ConversationResumed event, so the
model stays silent while operators talk to him. Sender ids are keyed hashes, so only the front
end (which holds the key) can name a conversation.
"""

from __future__ import annotations

import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import ConversationPaused, ConversationResumed, Event
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.safety.classifier import classify
from bot.telegram.content import texts

logger = logging.getLogger(__name__)
EXPECTED = 'send JSON like {"sender": "some-id", "message": "your text"}'
MAX_SENDER_LENGTH = 128


def _bad_request(reason: str) -> HTTPResponse:
    return response.json({"error": f"{reason}; {EXPECTED}"}, status=400)


def parse_body(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object of the request, or an error message."""
    try:
        body = request.json
    except (SanicException, ValueError):
        return None, "the body is not valid JSON"
    if not isinstance(body, dict):
        return None, "the body must be a JSON object"
    return body, None


def sender_of(body: dict[str, Any]) -> str | None:
    sender = body.get("sender")
    if isinstance(sender, bool) or not isinstance(sender, (str, int)):
        return None
    sender = str(sender).strip()
    return sender if 0 < len(sender) <= MAX_SENDER_LENGTH else None


def text_of(body: dict[str, Any]) -> str:
    message = body.get("message")
    if isinstance(message, str):
        return message
    if isinstance(message, (int, float)) and not isinstance(message, bool):
        return str(message)
    return ""


def trouble_reply(recipient: str, text: str) -> dict[str, Any]:
    try:
        tier = classify(text).tier
    except Exception:  # the card must go out even if the safety layer itself is broken
        tier = None
    return {"recipient_id": recipient, "text": texts().trouble_card(tier)}


class SafeRestInput(RestInput):
    """Drop-in replacement for Rasa's `rest` channel (see credentials.yml)."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body, error = parse_body(request)
            if body is None:
                return _bad_request(error or "bad request")
            sender = sender_of(body)
            if sender is None:
                return _bad_request(f"'sender' must be text of 1 to {MAX_SENDER_LENGTH} characters")
            text = text_of(body)
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender,
                        input_channel=self.name(),
                        metadata=metadata,
                    )
                )
            except CancelledError:
                logger.error("REST message timed out (%d characters)", len(text))
            except Exception as exc:  # answer anyway; log the kind of failure, not the text
                logger.error("REST message failed: %s", type(exc).__name__)
            messages = collector.messages
            if not messages:
                messages = [trouble_reply(sender, text)]
            return response.json(messages)

        @webhook.route("/pause", methods=["POST"])
        async def pause(request: Request) -> HTTPResponse:
            return await _set_paused(request, ConversationPaused)

        @webhook.route("/resume", methods=["POST"])
        async def resume(request: Request) -> HTTPResponse:
            return await _set_paused(request, ConversationResumed)

        return webhook


async def _set_paused(request: Request, event_type: type[Event]) -> HTTPResponse:
    """Append a pause or resume event to a conversation (under Rasa's lock for it).

    The event is made after the tracker is fetched: fetching may start a new session, and the
    tracker store only reads back events stamped at or after the session's start.
    """
    body, error = parse_body(request)
    if body is None:
        return _bad_request(error or "bad request")
    sender = sender_of(body)
    if sender is None:
        return _bad_request(f"'sender' must be text of 1 to {MAX_SENDER_LENGTH} characters")
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or agent.processor is None:
        return response.json({"error": "the model is not loaded yet"}, status=503)
    try:
        async with agent.lock_store.lock(sender):
            tracker = await agent.processor.fetch_tracker_and_update_session(sender)
            event = event_type()
            tracker.update(event)
            await agent.processor.save_tracker(tracker)
            paused = tracker.is_paused()
    except Exception as exc:  # a clear status for the caller, not a stack trace
        logger.error("Could not %s a conversation: %s", event_type.type_name, type(exc).__name__)
        return response.json({"error": "could not update the conversation"}, status=500)
    return response.json({"paused": paused})
