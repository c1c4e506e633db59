"""A fake Telegram Bot API server (aiohttp) for end-to-end tests of bot/telegram/.

It serves ``/bot<token>/<method>`` like api.telegram.org: getMe, getUpdates (long polling on a
queue of updates the test pushes), sendMessage, sendChatAction, answerCallbackQuery,
editMessageReplyMarkup, setMyCommands, deleteWebhook, setWebhook. Every call is recorded with
its parameters and the status it got. Like Telegram, sendMessage refuses an empty text, a text
over 4,096 UTF-16 code units and callback data over 64 bytes (400); ``messages`` holds only what
was delivered. ``slow_down`` makes a chat answer slowly, like a group at Telegram's rate limit.
Several tokens (bots) can share one server; each has its own queue and record.

Like Telegram, once a bot has called setWebhook its updates are no longer queued for getUpdates
(which then answers 409) but POSTed to the webhook URL with the secret in the
``X-Telegram-Bot-Api-Secret-Token`` header; each delivery's HTTP status is kept in
``FakeBot.deliveries``. deleteWebhook goes back to the queue.

From a test (thread-safe, the server runs in its own thread)::

    with FakeTelegram() as fake:                  # base_url: http://127.0.0.1:<port>/bot
        bot = fake.bot("123:abc")
        bot.send_command(42, "/start", "northfield_hub")
        call = bot.wait_for("sendMessage", chat_id=42)

Run it alone to try the front end by hand: ``python tests/e2e/fake_telegram.py --port 8081``,
then type lines as ``<user id> <text>`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

BOT_USER = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "Small Hours (fake)",
    "username": "small_hours_fake_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
STRING_PARAMS = {"text", "callback_query_id", "action", "url", "secret_token", "parse_mode"}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DELIVERY_ATTEMPTS = 20  # a webhook that cannot be reached is tried again, 0.25 s apart


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 200  # the HTTP status the fake answered: anything else was not delivered
    injected: bool = False  # the failure was asked for by the test (fail_next)

    @property
    def delivered(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def reply_to(self) -> int | None:
        """The message id this message answers (reply_parameters, or the older parameter)."""
        params = self.params.get("reply_parameters")
        if isinstance(params, dict) and params.get("message_id") is not None:
            return int(params["message_id"])
        value = self.params.get("reply_to_message_id")
        return int(value) if value is not None else None

    @property
    def message_id(self) -> int | None:
        """The id Telegram gave the message this call sent."""
        result = self.params.get("_result")
        return int(result["message_id"]) if isinstance(result, dict) else None

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of an inline keyboard, row by row."""
        markup = self.params.get("reply_markup") or {}
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@dataclass
class Webhook:
    """What the bot passed to setWebhook."""

    url: str
    secret_token: str | None = None


@dataclass
class Delivery:
    """One update POSTed to a webhook: the HTTP status, or 0 when it could not be reached."""

    update_id: int
    status: int
    at: float = field(default_factory=time.monotonic)


