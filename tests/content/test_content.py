"""Reviewed content stays consistent: one source for numbers, sources named, phone-sized replies."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from bot.content.helplines import load_helplines

ROOT = Path(__file__).resolve().parents[2]
HELPLINES = load_helplines()
SOURCES = set(yaml.safe_load((ROOT / "content" / "sources.yml").read_text())["sources"])
UK_NUMBER = re.compile(r"(?<![\d£.])0\d{3}[ \d]{5,9}\d(?![\d])")
SHORT_CODES = {"999": "999", "111": "NHS 111", "116 123": "Samaritans", "85258": "SHOUT"}
MAX_WORDS = 130
# Ofcom keeps these ranges for TV, radio and examples: they never reach a real person, so they
# may show a dad how to type his number ("like 07700 900123") and appear in code as examples.
FICTIONAL_PREFIXES = (
    "07700900",  # mobiles 07700 900000 to 900999
    "02079460",  # London 020 7946 0000 to 0999
    "01134960",  # Leeds 0113 496 0000 to 0999
    "01614960",  # Manchester 0161 496 0000 to 0999
    "01632960",  # no area, 01632 960000 to 960999
    "03069990",  # non-geographic 03069 990000 to 990999
)


def _domain() -> dict:
    merged: dict = {"intents": [], "responses": {}, "slots": {}}
    for path in sorted((ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        merged["intents"] += data.get("intents") or []
        merged["responses"].update(data.get("responses") or {})
        merged["slots"].update(data.get("slots") or {})
    return merged


DOMAIN = _domain()
VARIATIONS = [(name, v) for name, variations in DOMAIN["responses"].items() for v in variations]
TEXTS = [(name, v.get("text", "")) for name, v in VARIATIONS]


def digits(s: str) -> str:
    return re.sub(r"\D", "", s)


KNOWN_NUMBERS = {digits(h.number): h for h in HELPLINES.values()}


def is_fictional(number: str) -> bool:
    return digits(number).startswith(FICTIONAL_PREFIXES)


@pytest.mark.parametrize(("name", "text"), TEXTS, ids=[n for n, _ in TEXTS])
def test_every_phone_number_comes_from_helplines_yml(name: str, text: str) -> None:
    for number in UK_NUMBER.findall(text):
        if is_fictional(number):
            continue
        helpline = KNOWN_NUMBERS.get(digits(number))
        assert helpline, f"{name}: {number!r} is not in content/helplines.yml"
        assert number.strip() == helpline.number, f"{name}: write it as {helpline.number!r}"
        assert helpline.name.split()[0].lower() in text.lower(), (
            f"{name}: {helpline.number} must be named ({helpline.name})"
        )


@pytest.mark.parametrize(("name", "text"), TEXTS, ids=[n for n, _ in TEXTS])
def test_short_codes_are_named(name: str, text: str) -> None:
    if re.search(r"(?<!\d)111(?!\d)", text):
        assert "NHS 111" in text, f"{name}: say 'NHS 111'"
    if "116 123" in text:
        assert "Samaritans" in text
    if "85258" in text:
        assert "SHOUT" in text.upper()


def test_no_phone_numbers_are_typed_into_code() -> None:
    offenders = []
    for folder in ("bot", "actions", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            for number in UK_NUMBER.findall(source):
                if not is_fictional(number):
                    offenders.append(f"{path.relative_to(ROOT)}: {number}")
    assert not offenders, "numbers belong in content/helplines.yml:\n" + "\n".join(offenders)


GUIDANCE = [
    (name, text)
    for name, text in TEXTS
    # how to reach a person, the call-back form's questions, safety replies and their follow-ups,
    # the cards for other languages and what the bot keeps: plumbing, not guidance
    if not name.startswith(
        (
            "utter_menu_",
            "utter_safety_",
            "utter_ask_baby",
            "utter_human_support_",
            "utter_callback_",
            "utter_ask_callback_",
            "utter_other_language",
        )
    )
    and not name.endswith("_followup")
    and name
    not in {
        "utter_emergency_while_waiting",
        "utter_faq/privacy",
        "utter_greet",
        "utter_goodbye",
        "utter_thank",
        "utter_iamabot",
        "utter_capabilities",
        "utter_out_of_scope",
        "utter_default",
        "utter_anything_else",
        "utter_no_problem",
        "utter_baby_age_not_understood",
        "utter_baby_age_give_up",
        "utter_emergency_followup",
    }
]


@pytest.mark.parametrize(("name", "text"), GUIDANCE, ids=[n for n, _ in GUIDANCE])
def test_guidance_names_its_source(name: str, text: str) -> None:
    match = re.search(r"Source: (.+)$", text.strip())
    assert match, f"{name} must end with 'Source: ...'"
    names = {s.strip() for s in match.group(1).split(",")}
    assert names <= SOURCES, f"{name}: unknown sources {names - SOURCES}"


@pytest.mark.parametrize(("name", "text"), TEXTS, ids=[n for n, _ in TEXTS])
def test_replies_fit_a_phone_screen(name: str, text: str) -> None:
    words = len(text.split())
    assert 0 < words <= MAX_WORDS, f"{name}: {words} words"


def _typed_answer_responses() -> set[str]:
    """Questions of a form whose answer is read as text (a from_text slot mapping).

    Their buttons may send plain words ("morning") that the form's validation reads, as if
    the dad had typed them; every other button must name an intent.
    """
    responses = set()
    for slot, spec in DOMAIN["slots"].items():
        if any(m.get("type") == "from_text" for m in (spec or {}).get("mappings") or []):
            responses.add(f"utter_ask_{slot}")
    return responses


def test_buttons_point_at_real_intents_and_fit_telegram() -> None:
    intents = {i if isinstance(i, str) else next(iter(i)) for i in DOMAIN["intents"]}
    # an FAQ topic's button sends its key ("/faq/dummies"), read by the intent classifier
    intents |= {
        name[len("utter_") :] for name in DOMAIN["responses"] if name.startswith("utter_faq/")
    }
    typed_answers = _typed_answer_responses()
    for name, variation in VARIATIONS:
        for button in variation.get("buttons") or []:
            payload = button["payload"]
            if name in typed_answers and not payload.startswith("/"):
                assert payload.strip() and len(payload) <= 30, f"{name}: {payload}"
            else:
                assert payload.startswith("/") and payload[1:] in intents, f"{name}: {payload}"
            assert len(payload.encode()) <= 64
            assert 0 < len(button["title"]) <= 40, f"{name}: button title too long"


def _nlu(folder: Path) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            lines = [ln.strip()[2:] for ln in block["examples"].splitlines() if ln.strip()]
            examples.setdefault(block["intent"], []).extend(lines)
    return examples


def _intent_names() -> list[str]:
    return [i if isinstance(i, str) else next(iter(i)) for i in DOMAIN["intents"]]


def test_every_intent_has_at_least_25_varied_training_examples() -> None:
    training = _nlu(ROOT / "data" / "nlu")
    for intent in _intent_names():
        if intent == "faq":
            continue  # a retrieval intent: each of its keys is checked below
        assert len(set(training.get(intent, []))) >= 25, f"{intent} has too few examples"


def test_every_faq_topic_has_a_reply_and_at_least_25_varied_examples() -> None:
    training = _nlu(ROOT / "data" / "nlu")
    keys = {name[len("utter_") :] for name in DOMAIN["responses"] if name.startswith("utter_faq/")}
    trained = {intent for intent in training if intent.startswith("faq/")}
    assert keys == trained, f"replies without examples {keys - trained}, or back {trained - keys}"
    for key in keys:
        assert len(set(training[key])) >= 25, f"{key} has too few examples"


def test_held_out_examples_are_never_trained_on() -> None:
    training = {t.lower() for texts in _nlu(ROOT / "data" / "nlu").values() for t in texts}
    held_out = {t.lower() for texts in _nlu(ROOT / "tests" / "nlu_holdout").values() for t in texts}
    assert not training & held_out, sorted(training & held_out)[:10]


def test_every_intent_is_answered_by_a_rule_or_story() -> None:
    steps = ""
    for path in list((ROOT / "data" / "rules").glob("*.yml")) + list(
        (ROOT / "data" / "stories").glob("*.yml")
    ):
        steps += path.read_text(encoding="utf-8")
    for intent in _intent_names():
        assert f"intent: {intent}\n" in steps, f"no rule or story handles {intent}"


@pytest.mark.parametrize(
    ("key", "utc", "expected"),
    [
        ("crysis", datetime(2026, 1, 15, 8, 59, tzinfo=timezone.utc), False),
        ("crysis", datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc), True),
        ("crysis", datetime(2026, 1, 15, 21, 59, tzinfo=timezone.utc), True),
        ("crysis", datetime(2026, 1, 15, 22, 0, tzinfo=timezone.utc), False),
        ("crysis", datetime(2026, 7, 1, 8, 30, tzinfo=timezone.utc), True),  # 09:30 BST
        ("calm", datetime(2026, 1, 15, 23, 59, tzinfo=timezone.utc), True),
        ("calm", datetime(2026, 1, 16, 0, 30, tzinfo=timezone.utc), False),
        ("calm", datetime(2026, 1, 15, 16, 59, tzinfo=timezone.utc), False),
        ("samaritans", datetime(2026, 1, 15, 3, 0, tzinfo=timezone.utc), True),
    ],
)
def test_opening_hours_are_judged_in_london(key: str, utc: datetime, expected: bool) -> None:
    assert HELPLINES[key].is_open(utc) is expected


def test_every_helpline_has_a_source_and_hours() -> None:
    for line in HELPLINES.values():
        assert line.url.startswith("https://"), line.key
        assert line.hours, line.key
