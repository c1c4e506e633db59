"""The operators' chat queue: order, merging, threads and failures, without Telegram.

The fake ``send`` can be held closed, so each test decides exactly what is waiting when the
next message is chosen: nothing here depends on timing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from bot.telegram import outbox as outbox_module
from bot.telegram.outbox import OperatorOutbox, Priority
from bot.telegram.rendering import utf16_len


@dataclass
class FakeGroup:
    """Records what was posted; ``gate`` closed holds the next send until it is opened."""

    sent: list[tuple[str, int | None, Any]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    fail_with: Exception | None = None
    ids: int = 100

    async def send(self, text: str, reply_to: int | None, markup: Any) -> SimpleNamespace:
        await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((text, reply_to, markup))
        self.ids += 1
        return SimpleNamespace(message_id=self.ids)

    def texts(self) -> list[str]:
        return [text for text, _, _ in self.sent]


def open_group() -> FakeGroup:
    group = FakeGroup()
    group.gate.set()
    return group


async def drain(outbox: OperatorOutbox) -> None:
    while await outbox.deliver_one():
        pass


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_dads_waiting_messages_go_out_as_one_post_in_his_thread() -> None:
    async def scenario() -> FakeGroup:
        group = open_group()
        outbox = OperatorOutbox(group.send)
        outbox.post("card A", priority=Priority.CARD, ref="SH-AAAAAA", card=True)
        await drain(outbox)
        for line in ("A: hes still going", "A: been 3 hours", "A: i cant do this"):
            outbox.relay("SH-AAAAAA", [line])
        await drain(outbox)
        return group

    group = run(scenario())
    assert group.texts() == ["card A", "A: hes still going\nA: been 3 hours\nA: i cant do this"]
    assert group.sent[1][1] == 101, "not threaded under the card"


def test_a_safety_alert_jumps_the_queue_and_brings_his_earlier_messages_along() -> None:
    async def scenario() -> FakeGroup:
        group = FakeGroup()  # closed: the first post is in flight while the others queue
        outbox = OperatorOutbox(group.send)
        outbox.post("answer to /queue")
        in_flight = asyncio.create_task(outbox.deliver_one())
        await asyncio.sleep(0)
        outbox.relay("SH-AAAAAA", ["A: first"])
        outbox.post("a note for B", ref="SH-BBBBBB")
        outbox.relay("SH-CCCCCC", ["C: hello"])
        outbox.relay("SH-AAAAAA", ["A: hes not breathing"], header="SAFETY ALERT SH-AAAAAA")
        group.gate.set()
        await in_flight
        await drain(outbox)
        return group

    group = run(scenario())
    assert group.texts() == [
        "answer to /queue",
        "SAFETY ALERT SH-AAAAAA\n\nA: first\nA: hes not breathing",
        "a note for B",
        "C: hello",
    ]


def test_new_chat_cards_go_before_other_waiting_posts_but_after_alerts() -> None:
    async def scenario() -> FakeGroup:
        group = open_group()
        outbox = OperatorOutbox(group.send)
        outbox.relay("SH-AAAAAA", ["A: hi"])
        outbox.post("card B", priority=Priority.CARD, ref="SH-BBBBBB", card=True)
        outbox.relay("SH-CCCCCC", ["C: help"], header="ALERT C")
        await drain(outbox)
        return group

    assert run(scenario()).texts() == ["ALERT C\n\nC: help", "card B", "A: hi"]


def test_a_note_that_he_ended_the_chat_keeps_its_place_after_his_messages() -> None:
    async def scenario() -> FakeGroup:
        group = open_group()
        outbox = OperatorOutbox(group.send)
        outbox.post("card A", priority=Priority.CARD, ref="SH-AAAAAA", card=True)
        await drain(outbox)
        outbox.relay("SH-AAAAAA", ["A: thanks"])
        outbox.relay("SH-AAAAAA", ["A: bye"])
        outbox.post("SH-AAAAAA: he ended the chat", ref="SH-AAAAAA", ends_thread=True)
        await drain(outbox)
        # After the thread closed, nothing more is threaded under the old card.
        outbox.relay("SH-AAAAAA", ["A: late line"])
        await drain(outbox)
        return group

    group = run(scenario())
    assert group.texts() == [
        "card A",
        "A: thanks\nA: bye",
        "SH-AAAAAA: he ended the chat",
        "A: late line",
    ]
    assert [reply for _, reply, _ in group.sent[1:3]] == [101, 101]
    assert group.sent[3][1] is None, "a closed thread was still used"


def test_merged_posts_stay_within_telegrams_limit() -> None:
    async def scenario() -> FakeGroup:
        group = open_group()
        outbox = OperatorOutbox(group.send, limit=100)
        for index in range(6):
            outbox.relay("SH-AAAAAA", [f"A{index}: " + "x" * 40])
        await drain(outbox)
        return group

    group = run(scenario())
    assert all(utf16_len(text) <= 100 for text in group.texts())
    assert "\n".join(group.texts()).count("A") == 6, "a message was lost or doubled"
    assert len(group.texts()) == 3


def test_emoji_count_twice_towards_the_limit() -> None:
    async def scenario() -> FakeGroup:
        group = open_group()
        outbox = OperatorOutbox(group.send, limit=30)
        outbox.relay("SH-AAAAAA", ["😢" * 10])  # 20 units
        outbox.relay("SH-AAAAAA", ["😢" * 10])
        await drain(outbox)
        return group

    assert len(run(scenario()).texts()) == 2


def test_a_failed_post_tells_the_dad_once_and_the_queue_goes_on() -> None:
    told: list[str] = []

    async def scenario() -> FakeGroup:
        group = open_group()
        group.fail_with = RuntimeError("Forbidden: bot was kicked")
        outbox = OperatorOutbox(group.send)

        def teller(label: str) -> Any:  # one per message, as the front end makes them
            async def tell_dad(exc: BaseException) -> None:
                told.append(f"{label}: {type(exc).__name__}")

            return tell_dad

        outbox.relay("SH-AAAAAA", ["A: one"], on_failed=teller("one"))
        outbox.relay("SH-AAAAAA", ["A: two"], on_failed=teller("two"))
        await drain(outbox)
        group.fail_with = None
        outbox.relay("SH-BBBBBB", ["B: hello"])
        await drain(outbox)
        return group

    group = run(scenario())
    assert told == ["one: RuntimeError"]
    assert group.texts() == ["B: hello"]


def test_a_failing_callback_does_not_stop_the_queue() -> None:
    async def scenario() -> FakeGroup:
        group = open_group()
        outbox = OperatorOutbox(group.send)

        async def broken(_message: Any) -> None:
            raise ValueError("database down")

        outbox.post("card A", priority=Priority.CARD, ref="SH-AAAAAA", card=True, on_sent=broken)
        outbox.post("next")
        await drain(outbox)
        return group

    assert run(scenario()).texts() == ["card A", "next"]


def test_discard_drops_a_chats_waiting_posts_only() -> None:
    async def scenario() -> tuple[FakeGroup, int]:
        group = open_group()
        outbox = OperatorOutbox(group.send)
        outbox.relay("SH-AAAAAA", ["A: one", "A: two"])
        outbox.relay("SH-BBBBBB", ["B: one"])
        dropped = outbox.discard("SH-AAAAAA")
        await drain(outbox)
        return group, dropped

    group, dropped = run(scenario())
    assert dropped == 2 and group.texts() == ["B: one"]


def test_buttons_go_with_their_post() -> None:
    async def scenario() -> FakeGroup:
        group = open_group()
        outbox = OperatorOutbox(group.send)
        outbox.post("open call backs", reply_to=7, markup="BUTTONS")
        await drain(outbox)
        return group

    assert run(scenario()).sent == [("open call backs", 7, "BUTTONS")]


def test_the_running_queue_posts_what_arrives_and_flushes_at_stop() -> None:
    async def scenario() -> tuple[FakeGroup, OperatorOutbox]:
        group = open_group()
        outbox = OperatorOutbox(group.send)
        outbox.start()
        outbox.post("first")
        for _ in range(50):
            if group.sent:
                break
            await asyncio.sleep(0.01)
        group.gate.clear()
        outbox.post("second")
        await asyncio.sleep(0)
        group.gate.set()
        await outbox.stop(flush_seconds=5)
        return group, outbox

    group, outbox = run(scenario())
    assert group.texts() == ["first", "second"]
    assert outbox.waiting == 0


def test_stop_drops_what_cannot_go_out_in_time_and_says_how_many(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other suites configure logging (Rasa's and Sanic's dictConfig disable existing loggers and
    # raise levels); this test reads the outbox's own warning, whatever ran before it.
    monkeypatch.setattr(outbox_module.logger, "disabled", False)
    caplog.set_level(logging.WARNING, logger=outbox_module.logger.name)

    async def scenario() -> OperatorOutbox:
        group = FakeGroup()  # never opens
        outbox = OperatorOutbox(group.send)
        outbox.start()
        outbox.relay("SH-AAAAAA", ["A: private words"])
        outbox.post("note")
        await asyncio.sleep(0)
        await outbox.stop(flush_seconds=0.05)
        return outbox

    outbox = run(scenario())
    assert outbox.waiting == 2
    assert "2 posts for the operators' chat were dropped" in caplog.text
    assert "private words" not in caplog.text
