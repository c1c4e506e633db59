"""The Telegram front end end to end: fake Bot API server + the real Rasa and action servers.

The stack is started with ``scripts.supervise.start_stack("telegram")`` on unusual free ports,
with a temporary SQLite database and a throwaway pseudonym key. A second front end, pointed at a
Rasa URL where nothing listens, shows the "Rasa is down" card. Both poll the same fake server
with different tokens. A third front end runs in webhook mode: the fake server, like Telegram,
POSTs its updates to the local listener with the secret header once setWebhook has been called.
"""

from __future__ import annotations

import http.client
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.content.helplines import load_helplines
from bot.store.pseudonym import pseudonymise
from bot.telegram.content import load_texts
from scripts._common import MODEL_PATH, rasa_env, rel
from scripts.supervise import (
    Child,
    Stack,
    StackError,
    port_in_use,
    start_front_end,
    start_stack,
    stop_children,
)
from tests.e2e.fake_telegram import FakeBot, FakeTelegram

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "424242:small-hours-e2e"
DOWN_TOKEN = "434343:small-hours-e2e-rasa-down"
WEBHOOK_TOKEN = "454545:small-hours-e2e-webhook"
WEBHOOK_PATH = "small-hours/hook"
PORT_RANGE = range(5305, 5400)  # away from make serve (5005/5055) and the REST e2e (5105+)
WAIT = 30.0
TEXTS = load_texts()
LINES = load_helplines()


def _free_ports(count: int) -> list[int]:
    found = [p for p in PORT_RANGE if not port_in_use(p)][:count]
    if len(found) < count:
        pytest.fail(f"no {count} free ports between {PORT_RANGE.start} and {PORT_RANGE.stop}")
    return found


