"""content/telegram.yml and content/services.yml: complete, numbers only from helplines.yml."""

from __future__ import annotations

import re

import pytest

from bot.content.helplines import load_helplines
from bot.safety.tiers import Tier
from bot.telegram.content import (
    SERVICES_PATH,
    TELEGRAM_PATH,
    TEXT_KEYS,
    ContentError,
    fill,
    load_services,
    load_texts,
    referral_code,
)

DIGITS = re.compile(r"\d")
PHONE = re.compile(r"\d[\d ]{1,}\d|\b\d{3}\b")


@pytest.mark.parametrize("code", ["northfield_hub", "a", "A-b_9", "x" * 64])
def test_valid_referral_codes(code: str) -> None:
    assert referral_code(code) == code


@pytest.mark.parametrize(
    "payload", [None, "", "x" * 65, "has space", "semi;colon", "ümlaut", "a/b", "a.b"]
)
def test_malformed_referral_codes(payload: str | None) -> None:
    assert referral_code(payload) is None


def test_no_number_is_typed_in_telegram_yml() -> None:
    raw = TELEGRAM_PATH.read_text(encoding="utf-8")
    without_placeholders = re.sub(r"\{[^}]*\}", "", raw)
    body = "\n".join(
        line for line in without_placeholders.splitlines() if not line.lstrip().startswith("#")
    )
    assert not PHONE.search(body), PHONE.search(body)


def test_every_number_shown_is_a_helpline_number() -> None:
    numbers = {h.number for h in load_helplines().values()}
    texts = load_texts()
    shown = [texts[key] for key in TEXT_KEYS] + [texts.trouble_card(t) for t in Tier]
    for text in shown:
        for found in PHONE.findall(text):
            assert found.strip() in numbers, found


def test_trouble_card_has_the_three_lines_and_leads_with_the_tier() -> None:
    texts = load_texts()
    lines = load_helplines()
    card = texts.trouble_card()
    for key in ("emergency", "nhs111", "samaritans"):
        assert lines[key].number in card
    assert "I'm having trouble, please try again in a minute" in card
    led = texts.trouble_card(Tier.SELF_HARM)
    assert led.startswith(texts.leads[Tier.SELF_HARM])
    assert lines["samaritans"].number in led.split("\n\n")[0]
    assert texts.trouble_card(Tier.EMERGENCY).startswith("Call 999 now")


def test_welcome_names_the_service() -> None:
    texts = load_texts()
    assert "Riverside Family Hub" in texts.welcome("Riverside Family Hub")
    assert "{service}" not in texts.welcome()


def test_unknown_helpline_key_is_refused() -> None:
    with pytest.raises(ContentError, match="nope"):
        fill("call {nope.number}", load_helplines(), "test")


def test_services_have_valid_codes() -> None:
    services = load_services(SERVICES_PATH)
    assert services
    assert all(referral_code(code) == code for code in services)