class FakeBot:
    """The state of one token: pending updates, sent messages, recorded calls."""

    def __init__(self, server: FakeTelegram, token: str) -> None:
        self.server = server
        self.token = token
        self.calls: list[Call] = []
        self.webhook: Webhook | None = None
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on every call
        self._by_chat: dict[int | None, list[Call]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._cond: asyncio.Condition | None = None  # created on the server loop
        self._failures: dict[str, list[tuple[int | None, dict[str, Any]]]] = {}
        self._delays: dict[int, float] = {}  # chat id -> seconds each sendMessage there takes

    # --- what the test does -----------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (``update_id`` is filled in) and wake a waiting getUpdates, or POST it
        to the webhook when one is set."""
        update = self.new_update(update)
        self.server.call_in_loop(self._push, update)
        return update

    def new_update(self, content: dict[str, Any]) -> dict[str, Any]:
        """An update with the next ``update_id``, not sent anywhere (to POST it yourself)."""
        return {"update_id": next(self._update_ids), **content}

    def text_update(self, user_id: int, text: str) -> dict[str, Any]:
        """The update for ``user_id`` typing ``text``, not sent anywhere."""
        return self.new_update({"message": self._message(user_id, text=text)})

    def _user(self, user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"Dad{user_id}",
            "language_code": "en",
        }

    def _message(self, user_id: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": f"Dad{user_id}"},
            "from": self._user(user_id),
            **content,
        }

    def send_text(self, user_id: int, text: str) -> dict[str, Any]:
        """The dad types ``text``."""
        return self.push({"message": self._message(user_id, text=text)})

    def group_message(
        self, chat_id: int, user_id: int, text: str, reply_to: Call | None = None
    ) -> dict[str, Any]:
        """``user_id`` writes ``text`` in the group ``chat_id`` (a command if it starts with
        "/"), as a reply to the bot's message ``reply_to`` when given."""
        message = self._message(user_id, text=text)
        message["chat"] = {"id": chat_id, "type": "supergroup", "title": "Operators"}
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            message["reply_to_message"] = reply_to.params["_result"]
        return self.push({"message": message})

    def send_command(self, user_id: int, command: str, payload: str | None = None) -> dict:
        """The dad sends ``/command`` (with a deep-link payload, as t.me/<bot>?start=...)."""
        text = f"{command} {payload}" if payload else command
        entity = {"type": "bot_command", "offset": 0, "length": len(command)}
        return self.push({"message": self._message(user_id, text=text, entities=[entity])})

    def edit_text(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        """The dad edits an earlier message."""
        message = self._message(user_id, text=text, edit_date=int(time.time()))
        message["message_id"] = message_id
        return self.push({"edited_message": message})

    def send_sticker(self, user_id: int) -> dict[str, Any]:
        sticker = {
            "file_id": "sticker-1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self.push({"message": self._message(user_id, sticker=sticker)})

    def send_voice(self, user_id: int) -> dict[str, Any]:
        voice = {"file_id": "voice-1", "file_unique_id": "v1", "duration": 4}
        return self.push({"message": self._message(user_id, voice=voice)})

    def send_photo(self, user_id: int) -> dict[str, Any]:
        photo = [{"file_id": "photo-1", "file_unique_id": "p1", "width": 90, "height": 90}]
        return self.push({"message": self._message(user_id, photo=photo)})

    def send_location(self, user_id: int) -> dict[str, Any]:
        location = {"latitude": 51.5, "longitude": -0.12}
        return self.push({"message": self._message(user_id, location=location)})

    def press_button(self, user_id: int, message: Call, data: str) -> dict[str, Any]:
        """The dad presses the button with ``data`` on the bot's message ``message``."""
        sent = message.params["_result"]
        query = {
            "id": f"cq{next(self._update_ids)}",
            "from": self._user(user_id),
            "chat_instance": f"ci{user_id}",
            "message": sent,
            "data": data,
        }
        return self.push({"callback_query": query})

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        retry_after: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next call of ``method`` (to ``chat_id``, if given) fail: 429 with
        ``parameters.retry_after`` by default, as Telegram's flood control answers."""
        body: dict[str, Any] = {"ok": False, "error_code": error_code}
        if error_code == 429:
            body["description"] = f"Too Many Requests: retry after {retry_after}"
            body["parameters"] = {"retry_after": retry_after}
        else:
            body["description"] = "Bad Request: fake failure"
        with self._lock:
            self._failures.setdefault(method, []).append((chat_id, body))

    def slow_down(self, chat_id: int, seconds: float) -> None:
        """Make every sendMessage to ``chat_id`` take ``seconds`` (0 restores), like a busy
        group: the call is recorded when it is answered."""
        with self._lock:
            self._delays[chat_id] = seconds

    def delay_for(self, method: str, params: dict[str, Any]) -> float:
        if method != "sendMessage":
            return 0.0
        try:
            chat_id = int(params.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0.0
        with self._lock:
            return self._delays.get(chat_id, 0.0)

    # --- what the test checks -----------------------------------------------------------------

    def recorded(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Calls so far, optionally of one method and/or to one chat."""
        with self._lock:
            calls = list(self.calls if chat_id is None else self._by_chat.get(chat_id, ()))
        return [c for c in calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        chat_id: int | None = None,
        where: Callable[[Call], bool] | None = None,
        after: int = 0,
        timeout: float = 30.0,
        delivered: bool = False,
    ) -> Call:
        """The first matching call (skipping the first ``after`` of that method and chat);
        with ``delivered``, only calls Telegram would have accepted (as ``messages`` counts)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                total = len(self.calls)
            calls = self.recorded(method, chat_id)
            if delivered:
                calls = [c for c in calls if c.delivered]
            calls = calls[after:]
            found = [c for c in calls if where is None or where(c)]
            if found:
                return found[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(c.method, c.chat_id, c.text[:60]) for c in self.recorded()[-10:]]
                raise AssertionError(f"no {method} to {chat_id} within {timeout} s; last: {seen}")
            with self._changed:  # sleep until the next call (or the deadline)
                if len(self.calls) == total:
                    self._changed.wait(remaining)

    def refused(self) -> list[Call]:
        """Calls the fake refused as Telegram would (not failures the test asked for)."""
        with self._lock:
            return [c for c in self.calls if not c.delivered and not c.injected]

    def messages(self, chat_id: int) -> list[Call]:
        """Messages delivered to a chat (sendMessage calls the fake accepted)."""
        return [c for c in self.recorded("sendMessage", chat_id) if c.delivered]

    # --- what the server does ---------------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> None:
        if self.webhook is not None:
            asyncio.ensure_future(self._deliver(update, self.webhook))
            return
        self._updates.append(update)
        if self._cond is not None:
            asyncio.ensure_future(self._notify())

    async def _deliver(self, update: dict[str, Any], webhook: Webhook) -> None:
        """POST one update to the webhook, as Telegram does (retried while unreachable)."""
        headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        status = 0
        for _ in range(DELIVERY_ATTEMPTS):
            try:
                session = await self.server.session()
                async with session.post(webhook.url, json=update, headers=headers) as response:
                    status = response.status
                    break
            except (ClientError, asyncio.TimeoutError, OSError):
                await asyncio.sleep(0.25)
        with self._lock:
            self.deliveries.append(Delivery(update["update_id"], status))

    async def _notify(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._cond.notify_all()

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._cond is None:
            self._cond = asyncio.Condition()
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            async with self._cond:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._cond.wait(), timeout)
        return self._updates[:limit]

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Record the call and build the answer (except getUpdates)."""
        call = Call(method, params)
        with self._lock:
            failures = self._failures.get(method, [])
            index = next(
                (i for i, (chat, _) in enumerate(failures) if chat in (None, call.chat_id)), None
            )
            failure = failures.pop(index)[1] if index is not None else None
        status, body = (failure["error_code"], failure) if failure else self._answer(method, params)
        call.status, call.injected = status, failure is not None
        self._record(call)
        return status, body

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._by_chat.setdefault(call.chat_id, []).append(call)
            self._changed.notify_all()

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        result: Any = True
        if method == "getMe":
            result = BOT_USER
        elif method == "sendMessage":
            refused = _refused_message(params)
            if refused is not None:
                return 400, {"ok": False, "error_code": 400, "description": refused}
            chat_id = int(params["chat_id"])
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "supergroup" if chat_id < 0 else "private"},
                "from": BOT_USER,
                "text": str(params.get("text", "")),
            }
            if params.get("reply_markup"):
                result["reply_markup"] = params["reply_markup"]
            params["_result"] = result
        elif method == "editMessageText":
            result = {
                "message_id": int(params.get("message_id") or 0),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id") or 0), "type": "supergroup"},
                "from": BOT_USER,
                "text": str(params.get("text", "")),
            }
        elif method == "editMessageReplyMarkup":
            result = {
                "message_id": int(params.get("message_id") or 0),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id") or 0), "type": "private"},
                "from": BOT_USER,
                "text": "",
            }
        elif method == "setWebhook":
            self.webhook = Webhook(str(params.get("url", "")), params.get("secret_token"))
        elif method == "deleteWebhook":
            self.webhook = None
        elif method == "getWebhookInfo":
            url = self.webhook.url if self.webhook else ""
            result = {"url": url, "has_custom_certificate": False, "pending_update_count": 0}
        elif method not in KNOWN_METHODS:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return 200, {"ok": True, "result": result}


MAX_TEXT = 4096  # Telegram counts UTF-16 code units
MAX_CALLBACK_DATA = 64  # bytes


def _refused_message(params: dict[str, Any]) -> str | None:
    """What Telegram says of a sendMessage it refuses (None when it is fine)."""
    text = str(params.get("text", ""))
    if not text.strip():
        return "Bad Request: message text is empty"
    if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
        return "Bad Request: message is too long"
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        with contextlib.suppress(ValueError):
            markup = json.loads(markup)
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    for row in rows:
        for button in row:
            data = str(button.get("callback_data", ""))
            if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
                return "Bad Request: BUTTON_DATA_INVALID"
    return None


KNOWN_METHODS = {
    "getMe",
    "getUpdates",
    "sendMessage",
    "sendChatAction",
    "answerCallbackQuery",
    "editMessageReplyMarkup",
    "editMessageText",
    "setMyCommands",
    "deleteWebhook",
    "setWebhook",
    "getWebhookInfo",
    "close",
    "logOut",
}


CONFLICT = {
    "ok": False,
    "error_code": 409,
    "description": "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first",
}


def _decode(value: str, name: str) -> Any:
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeTelegram:
    """The server: ``start()`` runs it in a thread; ``stop()`` ends it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._bots: dict[str, FakeBot] = {}
        self._bots_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL should be (the token is appended)."""
        return f"http://{self.host}:{self.port}/bot"

    def bot(self, token: str) -> FakeBot:
        with self._bots_lock:
            if token not in self._bots:
                self._bots[token] = FakeBot(self, token)
            return self._bots[token]

    async def session(self) -> ClientSession:
        """The HTTP client that delivers updates to webhooks (on the server loop)."""
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=10))
        return self._session

    def call_in_loop(self, function: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None, "server not started"
        self._loop.call_soon_threadsafe(function, *args)

    async def _endpoint(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                params.update({k: _decode(str(v), k) for k, v in form.items()})
        bot = self.bot(token)
        if method == "getUpdates":
            status, body = bot.handle(method, {k: v for k, v in params.items() if k != "timeout"})
            if status != 200:
                return web.json_response(body, status=status)
            if bot.webhook is not None:
                return web.json_response(CONFLICT, status=409)
            updates = await bot.get_updates(params)
            return web.json_response({"ok": True, "result": updates})
        delay = bot.delay_for(method, params)
        if delay:
            await asyncio.sleep(delay)
        status, body = bot.handle(method, params)
        return web.json_response(body, status=status)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", r"/bot{token}/{method}", self._endpoint)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]

    def start(self) -> FakeTelegram:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-telegram", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    async def _shutdown(self) -> None:
        """Answer every waiting long poll, close the server, then stop the loop."""
        for bot in list(self._bots.values()):
            if bot._cond is not None:
                await bot._notify()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        asyncio.get_running_loop().stop()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            self._thread.join(15)
            self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Run the fake server; stdin lines ``<user id> <text>`` become messages to every bot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:fake-token")
    args = parser.parse_args()
    fake = FakeTelegram(port=args.port).start()
    bot = fake.bot(args.token)
    print(f"TELEGRAM_API_BASE_URL={fake.base_url} TELEGRAM_BOT_TOKEN={args.token}")
    print("Type '<user id> <text>' (e.g. '42 /start' or '42 is it normal he cries so much').")
    seen = 0

    def show() -> None:
        nonlocal seen
        while True:
            calls = bot.recorded("sendMessage")
            for call in calls[seen:]:
                print(f"[to {call.chat_id}] {call.text}")
                for title, data in call.buttons:
                    print(f"    [{title}] -> {data}")
            seen = len(calls)
            time.sleep(0.2)

    threading.Thread(target=show, daemon=True).start()
    try:
        for line in iter(input, "quit"):
            user, _, text = line.strip().partition(" ")
            if not user.isdigit() or not text:
                continue
            if text.startswith("/"):
                command, _, payload = text.partition(" ")
                bot.send_command(int(user), command, payload or None)
            else:
                bot.send_text(int(user), text)
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
