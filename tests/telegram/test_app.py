"""Per-chat ordering, flood-control retries, and the Application's handlers."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest
from telegram import Chat, Message, Update, User
from telegram.error import ChatMigrated, RetryAfter
from telegram.ext import AIORateLimiter, CallbackQueryHandler, CommandHandler

from bot.telegram.app import (
    MAX_RETRIES,
    PerChatUpdateProcessor,
    build_application,
    operators_outbox,
    rate_limiter,
)
from bot.telegram.config import load_config


def _update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "Dad", False)
    chat = Chat(chat_id, Chat.PRIVATE)
    message = Message(update_id, None, chat, from_user=user, text="hi")  # type: ignore[arg-type]
    return Update(update_id, message=message)


def test_updates_of_one_chat_run_in_order_and_chats_do_not_block_each_other() -> None:
    async def scenario() -> list[str]:
        processor = PerChatUpdateProcessor()
        log: list[str] = []
        gate = asyncio.Event()

        async def handle(name: str, wait: bool) -> None:
            log.append(f"start {name}")
            if wait:
                await gate.wait()
            log.append(f"end {name}")

        tasks = [
            asyncio.create_task(processor.process_update(_update(1, 1), handle("a1", True))),
            asyncio.create_task(processor.process_update(_update(2, 1), handle("a2", False))),
            asyncio.create_task(processor.process_update(_update(3, 2), handle("b1", False))),
        ]
        await asyncio.sleep(0.05)
        assert "end b1" in log  # chat 2 went ahead while chat 1 was stuck
        assert "start a2" not in log  # chat 1's second update waits for its first
        gate.set()
        await asyncio.gather(*tasks)
        assert processor._locks == {}
        return log

    log = asyncio.run(scenario())
    assert log.index("end a1") < log.index("start a2")


def test_retry_after_is_waited_out() -> None:
    async def scenario() -> tuple[str, int, float]:
        limiter = rate_limiter()
        attempts = 0

        async def callback() -> str:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                raise RetryAfter(1)
            return "sent"

        started = time.monotonic()
        data = {"chat_id": 42}
        result = await limiter.process_request(callback, (), {}, "sendMessage", data, None)
        return result, attempts, time.monotonic() - started

    result, attempts, seconds = asyncio.run(scenario())
    assert (result, attempts) == ("sent", 2)
    assert seconds >= 1.0  # waited out retry_after before trying again


def test_retry_after_gives_up_after_max_retries() -> None:
    attempts = 0

    async def scenario() -> None:
        limiter = rate_limiter()

        async def callback() -> str:
            nonlocal attempts
            attempts += 1
            raise RetryAfter(0)

        await limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": 42}, None)

    with pytest.raises(RetryAfter):
        asyncio.run(scenario())
    assert attempts == MAX_RETRIES + 1


def test_application_uses_the_rate_limiter() -> None:
    application = build_application(load_config({"TELEGRAM_BOT_TOKEN": "1:abc"}))
    assert isinstance(application.bot.rate_limiter, AIORateLimiter)


def test_application_has_the_commands_and_buttons() -> None:
    application = build_application(load_config({"TELEGRAM_BOT_TOKEN": "1:abc"}))
    handlers = application.handlers[0]
    commands = {c for h in handlers if isinstance(h, CommandHandler) for c in h.commands}
    assert commands == {"start", "help", "topics", "privacy", "forget", "human", "end", "mydata"}
    assert sum(isinstance(h, CallbackQueryHandler) for h in handlers) == 3
    assert set(application.bot_data["front_end"].texts.commands) <= commands


def test_operator_commands_only_exist_with_an_operators_chat() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:abc", "OPERATOR_CHAT_ID": "-100123"}
    application = build_application(load_config(env))
    handlers = application.handlers[0]
    operator_commands = {
        c
        for h in handlers
        if isinstance(h, CommandHandler) and "-100123" in repr(h.filters)
        for c in h.commands
    }
    assert operator_commands == {"end", "queue", "callbacks", "done", "help"}
    assert sum(isinstance(h, CallbackQueryHandler) for h in handlers) == 4


def test_a_bad_operator_setting_is_one_clear_sentence() -> None:
    from bot.telegram.config import ConfigError

    with pytest.raises(ConfigError, match="OPERATOR_CHAT_ID"):
        load_config({"TELEGRAM_BOT_TOKEN": "1:abc", "OPERATOR_CHAT_ID": "operators"})


def test_webhook_mode_without_tornado_says_how_to_fix(monkeypatch) -> None:
    from bot.telegram import app
    from bot.telegram.config import ConfigError

    monkeypatch.setattr(app.importlib.util, "find_spec", lambda name: None)
    config = load_config(
        {
            "TELEGRAM_BOT_TOKEN": "1:abc",
            "TELEGRAM_WEBHOOK_URL": "https://example.org/hook",
            "TELEGRAM_WEBHOOK_SECRET": "secret",
        }
    )
    with pytest.raises(ConfigError, match="tornado"):
        app.run(config)


def test_a_migrated_operators_group_names_the_new_id_to_set(caplog) -> None:
    """Telegram gives a group a new id when it becomes a supergroup: say which one to set."""

    async def send_message(*args, **kwargs):
        raise ChatMigrated(-1009876543210)

    outbox = operators_outbox(SimpleNamespace(bot=SimpleNamespace(send_message=send_message)), -42)
    assert outbox is not None
    with pytest.raises(ChatMigrated):
        asyncio.run(outbox.send("card", None, None))
    assert "OPERATOR_CHAT_ID=-1009876543210" in caplog.text
    assert operators_outbox(SimpleNamespace(bot=None), None) is None
