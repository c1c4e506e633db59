"""Live-chat pieces of the front end that need no server (the flows are in tests/e2e)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from bot.content.helplines import load_helplines
from bot.safety.tiers import Tier
from bot.telegram import handoff
from bot.telegram.content import load_texts
from bot.telegram.handlers import FrontEnd
from bot.telegram.handoff import london_time, wants_handoff
from bot.telegram.operators import CALLBACK_REF, HANDOFF_REF, ref_in
from bot.telegram.outbox import OperatorOutbox, Priority
from bot.telegram.rasa_client import RasaClient

TEXTS = load_texts()
LINES = load_helplines()


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([{"custom": {"handoff": "start"}}], True),
        ([{"text": "hi"}, {"custom": {"handoff": "start"}}], True),
        ([{"custom": {"handoff": "stop"}}], False),
        ([{"custom": "handoff"}], False),
        ([{"text": '{"handoff": "start"}'}], False),
        ([], False),
    ],
)
def test_only_rasas_custom_message_starts_a_handoff(replies: list, expected: bool) -> None:
    assert wants_handoff(replies) is expected


def test_operators_see_london_time_across_the_clock_change() -> None:
    assert london_time("2026-01-15T14:05:00+00:00") == "Thu 15 Jan 14:05"
    assert london_time(datetime(2026, 7, 15, 14, 5, tzinfo=timezone.utc)) == "Wed 15 Jul 15:05"
    assert london_time(None) == "-"


def test_a_dads_braces_are_relayed_as_typed() -> None:
    text = TEXTS.render("op_dad_message", ref="SH-ABC234", text="{name} {ref} {0} }{")
    assert text == "SH-ABC234 dad: {name} {ref} {0} }{"


@pytest.mark.parametrize("crysis_open", [True, False])
def test_lines_always_name_the_24_7_lines_and_cry_sis_only_when_open(crysis_open: bool) -> None:
    lines = TEXTS.lines(crysis_open)
    for key in ("samaritans", "shout", "emergency"):
        assert LINES[key].number in lines
    assert LINES["nhs111"].name in lines
    assert (LINES["crysis"].number in lines) is crysis_open


def _message(text: str | None) -> SimpleNamespace:
    return SimpleNamespace(text=text)


def test_references_are_read_from_our_own_messages() -> None:
    assert ref_in(_message("Live chat request SH-ABC234\n- Service: x")) == "SH-ABC234"
    assert ref_in(_message("SH-ABC234 dad: hello")) == "SH-ABC234"
    assert ref_in(_message("no reference here")) is None
    assert ref_in(_message(None)) is None
    assert ref_in(None) is None
    assert ref_in(_message("Call back CB-XYZ789: 07700 900123"), CALLBACK_REF) == "CB-XYZ789"
    assert HANDOFF_REF.search("xSH-ABC234") is None


# --- a dad's message during a live chat, without Telegram ---------------------------------


class _Bot:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: object) -> None:
        self.sent.append((chat_id, text))


def _live_context() -> tuple[SimpleNamespace, _Bot, OperatorOutbox]:
    async def never(*args: object) -> None:
        raise AssertionError("nothing is posted in this test")

    outbox = OperatorOutbox(never)
    fe = FrontEnd(rasa=RasaClient("http://127.0.0.1:9"), texts=TEXTS, services={}, outbox=outbox)
    bot = _Bot()
    context = SimpleNamespace(application=SimpleNamespace(bot_data={"front_end": fe}), bot=bot)
    return context, bot, outbox


SESSION = {"ref": "SH-ABC234", "conversation_id": "c-hash", "card_message_id": 11}


def test_an_emergency_in_a_live_chat_gets_999_and_jumps_the_operators_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context, bot, outbox = _live_context()
    monkeypatch.setattr(handoff, "record_tier", _no_record)
    asyncio.run(handoff.relay_from_dad(context, SESSION, 42, "hes not breathing"))
    assert bot.sent == [(42, TEXTS.leads[Tier.EMERGENCY])]
    batch = outbox.next_batch()
    assert batch is not None and batch.posts[0].priority == Priority.ALERT
    assert "SAFETY ALERT SH-ABC234" in batch.text and "not breathing" in batch.text
    assert batch.reply_to == 11


def test_a_broken_safety_layer_still_gives_him_the_999_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.safety.classifier as classifier

    def broken(text: str) -> None:
        raise RuntimeError("patterns failed to load")

    monkeypatch.setattr(classifier, "classify", broken)
    context, bot, outbox = _live_context()
    asyncio.run(handoff.relay_from_dad(context, SESSION, 42, "hes gone a funny colour"))
    assert bot.sent == [(42, TEXTS["handoff_safety_unchecked"])]
    assert LINES["emergency"].number in TEXTS["handoff_safety_unchecked"]
    batch = outbox.next_batch()
    assert batch is not None and "funny colour" in batch.text, "his message was not passed on"


async def _no_record(*args: object) -> None:
    return None
