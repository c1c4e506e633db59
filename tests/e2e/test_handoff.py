"""Human support end to end: a dad, the operators' group and the real Rasa and action servers.

Everything goes through the fake Bot API server (tests/e2e/fake_telegram.py): the dad in his
private chat, operators in their group (OPERATOR_CHAT_ID), strangers elsewhere. One stack has
operators on duty all the time (no OPERATOR_HOURS) and a short OPERATOR_TIMEOUT_SECONDS; a
second stack, started only for the out-of-hours test, has hours that are closed today.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet

from bot.content.helplines import load_helplines
from bot.safety.tiers import Tier
from bot.store.pseudonym import pseudonymise
from bot.telegram.content import load_texts
from scripts._common import MODEL_PATH, rel
from scripts.supervise import Stack, StackError, port_in_use, start_stack
from tests.e2e.fake_telegram import Call, FakeBot, FakeTelegram

pytestmark = pytest.mark.server

TOKEN = "474747:small-hours-e2e-handoff"
CLOSED_TOKEN = "484848:small-hours-e2e-closed"
OPS = -1001234567  # the operators' group
OTHER_GROUP = -1009999999
OPERATOR, OTHER_OPERATOR, STRANGER = 9001, 9002, 6666
DISPLAY_NAME = "Sam at Northfield"
TIMEOUT = 6  # OPERATOR_TIMEOUT_SECONDS for this stack
PORT_RANGE = range(5405, 5500)
WAIT = 30.0
QUIET = 2.0  # how long "nothing else arrives" is watched for
TEXTS = load_texts()
LINES = load_helplines()
SAMARITANS = LINES["samaritans"].number


@dataclass
class Rig:
    fake: FakeTelegram
    bot: FakeBot
    stack: Stack
    db_path: Path

    def rows(self, sql: str, *args: object) -> list[tuple]:
        conn = sqlite3.connect(self.db_path, timeout=15)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def events(self, user: int) -> list[dict]:
        """Rasa's stored events for the dad, oldest first."""
        rows = self.rows(
            "SELECT data FROM events WHERE sender_id = ? ORDER BY id", pseudonymise(str(user))
        )
        return [json.loads(data) for (data,) in rows]

    def active_loop(self, user: int) -> str | None:
        loops = [e for e in self.events(user) if e.get("event") == "active_loop"]
        return loops[-1].get("name") if loops else None


def _free_ports(count: int, taken: set[int] = frozenset()) -> list[int]:
    found = [p for p in PORT_RANGE if p not in taken and not port_in_use(p)][:count]
    if len(found) < count:
        pytest.fail(f"no {count} free ports between {PORT_RANGE.start} and {PORT_RANGE.stop}")
    return found


def _start_rig(
    tmp_path_factory: pytest.TempPathFactory, token: str, extra: dict[str, str], taken: set[int]
) -> Iterator[Rig]:
    if not MODEL_PATH.is_file():
        pytest.fail(f"No trained model at {rel(MODEL_PATH)}: run `make train`", pytrace=False)
    workdir = tmp_path_factory.mktemp("handoff-e2e")
    db_path = workdir / "small-hours.db"
    id_key = secrets.token_hex(16)
    patch = pytest.MonkeyPatch()
    patch.setenv("SMALL_HOURS_ID_KEY", id_key)  # so this process computes the same ids
    fake = FakeTelegram().start()
    rasa_port, actions_port = _free_ports(2, taken)
    taken.update({rasa_port, actions_port})
    env = {
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SMALL_HOURS_ID_KEY": id_key,
        "SMALL_HOURS_DATA_KEY": Fernet.generate_key().decode("ascii"),
        "OPERATOR_CHAT_ID": str(OPS),
        "OPERATOR_USER_IDS": f"{OPERATOR},{OTHER_OPERATOR}",
        "OPERATOR_TIMEOUT_SECONDS": str(TIMEOUT),
        "OPERATOR_DISPLAY_NAME": DISPLAY_NAME,
        **extra,
    }
    stack: Stack | None = None
    try:
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
        bot = fake.bot(token)
        bot.wait_for("getUpdates", timeout=WAIT)
        yield Rig(fake=fake, bot=bot, stack=stack, db_path=db_path)
        refused = [(c.method, c.chat_id, c.text[:60]) for c in bot.refused()]
        assert not refused, f"Telegram would have refused these calls: {refused}"
    finally:
        if stack is not None:
            stack.stop()
        fake.stop()
        patch.undo()


