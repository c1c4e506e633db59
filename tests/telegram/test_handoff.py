"""Live-chat pieces of the front end that need no server (the flows are in tests/e2e)."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from bot.content.helplines import load_helplines
from bot.telegram.content import load_texts
from bot.telegram.handoff import london_time, wants_handoff
from bot.telegram.operators import CALLBACK_REF, HANDOFF_REF, ref_in

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
