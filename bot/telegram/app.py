"""The python-telegram-bot Application: handlers, per-chat ordering, flood-control retries."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import Coroutine
from typing import Any

from telegram import BotCommand, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, ChatMigrated, NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.telegram import handlers, handoff, operators
from bot.telegram.config import Config, ConfigError
from bot.telegram.content import services, texts
from bot.telegram.handlers import FrontEnd
from bot.telegram.outbox import OperatorOutbox
from bot.telegram.rasa_client import RasaClient

logger = logging.getLogger(__name__)

MAX_CONCURRENT_UPDATES = 64
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MAX_RETRIES = 3  # tries after a 429 (flood control) before a request gives up
WEBHOOK_LISTEN = "0.0.0.0"  # the webhook server's address; TLS is a reverse proxy's job


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates run concurrently across chats, one at a time and in order within a chat.

    Each chat has an asyncio.Lock (FIFO), taken before the handler runs; the lock is dropped
    when no update of that chat is waiting, so the table stays as small as the busy chats.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @staticmethod
    def _chat_key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
        return None

    async def do_process_update(self, update: object, coroutine: Coroutine[Any, Any, Any]) -> None:
        key = self._chat_key(update)
        if key is None:
            await coroutine
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


NETWORK_BACKOFF = (0.5, 1.0, 2.0)  # seconds before each retry after a network error


class RetryingRateLimiter(AIORateLimiter):
    """AIORateLimiter that also retries a request after a network error, with backoff.

    Telegram's API is reached over the internet; a dropped connection or a timeout should not
    lose a dad's reply. Flood control (RetryAfter) is left to AIORateLimiter itself, and
    BadRequest (a NetworkError in python-telegram-bot) is not retried: Telegram refused the
    request itself, and would refuse it again.
    """

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        for delay in (*NETWORK_BACKOFF, None):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except (RetryAfter, BadRequest):
                raise  # flood control is AIORateLimiter's; a refused request fails the same again
            except NetworkError as exc:
                if delay is None:
                    raise
                logger.warning("Bot API %s failed (%s); retrying", endpoint, type(exc).__name__)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def rate_limiter() -> AIORateLimiter:
    """python-telegram-bot's AIORateLimiter, retrying after flood control.

    It keeps the bot under Telegram's limits before they bite (30 requests a second overall,
    20 a minute per group: the operators' chat, which bot.telegram.outbox queues for), and
    when Telegram still answers 429 with ``retry_after`` it pauses every request of the bot for
    that long plus 0.1 s and tries again, up to ``MAX_RETRIES`` times, then raises RetryAfter
    (logged by handlers.on_error). It replaced a hand-written limiter that only reacted to 429s.
    """
    return RetryingRateLimiter(max_retries=MAX_RETRIES)


def add_handlers(application: Application) -> None:
    """Register every handler: dads in private chats, operators in their own chat only."""
    private = filters.ChatType.PRIVATE
    messages = filters.UpdateType.MESSAGES & private
    add_operator_handlers(application)
    application.add_handler(CommandHandler("start", handlers.on_start, filters=private))
    application.add_handler(CommandHandler("human", handlers.on_human, filters=private))
    application.add_handler(CommandHandler("end", handlers.on_end, filters=private))
    application.add_handler(CommandHandler("help", handlers.on_help, filters=private))
    application.add_handler(CommandHandler("topics", handlers.on_topics, filters=private))
    application.add_handler(CommandHandler("privacy", handlers.on_privacy, filters=private))
    application.add_handler(CommandHandler("forget", handlers.on_forget, filters=private))
    application.add_handler(CommandHandler("mydata", handlers.on_mydata, filters=private))
    application.add_handler(CallbackQueryHandler(handlers.on_forget_answer, pattern=r"^sh:forget:"))
    application.add_handler(CallbackQueryHandler(handoff.on_live_button, pattern=r"^sh:live:"))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_handler(MessageHandler(messages & filters.COMMAND, handlers.on_help))
    application.add_handler(MessageHandler(messages & filters.TEXT, handlers.on_text))
    application.add_handler(
        MessageHandler(
            messages & (filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE), handlers.on_voice
        )
    )
    application.add_handler(MessageHandler(messages, handlers.on_non_text))
    application.add_error_handler(handlers.on_error)


def add_operator_handlers(application: Application) -> None:
    """The operators' chat (OPERATOR_CHAT_ID): replies to relay and operator commands.

    Every other group is ignored and logged; operator commands anywhere else never act.
    """
    fe: FrontEnd = application.bot_data["front_end"]
    groups = filters.ChatType.GROUPS
    if fe.handoff.operator_chat_id is not None:
        ops = filters.Chat(chat_id=fe.handoff.operator_chat_id)
        for name, callback in (
            ("end", operators.on_end),
            ("queue", operators.on_queue),
            ("callbacks", operators.on_callbacks),
            ("done", operators.on_done),
            ("help", operators.on_operator_help),
        ):
            application.add_handler(CommandHandler(name, callback, filters=ops))
        application.add_handler(
            CallbackQueryHandler(operators.on_done_button, pattern=r"^sh:cb:done:")
        )
        application.add_handler(
            MessageHandler(
                ops & filters.REPLY & filters.TEXT & ~filters.COMMAND,
                operators.on_operator_reply,
            )
        )
        application.add_handler(
            MessageHandler(
                ops & filters.REPLY & ~filters.TEXT & ~filters.COMMAND,
                operators.on_operator_non_text,
            )
        )
        groups = groups & ~ops
    application.add_handler(MessageHandler(groups, operators.on_other_group))


async def _post_init(application: Application) -> None:
    fe: FrontEnd = application.bot_data["front_end"]
    commands = [BotCommand(name, text) for name, text in fe.texts.commands.items()]
    await application.bot.set_my_commands(commands)
    # Load the safety layer now (spaCy takes a while), so a trouble card can name the tier.
    loop = asyncio.get_running_loop()
    loop.run_in_executor(fe.classifier, _warm_up_safety_layer)
    me = application.bot
    logger.info("Small Hours on Telegram as @%s; Rasa at %s", me.username, fe.rasa.base_url)
    if fe.outbox is not None:
        fe.outbox.start()
    if fe.handoff.configured:
        # Rasa's tracker store (for the card's recent messages) is slow to import: do it now.
        loop.run_in_executor(None, fe.tracker_store)
        every = min(handoff.SWEEP_EVERY, fe.handoff.timeout_seconds / 5)
        application.bot_data["sweep"] = asyncio.create_task(handoff.sweep(application, every))
        logger.info("Live chat with operators is on")


async def _post_stop(application: Application) -> None:
    task = application.bot_data.pop("sweep", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    fe: FrontEnd = application.bot_data["front_end"]
    if fe.outbox is not None:
        await fe.outbox.stop()  # the bot is still up here: waiting posts get a few seconds


def _warm_up_safety_layer() -> None:
    try:
        from bot.safety.classifier import classify

        classify("hello")
        logger.info("Safety layer loaded")
    except Exception:
        logger.exception("Safety layer failed to load; trouble cards will carry no tier line")


async def _post_shutdown(application: Application) -> None:
    fe: FrontEnd = application.bot_data["front_end"]
    await fe.rasa.close()
    fe.classifier.shutdown(wait=False, cancel_futures=True)


def build_application(config: Config, database_url: str | None = None) -> Application:
    """The Application for ``config`` (nothing is contacted until it starts)."""
    application = (
        Application.builder()
        .token(config.token)
        .base_url(config.api_base_url)
        .concurrent_updates(PerChatUpdateProcessor())
        .rate_limiter(rate_limiter())
        .job_queue(None)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data["front_end"] = FrontEnd(
        rasa=RasaClient(config.rasa_url, timeout=config.rasa_timeout),
        texts=texts(),
        services=services(),
        database_url=database_url,
        handoff=config.handoff,
        outbox=operators_outbox(application, config.handoff.operator_chat_id),
    )
    add_handlers(application)
    return application


def operators_outbox(application: Application, chat_id: int | None) -> OperatorOutbox | None:
    """The queue for the operators' chat (None without operators)."""
    if chat_id is None:
        return None

    async def send(text: str, reply_to: int | None, markup: InlineKeyboardMarkup | None) -> Message:
        try:
            return await application.bot.send_message(
                chat_id,
                text,
                reply_to_message_id=reply_to,
                allow_sending_without_reply=True,
                reply_markup=markup,
            )
        except ChatMigrated as exc:  # Telegram gives a group a new id when it is upgraded
            logger.error(
                "The operators' group is now a supergroup: set OPERATOR_CHAT_ID=%s and restart",
                exc.new_chat_id,
            )
            raise

    return OperatorOutbox(send)


def run(config: Config) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set.

    Webhook mode: setWebhook is called with TELEGRAM_WEBHOOK_URL and the secret; a tornado
    server listens on plain HTTP at 0.0.0.0:TELEGRAM_WEBHOOK_PORT, on the URL's path, and
    answers 403 (dropping the update) to any request without the right
    X-Telegram-Bot-Api-Secret-Token header.
    """
    if config.webhook and importlib.util.find_spec("tornado") is None:
        raise ConfigError(
            "webhook mode needs tornado (python-telegram-bot[webhooks]), which is missing from "
            "this environment; run `make install`, or unset TELEGRAM_WEBHOOK_URL to use long "
            "polling."
        )
    application = build_application(config)
    if config.webhook:
        logger.info(
            "Webhook mode: listening on port %d, path /%s", config.webhook_port, config.webhook_path
        )
        application.run_webhook(
            listen=WEBHOOK_LISTEN,
            port=config.webhook_port,
            url_path=config.webhook_path,
            webhook_url=config.webhook_url,
            secret_token=config.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
