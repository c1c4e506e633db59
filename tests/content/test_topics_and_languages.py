"""content/topics.yml, the FAQ replies and the cards for other languages agree with each other."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.content.topics import load_topics, question_topics
from bot.nlu.language import supported
from tests.content.test_content import DOMAIN, ROOT

RESPONSES = set(DOMAIN["responses"])
INTENTS = {i if isinstance(i, str) else next(iter(i)) for i in DOMAIN["intents"]}
FAQ_REPLIES = {name[len("utter_") :] for name in RESPONSES if name.startswith("utter_faq/")}


def _matches(pattern: str) -> bool:
    if pattern.endswith("*"):
        return any(name.startswith(pattern[:-1]) for name in RESPONSES)
    return pattern in RESPONSES


def test_every_topic_is_an_intent_or_faq_key_with_a_real_answer() -> None:
    for key, topic in load_topics().items():
        if topic.is_retrieval:
            assert key in FAQ_REPLIES, f"{key}: no utter_{key} in domain/faq_*.yml"
        else:
            assert key in INTENTS, f"{key}: not an intent in domain/"
        for pattern in topic.answers:
            assert _matches(pattern), f"{key}: no response matches {pattern}"


def test_every_faq_reply_is_a_listed_topic() -> None:
    listed = {k for k in load_topics() if k.startswith("faq/")}
    assert listed == FAQ_REPLIES, sorted(FAQ_REPLIES ^ listed)


def test_at_least_forty_faq_topics_beyond_the_first_ones() -> None:
    assert len(FAQ_REPLIES) >= 40


def test_question_topics_leave_out_plumbing() -> None:
    keys = set(question_topics())
    assert "faq/dummies" in keys and "ask_colic" in keys
    assert not keys & {"greet", "request_human", "menu_crying"}


def _cards(name: str) -> dict[str, str]:
    data = yaml.safe_load((ROOT / "domain" / "languages.yml").read_text(encoding="utf-8"))
    cards = {}
    for variant in data["responses"][name]:
        conditions = variant.get("condition") or []
        code = conditions[0]["value"] if conditions else "default"
        cards[code] = variant["text"]
    return cards


def test_every_recognised_language_has_both_cards_and_a_slot_value() -> None:
    data = yaml.safe_load((ROOT / "domain" / "languages.yml").read_text(encoding="utf-8"))
    assert set(data["slots"]["language"]["values"]) == set(supported())
    for name in ("utter_other_language", "utter_other_language_emergency"):
        cards = _cards(name)
        assert set(cards) == set(supported()) | {"default"}, name


def test_the_emergency_card_leads_with_999_and_every_card_names_it_and_nhs_111() -> None:
    assert {"pl", "ro", "ur", "pa", "bn", "ar", "gu", "pt", "es", "lt"} <= set(supported())
    for code, text in _cards("utter_other_language_emergency").items():
        first_line = text.strip().splitlines()[0]
        assert "999" in first_line, f"{code}: 999 must come first"
    for code, text in _cards("utter_other_language").items():
        assert "999" in text and "NHS 111" in text, code


def test_language_phrases_file_is_reviewed_content() -> None:
    data = yaml.safe_load(Path(ROOT / "bot" / "safety" / "languages.yml").read_text("utf-8"))
    assert data["reviewed_by"] and data["checked"]
    for code, entry in data["languages"].items():
        assert entry["name"] and entry["emergency_phrases"], code
        assert not {"999", "112"} & set(entry["emergency_phrases"]), (
            f"{code}: numbers count in any other-language message already (classifier)"
        )