def _domain_texts() -> dict[str, list[str]]:
    responses: dict[str, list[str]] = {}
    for path in sorted((ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variants in (data.get("responses") or {}).items():
            for variant in variants or []:
                if isinstance(variant, dict) and "text" in variant:
                    responses.setdefault(name, []).append(variant["text"].strip())
    return responses


@dataclass
class Rig:
    fake: FakeTelegram
    bot: FakeBot
    down_bot: FakeBot
    stack: Stack
    db_path: Path
    dead_port: int  # nothing listens here (the "Rasa is down" front end's RASA_URL)

    def rows(self, sql: str, *args: object) -> list[tuple]:
        conn = sqlite3.connect(self.db_path, timeout=15)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()


def _log_says(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    if not MODEL_PATH.is_file():
        pytest.fail(f"No trained model at {rel(MODEL_PATH)}: run `make train`", pytrace=False)
    workdir = tmp_path_factory.mktemp("telegram-e2e")
    db_path = workdir / "small-hours.db"
    id_key = secrets.token_hex(16)
    patch = pytest.MonkeyPatch()
    patch.setenv("SMALL_HOURS_ID_KEY", id_key)  # so this process computes the same ids
    fake = FakeTelegram().start()
    rasa_port, actions_port, dead_port = _free_ports(3)
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SMALL_HOURS_ID_KEY": id_key,
        "RASA_TIMEOUT": "8",
    }
    down: Child | None = None
    stack: Stack | None = None
    try:
        # The "Rasa is down" front end starts first: it loads the safety layer meanwhile.
        down_log = workdir / "telegram-down.log"
        down_env = rasa_env({**env, "TELEGRAM_BOT_TOKEN": DOWN_TOKEN})
        down_env["RASA_URL"] = f"http://127.0.0.1:{dead_port}"
        down = start_front_end("telegram-down", down_env, down_log)
        try:
            stack = start_stack(
                "telegram",
                rasa_port=rasa_port,
                actions_port=actions_port,
                extra_env=env,
                log_dir=workdir / "logs",
            )
        except StackError as exc:
            pytest.fail(f"the Telegram stack did not start: {exc}", pytrace=False)
        bot, down_bot = fake.bot(TOKEN), fake.bot(DOWN_TOKEN)
        bot.wait_for("getUpdates", timeout=WAIT)
        down_bot.wait_for("getUpdates", timeout=WAIT)
        deadline = time.monotonic() + 90
        while not _log_says(down_log, "Safety layer loaded") and time.monotonic() < deadline:
            time.sleep(0.2)
        yield Rig(
            fake=fake,
            bot=bot,
            down_bot=down_bot,
            stack=stack,
            db_path=db_path,
            dead_port=dead_port,
        )
        refused = [(c.method, c.chat_id, c.text[:60]) for b in (bot, down_bot) for c in b.refused()]
        assert not refused, f"Telegram would have refused these calls: {refused}"
    finally:
        if down is not None:
            stop_children([down], grace=5)
        if stack is not None:
            stack.stop()
        fake.stop()
        patch.undo()


def _after(bot: FakeBot, chat_id: int) -> int:
    """How many messages the chat has had so far (to wait for the next one)."""
    return len(bot.messages(chat_id))


def test_start_commands_are_set_at_start_up(rig: Rig) -> None:
    call = rig.bot.wait_for("setMyCommands")
    names = {c["command"] for c in call.params["commands"]}
    assert {"help", "topics", "privacy", "forget"} <= names
    assert rig.bot.recorded("deleteWebhook"), "polling should clear any webhook first"


def test_referral_start_records_and_greets_by_name(rig: Rig) -> None:
    user = 1001
    rig.bot.send_command(user, "/start", "northfield_hub")
    reply = rig.bot.wait_for("sendMessage", chat_id=user)
    assert "Northfield Family Hub" in reply.text
    store_id = pseudonymise(pseudonymise(str(user)))
    rows = rig.rows("SELECT service_code FROM sh_referrals WHERE conversation_id = ?", store_id)
    assert rows == [("northfield_hub",)]
    assert not rig.rows("SELECT 1 FROM sh_referrals WHERE conversation_id = ?", str(user))

    for payload in ("unknown_hub", "bad;code", None):
        seen = _after(rig.bot, user)
        rig.bot.send_command(user, "/start", payload)
        reply = rig.bot.wait_for("sendMessage", chat_id=user, after=seen)
        assert reply.text == TEXTS.welcome()
    assert len(rig.rows("SELECT 1 FROM sh_referrals")) == 1


def test_topic_question_then_a_button(rig: Rig) -> None:
    user = 1002
    rig.bot.send_text(user, "is it normal he cries so much")
    with_buttons = rig.bot.wait_for("sendMessage", chat_id=user, where=lambda c: bool(c.buttons))
    assert rig.bot.recorded("sendChatAction", chat_id=user), "no typing indicator"
    title, data = next((t, d) for t, d in with_buttons.buttons if d.startswith("/ask_"))
    assert len(data.encode()) <= 64
    seen = _after(rig.bot, user)

    update = rig.bot.press_button(user, with_buttons, data)
    query_id = update["callback_query"]["id"]
    rig.bot.wait_for(
        "answerCallbackQuery", where=lambda c: c.params["callback_query_id"] == query_id
    )
    message_id = with_buttons.params["_result"]["message_id"]
    edit = rig.bot.wait_for(
        "editMessageReplyMarkup", where=lambda c: int(c.params["message_id"]) == message_id
    )
    assert not edit.params.get("reply_markup", {}).get("inline_keyboard")

    answer = rig.bot.wait_for("sendMessage", chat_id=user, after=seen)
    variants = _domain_texts()[f"utter_{data.lstrip('/')}"]
    first_paragraphs = [v.split("\n\n")[0] for v in variants]
    assert any(p in answer.text for p in first_paragraphs), (title, answer.text[:200])


def test_topics_asks_rasa_for_its_menu(rig: Rig) -> None:
    user = 1009
    rig.bot.send_command(user, "/topics")
    reply = rig.bot.wait_for("sendMessage", chat_id=user, where=lambda c: bool(c.buttons))
    assert all(len(data.encode()) <= 64 for _, data in reply.buttons)
    assert "I'm having trouble" not in reply.text


def test_unknown_command_gets_help(rig: Rig) -> None:
    user = 1010
    rig.bot.send_command(user, "/safety_emergency")
    assert rig.bot.wait_for("sendMessage", chat_id=user).text == TEXTS["help"]


def test_emergency_message_gets_999_first(rig: Rig) -> None:
    user = 1003
    rig.bot.send_text(user, "my baby isnt breathing properly and hes gone blue")
    reply = rig.bot.wait_for("sendMessage", chat_id=user)
    assert reply.text.startswith("Call 999 now"), reply.text[:200]


def test_edited_message_is_answered_as_new_text(rig: Rig) -> None:
    user = 1008
    sent = rig.bot.send_text(user, "hello")
    rig.bot.wait_for("sendMessage", chat_id=user)
    seen = _after(rig.bot, user)
    rig.bot.edit_text(user, sent["message"]["message_id"], "my baby is not breathing")
    reply = rig.bot.wait_for("sendMessage", chat_id=user, after=seen)
    assert reply.text.startswith("Call 999 now"), reply.text[:200]


def test_stickers_photos_and_voice_get_a_kind_reply(rig: Rig) -> None:
    user = 1004
    for send, expected in (
        (rig.bot.send_sticker, TEXTS["non_text"]),
        (rig.bot.send_photo, TEXTS["non_text"]),
        (rig.bot.send_location, TEXTS["non_text"]),
        (rig.bot.send_voice, TEXTS["voice"]),
    ):
        seen = _after(rig.bot, user)
        send(user)
        assert rig.bot.wait_for("sendMessage", chat_id=user, after=seen).text == expected
    assert LINES["emergency"].number in TEXTS["voice"]


def test_rasa_down_sends_the_card_within_seconds(rig: Rig) -> None:
    user = 1005
    started = time.monotonic()
    rig.down_bot.send_text(user, "how do i wind a baby")
    card = rig.down_bot.wait_for("sendMessage", chat_id=user, timeout=10)
    assert time.monotonic() - started < 5
    assert card.text == TEXTS.trouble_card()
    for key in ("emergency", "nhs111", "samaritans"):
        assert LINES[key].number in card.text

    rig.down_bot.send_text(user, "my baby is not breathing")
    led = rig.down_bot.wait_for("sendMessage", chat_id=user, after=1, timeout=10)
    assert led.text.startswith("Call 999 now"), led.text[:200]
    assert "I'm having trouble" in led.text


def test_twenty_chats_at_once_are_all_answered(rig: Rig) -> None:
    users = list(range(2001, 2021))
    questions = ["is it normal he cries so much", "how do i hold a newborn", "hi"]
    started = time.monotonic()
    threads = [
        threading.Thread(target=rig.bot.send_text, args=(u, questions[u % len(questions)]))
        for u in users
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for user in users:
        rig.bot.wait_for(
            "sendMessage", chat_id=user, timeout=max(5, 60 - (time.monotonic() - started))
        )
    assert not [
        c
        for c in rig.bot.recorded("sendMessage")
        if c.chat_id in users and "I'm having trouble" in c.text
    ]


def test_forget_removes_everything(rig: Rig) -> None:
    user = 1007
    sender = pseudonymise(str(user))
    store_id = pseudonymise(sender)
    rig.bot.send_command(user, "/start", "riverside-hub")
    rig.bot.wait_for("sendMessage", chat_id=user)
    rig.bot.send_text(user, "how do i hold a newborn")
    rig.bot.wait_for("sendMessage", chat_id=user, after=1)
    assert rig.rows("SELECT 1 FROM events WHERE sender_id = ?", sender)
    assert rig.rows("SELECT 1 FROM sh_referrals WHERE conversation_id = ?", store_id)

    seen = _after(rig.bot, user)
    rig.bot.send_command(user, "/forget")
    confirm = rig.bot.wait_for("sendMessage", chat_id=user, after=seen)
    assert confirm.text == TEXTS["forget_confirm"]
    yes = next(data for _, data in confirm.buttons if data.endswith("yes"))
    seen = _after(rig.bot, user)
    rig.bot.press_button(user, confirm, yes)
    done = rig.bot.wait_for("sendMessage", chat_id=user, after=seen)
    assert done.text == TEXTS["forget_done"]
    assert not rig.rows("SELECT 1 FROM events WHERE sender_id = ?", sender)
    assert not rig.rows("SELECT 1 FROM sh_referrals WHERE conversation_id = ?", store_id)
    other = pseudonymise(pseudonymise("1001"))
    assert rig.rows("SELECT 1 FROM sh_referrals WHERE conversation_id = ?", other), (
        "another dad's data was deleted"
    )


def test_no_message_text_in_the_front_end_log(rig: Rig) -> None:
    log = rig.stack.child("telegram")
    assert log is not None and log.log_path is not None
    text = log.log_path.read_text(encoding="utf-8", errors="replace")
    for secret in ("cries so much", "not breathing", "hold a newborn", TOKEN.split(":")[1]):
        assert secret not in text


def test_flood_control_is_waited_out_and_retried(rig: Rig) -> None:
    user = 1011
    rig.bot.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=user)
    rig.bot.send_text(user, "how do i wind a baby")
    refused = rig.bot.wait_for("sendMessage", chat_id=user)
    retried = rig.bot.wait_for("sendMessage", chat_id=user, after=1)
    assert retried.text == refused.text and "I'm having trouble" not in retried.text
    assert retried.at - refused.at >= 1.0, "sent again before retry_after had passed"


# --------------------------------------------------------------------------- webhook mode
@dataclass
class WebhookRig:
    bot: FakeBot
    port: int
    secret: str
    child: Child

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{WEBHOOK_PATH}"

    def delivered(self, update: dict) -> list[int]:
        """HTTP statuses of the fake server's deliveries of ``update`` to the webhook."""
        return [d.status for d in self.bot.deliveries if d.update_id == update["update_id"]]

    def post(self, update: dict, secret: str | None) -> int:
        """POST ``update`` to the listener as Telegram would; the HTTP status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", f"/{WEBHOOK_PATH}", json.dumps(update).encode(), headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()


@pytest.fixture(scope="module")
def webhook(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookRig]:
    """The front end in webhook mode (TELEGRAM_WEBHOOK_URL on a loopback port), on the same
    Rasa and fake Bot API server as the polling one."""
    free = [p for p in PORT_RANGE if p != rig.dead_port and not port_in_use(p)]
    if not free:
        pytest.fail(f"no free port between {PORT_RANGE.start} and {PORT_RANGE.stop}")
    port, secret = free[0], f"e2e-{secrets.token_hex(12)}"
    log_path = tmp_path_factory.mktemp("telegram-webhook") / "telegram-webhook.log"
    env = rasa_env(
        {
            "TELEGRAM_BOT_TOKEN": WEBHOOK_TOKEN,
            "TELEGRAM_API_BASE_URL": rig.fake.base_url,
            "RASA_URL": rig.stack.rasa_url,
            "DATABASE_URL": f"sqlite:///{rig.db_path}",
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/{WEBHOOK_PATH}",
            "TELEGRAM_WEBHOOK_PORT": str(port),
            "TELEGRAM_WEBHOOK_SECRET": secret,
        }
    )
    child = start_front_end("telegram-webhook", env, log_path)
    try:
        bot = rig.fake.bot(WEBHOOK_TOKEN)
        deadline = time.monotonic() + WAIT
        while not port_in_use(port):
            if child.exited() is not None or time.monotonic() > deadline:
                log_text = log_path.read_text(encoding="utf-8", errors="replace")
                pytest.fail(f"the webhook front end did not start:\n{log_text[-2000:]}")
            time.sleep(0.1)
        yield WebhookRig(bot=bot, port=port, secret=secret, child=child)
    finally:
        stop_children([child], grace=5)


def test_webhook_is_set_with_the_secret(webhook: WebhookRig) -> None:
    call = webhook.bot.wait_for("setWebhook", timeout=WAIT)
    assert call.params["url"] == webhook.url
    assert call.params["secret_token"] == webhook.secret
    assert set(call.params["allowed_updates"]) == {"message", "edited_message", "callback_query"}
    assert not webhook.bot.recorded("getUpdates"), "a webhook front end must not poll"


def test_webhook_update_with_the_secret_is_answered(webhook: WebhookRig) -> None:
    user = 3001
    status = webhook.post(webhook.bot.text_update(user, "how do i wind a baby"), webhook.secret)
    assert status == 200
    reply = webhook.bot.wait_for("sendMessage", chat_id=user)
    assert reply.text and "I'm having trouble" not in reply.text

    # The fake server delivers like Telegram: POST to the URL given to setWebhook, with the secret.
    user = 3002
    update = webhook.bot.send_text(user, "my baby isnt breathing properly and hes gone blue")
    assert webhook.bot.wait_for("sendMessage", chat_id=user).text.startswith("Call 999 now")
    deadline = time.monotonic() + 5  # the delivery is noted once its response is read
    while not (delivered := webhook.delivered(update)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert delivered == [200]


def test_webhook_update_without_the_right_secret_is_rejected(webhook: WebhookRig) -> None:
    missing, wrong, good = 3101, 3102, 3103
    text = "my baby isnt breathing properly and hes gone blue"
    assert webhook.post(webhook.bot.text_update(missing, text), None) == 403
    assert webhook.post(webhook.bot.text_update(wrong, text), webhook.secret + "x") == 403
    assert webhook.post(webhook.bot.text_update(wrong, text), "") == 403
    # A good update sent after them is answered; by then the rejected ones would have been too.
    assert webhook.post(webhook.bot.text_update(good, text), webhook.secret) == 200
    webhook.bot.wait_for("sendMessage", chat_id=good)
    time.sleep(1.0)
    for user in (missing, wrong):
        assert not webhook.bot.recorded(chat_id=user), f"a rejected update reached chat {user}"