_PORTS: set[int] = set()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    yield from _start_rig(tmp_path_factory, TOKEN, {}, _PORTS)


@pytest.fixture(scope="module")
def closed_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Operators whose only hours are on another day of the week: closed all of today."""
    today = datetime.now(ZoneInfo("Europe/London")).weekday()
    other_day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][(today + 3) % 7]
    extra = {"OPERATOR_HOURS": f"{other_day} 09:00-17:00"}
    yield from _start_rig(tmp_path_factory, CLOSED_TOKEN, extra, _PORTS)


# --- helpers ---------------------------------------------------------------------------------


def seen(bot: FakeBot, chat: int) -> int:
    return len(bot.messages(chat))


def next_message(
    bot: FakeBot, chat: int, after: int, where: Callable[[Call], bool] | None = None
) -> Call:
    return bot.wait_for(
        "sendMessage", chat_id=chat, after=after, where=where, timeout=WAIT, delivered=True
    )


def with_button(data: str) -> Callable[[Call], bool]:
    return lambda call: any(d == data for _, d in call.buttons)


def assert_quiet(bot: FakeBot, chat: int, count: int, what: str) -> None:
    """Nothing more is sent to ``chat`` for a while."""
    time.sleep(QUIET)
    extra = [c.text[:80] for c in bot.messages(chat)[count:]]
    assert not extra, f"{what}: {extra}"


def press(bot: FakeBot, user: int, message: Call, data: str) -> None:
    bot.press_button(user, message, data)


def sharing_question(rig: Rig, user: int) -> Call:
    """Ask for a person and take live chat: the question whether to share his messages."""
    bot = rig.bot
    before = seen(bot, user)
    bot.send_text(user, "is there a real person i can talk to")
    offer = next_message(bot, user, before, with_button("/live_chat"))
    assert any(d == "/request_callback" for _, d in offer.buttons), offer.buttons
    before = seen(bot, user)
    press(bot, user, offer, "/live_chat")
    return next_message(bot, user, before, with_button("sh:live:share"))


def open_live_chat(rig: Rig, user: int, share: bool = True) -> tuple[Call, Call]:
    """Ask for a person, take live chat, answer the sharing question: (card, waiting message)."""
    bot = rig.bot
    question = sharing_question(rig, user)
    ops_before = seen(bot, OPS)
    before = seen(bot, user)
    press(bot, user, question, "sh:live:share" if share else "sh:live:noshare")
    card = next_message(bot, OPS, ops_before, lambda c: "SH-" in c.text)
    waiting = next_message(bot, user, before, with_button("sh:live:end"))
    return card, waiting


def ref_of(card: Call) -> str:
    return next(word for word in card.text.split() if word.startswith("SH-"))


def handoff_row(rig: Rig, ref: str) -> dict:
    conn = sqlite3.connect(rig.db_path, timeout=15)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM sh_handoffs WHERE ref = ?", (ref,)).fetchone()
    finally:
        conn.close()
    assert row is not None, ref
    return dict(row)


def operator_says(rig: Rig, text: str, reply_to: Call | None, user: int = OPERATOR) -> None:
    rig.bot.group_message(OPS, user, text, reply_to=reply_to)


# --- live chat ---------------------------------------------------------------------------------


def test_live_chat_round_trip(rig: Rig) -> None:
    bot, dad = rig.bot, 3001
    bot.send_command(dad, "/start", "northfield_hub")
    next_message(bot, dad, 0)
    before = seen(bot, dad)
    bot.send_text(dad, "hes been screaming since 9 and i am so tired")
    next_message(bot, dad, before)

    card, waiting = open_live_chat(rig, dad, share=True)
    ref = ref_of(card)
    assert "Northfield Family Hub" in card.text
    assert "hes been screaming since 9" in card.text, "the shared history is missing"
    assert str(dad) not in card.text and f"Dad{dad}" not in card.text
    assert ref in waiting.text and "within 1 minute." in waiting.text
    assert any(e.get("event") == "pause" for e in rig.events(dad)), "Rasa was not paused"

    # The operator answers by replying to the card: the dad sees the display name only.
    before = seen(bot, dad)
    operator_says(rig, "Hi, I'm here. What's happening tonight?", reply_to=card)
    relayed = next_message(bot, dad, before)
    assert relayed.text == f"{DISPLAY_NAME}: Hi, I'm here. What's happening tonight?"
    assert str(OPERATOR) not in relayed.text

    # His next message goes to the operators, in the card's thread, and Rasa stays silent.
    ops_before = seen(bot, OPS)
    before = seen(bot, dad)
    bot.send_text(dad, "how do i get him to sleep, ive tried everything")
    passed_on = next_message(bot, OPS, ops_before)
    assert "how do i get him to sleep" in passed_on.text and ref in passed_on.text
    assert passed_on.reply_to == card.message_id
    assert_quiet(bot, dad, before, "the bot answered during a live chat")

    row = handoff_row(rig, ref)
    assert row["status"] == "active" and row["first_response_at"] is not None
    assert row["operator_id"] and str(OPERATOR) not in row["operator_id"]
    assert row["chat_enc"] and str(dad) not in row["chat_enc"]

    # /end as a reply in the thread: both sides told, Rasa resumed, the bot answers again.
    before = seen(bot, dad)
    ops_before = seen(bot, OPS)
    operator_says(rig, "/end", reply_to=passed_on)
    ended = next_message(bot, dad, before)
    assert DISPLAY_NAME in ended.text
    next_message(bot, OPS, ops_before, lambda c: ref in c.text)
    row = handoff_row(rig, ref)
    assert (row["status"], row["ended_by"]) == ("ended", "operator")
    assert row["chat_enc"] is None, "the dad's chat id outlived the chat"
    assert any(e.get("event") == "resume" for e in rig.events(dad)), "Rasa was not resumed"
    before = seen(bot, dad)
    bot.send_text(dad, "how do i wind him after a feed")
    answer = next_message(bot, dad, before)
    assert "Source:" in answer.text, answer.text

    # No message text is kept in our tables.
    dump = "\n".join(str(r) for r in rig.rows("SELECT * FROM sh_handoffs"))
    assert "screaming" not in dump and "sleep" not in dump


def test_long_and_edited_replies_reach_the_dad_signed_and_whole(rig: Rig) -> None:
    bot, dad = rig.bot, 3011
    card, _ = open_live_chat(rig, dad, share=False)
    paragraph = "Here is what can help tonight, one step at a time. " * 40
    long_reply = f"{paragraph.strip()}\n\n{paragraph.strip()}"  # about 4,000 characters
    before = seen(bot, dad)
    operator_says(rig, long_reply, reply_to=card)
    first = next_message(bot, dad, before)
    second = next_message(bot, dad, before + 1)
    assert first.text.startswith(f"{DISPLAY_NAME}: Here is what")
    assert f"{first.text}\n\n{second.text}" == f"{DISPLAY_NAME}: {long_reply}"
    # He edits a message: the team sees it marked as edited, not as a new question.
    ops_before = seen(bot, OPS)
    sent = bot.send_text(dad, "hes 6 weeks old")
    bot.edit_text(dad, sent["message"]["message_id"], "hes 8 weeks old")
    edited = next_message(bot, OPS, ops_before, lambda c: "8 weeks" in c.text)
    assert "edited" in edited.text and ref_of(card) in edited.text
    operator_says(rig, "/end", reply_to=card)


def test_commands_and_voice_notes_during_a_live_chat(rig: Rig) -> None:
    """Rasa is paused, so the front end answers: never the trouble card, never silence."""
    bot, dad = rig.bot, 3012
    card, _ = open_live_chat(rig, dad)
    ref = ref_of(card)
    for command in ("/topics", "/human", "/start"):
        before = seen(bot, dad)
        bot.send_command(dad, command)
        reply = next_message(bot, dad, before)
        assert ref in reply.text and "trouble" not in reply.text, (command, reply.text)
        assert any(d == "sh:live:end" for _, d in reply.buttons)
    before, ops_before = seen(bot, dad), seen(bot, OPS)
    bot.send_voice(dad)
    told = next_message(bot, dad, before)
    assert told.text == TEXTS["handoff_non_text"] and LINES["emergency"].number in told.text
    note = next_message(bot, OPS, ops_before, lambda c: ref in c.text)
    assert "voice message" in note.text and note.reply_to == card.message_id
    operator_says(rig, "/end", reply_to=card)


def test_a_card_telegram_refuses_gives_him_the_lines_and_the_bot_back(rig: Rig) -> None:
    bot, dad = rig.bot, 3013
    question = sharing_question(rig, dad)
    bot.fail_next("sendMessage", error_code=400, chat_id=OPS)  # e.g. the bot left the group
    before = seen(bot, dad)
    press(bot, dad, question, "sh:live:noshare")
    failed = next_message(bot, dad, before, lambda c: TEXTS["handoff_failed"] in c.text)
    assert SAMARITANS in failed.text
    refs = rig.rows(
        "SELECT ref, status, ended_by FROM sh_handoffs WHERE conversation_id = ?",
        pseudonymise(pseudonymise(str(dad))),
    )
    assert [(status, by) for _, status, by in refs] == [("ended", "system")]
    deadline = time.monotonic() + WAIT
    while not any(e.get("event") == "resume" for e in rig.events(dad)):
        assert time.monotonic() < deadline, "Rasa was not resumed"
        time.sleep(0.2)
    before = seen(bot, dad)
    bot.send_text(dad, "how do i wind him after a feed")
    assert "Source:" in next_message(bot, dad, before).text


def test_dad_ends_the_chat_with_the_button(rig: Rig) -> None:
    bot, dad = rig.bot, 3002
    card, waiting = open_live_chat(rig, dad, share=False)
    ref = ref_of(card)
    assert TEXTS["op_history_not_shared"] in card.text
    before, ops_before = seen(bot, dad), seen(bot, OPS)
    press(bot, dad, waiting, "sh:live:end")
    assert next_message(bot, dad, before).text == TEXTS["handoff_ended_by_dad"]
    note = next_message(bot, OPS, ops_before)
    assert ref in note.text
    row = handoff_row(rig, ref)
    assert (row["status"], row["ended_by"]) == ("ended", "dad")
    # A late operator reply is not relayed; the operator is told why.
    before, ops_before = seen(bot, dad), seen(bot, OPS)
    operator_says(rig, "sorry, are you still there?", reply_to=card)
    assert ref in next_message(bot, OPS, ops_before).text
    assert_quiet(bot, dad, before, "a reply after the end reached the dad")


def test_no_operator_within_the_timeout(rig: Rig) -> None:
    bot, dad = rig.bot, 3003
    card, _ = open_live_chat(rig, dad)
    ref = ref_of(card)
    before, ops_before = seen(bot, dad), seen(bot, OPS)
    told = bot.wait_for(
        "sendMessage",
        chat_id=dad,
        after=before,
        where=with_button("/request_callback"),
        timeout=TIMEOUT + 20,
    )
    assert SAMARITANS in told.text and "within 1 minute." in told.text
    assert ref in next_message(bot, OPS, ops_before).text
    row = handoff_row(rig, ref)
    assert (row["status"], row["ended_by"]) == ("timed_out", "timeout")
    assert any(e.get("event") == "resume" for e in rig.events(dad))
    # The call-back button starts the form.
    press(bot, dad, told, "/request_callback")
    deadline = time.monotonic() + WAIT
    while rig.active_loop(dad) != "callback_form" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rig.active_loop(dad) == "callback_form"


def test_only_operators_in_the_operators_chat_act(rig: Rig) -> None:
    bot, dad = rig.bot, 3004
    card, _ = open_live_chat(rig, dad)
    ref = ref_of(card)
    before, ops_before = seen(bot, dad), seen(bot, OPS)
    operator_says(rig, "I'm not staff but hi", reply_to=card, user=STRANGER)
    operator_says(rig, "/queue", reply_to=None, user=STRANGER)
    bot.group_message(OTHER_GROUP, OPERATOR, "/queue")
    bot.group_message(OTHER_GROUP, OPERATOR, "hello", reply_to=card)
    assert_quiet(bot, dad, before, "a stranger's reply reached the dad")
    assert seen(bot, OPS) == ops_before, "a stranger's command was answered"
    assert not bot.messages(OTHER_GROUP), "the bot answered in a group that is not the operators'"

    # A second allowed operator sees the queue and ends it by reference.
    operator_says(rig, "/queue", reply_to=None, user=OTHER_OPERATOR)
    queue = next_message(bot, OPS, ops_before)
    assert ref in queue.text and "waiting" in queue.text
    before = seen(bot, dad)
    operator_says(rig, f"/end {ref}", reply_to=None, user=OTHER_OPERATOR)
    next_message(bot, dad, before)
    assert handoff_row(rig, ref)["ended_by"] == "operator"


def answered_live_chat(rig: Rig, dad: int) -> tuple[Call, str, int]:
    """A live chat an operator has answered: (card, reference, operators' messages before)."""
    card, _ = open_live_chat(rig, dad)
    before, ops_before = seen(rig.bot, dad), seen(rig.bot, OPS)
    operator_says(rig, "Hello, I'm with you", reply_to=card)
    next_message(rig.bot, dad, before)
    return card, ref_of(card), ops_before


def test_an_emergency_during_a_live_chat(rig: Rig) -> None:
    bot, dad = rig.bot, 3005
    card, ref, ops_before = answered_live_chat(rig, dad)
    before = seen(bot, dad)
    bot.send_text(dad, "hes gone floppy and hes not breathing")
    first = next_message(bot, dad, before)
    assert first.text == TEXTS.leads[Tier.EMERGENCY], first.text
    alert = next_message(bot, OPS, ops_before, lambda c: "SAFETY ALERT" in c.text)
    assert ref in alert.text and "not breathing" in alert.text and "999" in alert.text
    store = pseudonymise(pseudonymise(str(dad)))
    tiers = rig.rows("SELECT tier FROM sh_escalation_events WHERE conversation_id = ?", store)
    assert ("emergency",) in tiers
    operator_says(rig, "/end", reply_to=card)


def test_an_emergency_is_answered_at_once_while_the_operators_chat_is_busy(rig: Rig) -> None:
    """Telegram lets a bot post about 20 times a minute in a group: a busy operators' chat
    must never hold up a dad's 999."""
    bot, dad = rig.bot, 3009
    card, ref, ops_before = answered_live_chat(rig, dad)
    bot.slow_down(OPS, 4.0)
    try:
        before = seen(bot, dad)
        bot.send_text(dad, "ok thanks for answering")
        bot.send_text(dad, "wait hes gone blue and floppy")
        lead = next_message(bot, dad, before)
        assert lead.text == TEXTS.leads[Tier.EMERGENCY], lead.text
        first = next_message(bot, OPS, ops_before, lambda c: "ok thanks" in c.text)
        assert lead.at < first.at, "the 999 waited for the operators' chat"
        alert = next_message(bot, OPS, ops_before, lambda c: "SAFETY ALERT" in c.text)
    finally:
        bot.slow_down(OPS, 0)
    assert ref in alert.text and "gone blue" in alert.text
    assert alert.reply_to == card.message_id
    texts = [c.text for c in bot.messages(OPS)[ops_before:]]
    joined = "\n".join(texts)
    assert joined.index("ok thanks") < joined.index("gone blue"), texts
    operator_says(rig, "/end", reply_to=card)


def test_a_long_message_reaches_the_operators_whole_in_pieces(rig: Rig) -> None:
    bot, dad = rig.bot, 3010
    card, _ = open_live_chat(rig, dad, share=False)
    ref = ref_of(card)
    sentence = "i just dont know how to explain how tired i am and how the nights go. "
    long_text = (sentence * 60)[:4090].strip()  # near Telegram's 4,096: no room for a prefix
    before, ops_before = seen(bot, dad), seen(bot, OPS)
    bot.send_text(dad, long_text)

    def relayed() -> str:
        pieces = [c for c in bot.messages(OPS)[ops_before:] if ref in c.text]
        lines = [line for c in pieces for line in c.text.split("\n")]
        return "".join(line.split("dad: ", 1)[1] for line in lines).replace(" ", "")

    deadline = time.monotonic() + WAIT
    while relayed() != long_text.replace(" ", "") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert relayed() == long_text.replace(" ", ""), "text was lost or changed"
    pieces = [c for c in bot.messages(OPS)[ops_before:] if ref in c.text]
    assert len(pieces) == 2 and all(len(c.text) <= 4096 for c in pieces)
    assert all(c.reply_to == card.message_id for c in pieces)
    failed = [c.text for c in bot.messages(dad)[before:] if TEXTS["handoff_relay_failed"] in c.text]
    assert not failed, failed
    operator_says(rig, "/end", reply_to=card)


# --- call back ---------------------------------------------------------------------------------


def test_call_back_form_with_a_bad_then_a_good_number(rig: Rig) -> None:
    bot, dad = rig.bot, 3006
    before = seen(bot, dad)
    bot.send_text(dad, "can someone call me back tomorrow")
    next_message(bot, dad, before)
    assert rig.active_loop(dad) == "callback_form"

    before = seen(bot, dad)
    bot.send_text(dad, "my number is 12345")
    reask = next_message(bot, dad, before)
    assert rig.active_loop(dad) == "callback_form", reask.text

    before = seen(bot, dad)
    bot.send_text(dad, "07700 900 456")  # not the bot's own example number
    window = next_message(bot, dad, before, with_button("afternoon"))
    before = seen(bot, dad)
    press(bot, dad, window, "afternoon")
    consent = next_message(bot, dad, before, with_button("/affirm"))
    assert "456" in consent.text and "900 456" not in consent.text
    before = seen(bot, dad)
    press(bot, dad, consent, "/affirm")
    confirmed = next_message(bot, dad, before, lambda c: "CB-" in c.text)
    cb_ref = next(w.strip(".,:;()") for w in confirmed.text.split() if w.startswith("CB-"))

    row = rig.rows("SELECT status, phone_enc, window FROM sh_callbacks WHERE ref = ?", cb_ref)
    assert row and row[0][0] == "open" and row[0][2] == "afternoon"
    assert "900456" not in (row[0][1] or "") and row[0][1], "the number is not encrypted"
    stored = json.dumps(rig.events(dad))
    assert "900 456" not in stored and "900456" not in stored, "the number is in Rasa's tracker"

    # Operators list it, with the number to call, and mark it done: the number is wiped.
    ops_before = seen(bot, OPS)
    operator_says(rig, "/callbacks", reply_to=None)
    listed = next_message(bot, OPS, ops_before, lambda c: cb_ref in c.text)
    assert "07700 900456" in listed.text
    done_data = next(d for _, d in listed.buttons if d.endswith(cb_ref))
    bot.press_button(OPERATOR, listed, done_data)
    bot.wait_for("editMessageText", where=lambda c: cb_ref in c.text, timeout=WAIT)
    row = rig.rows("SELECT status, phone_enc FROM sh_callbacks WHERE ref = ?", cb_ref)
    assert row == [("done", None)]


def test_call_back_gives_up_kindly_after_three_bad_numbers(rig: Rig) -> None:
    bot, dad = rig.bot, 3007
    before = seen(bot, dad)
    bot.send_text(dad, "can u ring me")
    next_message(bot, dad, before)
    assert rig.active_loop(dad) == "callback_form"
    for attempt in ("dunno", "0123", "call me whenever"):
        before = seen(bot, dad)
        bot.send_text(dad, attempt)
        last = next_message(bot, dad, before)
    assert SAMARITANS in last.text, last.text
    assert rig.active_loop(dad) is None
    store = pseudonymise(pseudonymise(str(dad)))
    assert not rig.rows("SELECT 1 FROM sh_callbacks WHERE conversation_id = ?", store)


def test_call_back_can_be_cancelled(rig: Rig) -> None:
    bot, dad = rig.bot, 3008
    before = seen(bot, dad)
    bot.send_text(dad, "please call me back")
    next_message(bot, dad, before)
    before = seen(bot, dad)
    bot.send_text(dad, "07700900789")
    next_message(bot, dad, before, with_button("afternoon"))
    before = seen(bot, dad)
    bot.send_text(dad, "actually cancel that")
    cancelled = next_message(bot, dad, before)
    assert SAMARITANS in cancelled.text, cancelled.text
    assert rig.active_loop(dad) is None
    store = pseudonymise(pseudonymise(str(dad)))
    assert not rig.rows("SELECT 1 FROM sh_callbacks WHERE conversation_id = ?", store)


def test_a_booked_call_back_can_be_cancelled_later(rig: Rig) -> None:
    bot, dad = rig.bot, 3014
    before = seen(bot, dad)
    bot.send_text(dad, "can someone ring me back on 07700 900 321")
    window = next_message(bot, dad, before, with_button("afternoon"))
    before = seen(bot, dad)
    press(bot, dad, window, "any time")
    consent = next_message(bot, dad, before, with_button("/affirm"))
    before = seen(bot, dad)
    press(bot, dad, consent, "/affirm")
    confirmed = next_message(bot, dad, before, lambda c: "CB-" in c.text)
    cb_ref = next(w.strip(".,:;()") for w in confirmed.text.split() if w.startswith("CB-"))
    before = seen(bot, dad)
    bot.send_text(dad, "actually baby has settled, cancel the call back")
    cancelled = next_message(bot, dad, before, lambda c: cb_ref in c.text)
    assert "cancelled" in cancelled.text
    row = rig.rows("SELECT status, phone_enc FROM sh_callbacks WHERE ref = ?", cb_ref)
    assert row == [("cancelled", None)]


# --- out of hours ------------------------------------------------------------------------------


def test_out_of_hours_offers_a_call_back_and_the_lines(closed_rig: Rig) -> None:
    bot, dad = closed_rig.bot, 3101
    before = seen(bot, dad)
    bot.send_text(dad, "can i talk to someone")
    next_message(bot, dad, before)
    time.sleep(1.0)  # the offer may come as more than one message
    offer = bot.messages(dad)[before:]
    payloads = {d for call in offer for _, d in call.buttons}
    text = "\n".join(call.text for call in offer)
    assert "/live_chat" not in payloads
    assert "/request_callback" in payloads
    assert SAMARITANS in text and LINES["shout"].number in text
    # Typing "live chat" anyway gets no handoff, and nothing reaches the operators.
    before = seen(bot, dad)
    bot.send_text(dad, "live chat please")
    next_message(bot, dad, before)
    time.sleep(1.0)
    assert not any(with_button("sh:live:share")(c) for c in bot.messages(dad)[before:])
    assert not bot.messages(OPS)
