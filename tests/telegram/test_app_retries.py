"""Network errors on Bot API calls are retried with backoff; flood control is not ours."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.telegram import app


def test_network_errors_are_retried_then_succeed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "NETWORK_BACKOFF", (0.0, 0.0, 0.0))
    calls = {"n": 0}

    async def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] < 3:
            raise NetworkError("connection reset")
        return "sent"

    limiter = app.rate_limiter()

    async def run():
        await limiter.initialize()
        return await limiter.process_request(flaky, (), {}, "sendMessage", {"chat_id": 1}, None)

    assert asyncio.run(run()) == "sent"
    assert calls["n"] == 3


def test_network_errors_give_up_after_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "NETWORK_BACKOFF", (0.0, 0.0))
    calls = {"n": 0}

    async def down(*args, **kwargs):
        calls["n"] += 1
        raise NetworkError("no route")

    limiter = app.rate_limiter()

    async def run():
        await limiter.initialize()
        await limiter.process_request(down, (), {}, "sendMessage", {"chat_id": 1}, None)

    with pytest.raises(NetworkError):
        asyncio.run(run())
    assert calls["n"] == 3  # the first try and two retries


def test_a_refused_request_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """BadRequest subclasses NetworkError in python-telegram-bot, but sending it again is
    pointless (a text too long stays too long) and hides the failure from the caller."""
    monkeypatch.setattr(app, "NETWORK_BACKOFF", (0.0, 0.0, 0.0))
    calls = {"n": 0}

    async def refused(*args, **kwargs):
        calls["n"] += 1
        raise BadRequest("Message is too long")

    limiter = app.rate_limiter()

    async def run():
        await limiter.initialize()
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 1}, None)

    with pytest.raises(BadRequest):
        asyncio.run(run())
    assert calls["n"] == 1


def test_flood_control_is_not_treated_as_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "NETWORK_BACKOFF", (0.0,))
    limiter = app.RetryingRateLimiter(max_retries=0)

    async def flood(*args, **kwargs):
        raise RetryAfter(1)

    async def run():
        await limiter.initialize()
        await limiter.process_request(flood, (), {}, "sendMessage", {"chat_id": 1}, None)

    with pytest.raises(RetryAfter):
        asyncio.run(run())
