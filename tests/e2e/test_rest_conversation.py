"""Ordinary conversations over the REST channel, one at a time and 20 at once."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    MAX_MESSAGE_CHARS,
    RESPONSES,
    SOURCE_NAMES,
    Bot,
    assert_kind_reply,
    http_request,
    is_response,
    joined_text,
    new_sender,
)

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
CONCURRENT_CONVERSATIONS = 20
SOURCE_LINE = re.compile(r"^Source: (.+)$", re.MULTILINE)


def _source_names(text: str) -> list[str]:
    return [n.strip() for line in SOURCE_LINE.findall(text) for n in line.split(",")]


def test_greeting_gets_the_welcome_with_topic_buttons(actions_up: Bot) -> None:
    replies = actions_up.send(new_sender("greet"), "hi")
    assert is_response(replies, "utter_greet"), joined_text(replies)
    buttons = [b for r in replies for b in r.get("buttons") or []]
    payloads = [b["payload"] for b in buttons]
    assert len(buttons) >= 2, replies
    assert all(p.startswith("/menu_") for p in payloads), payloads
    assert all(len(p.encode("utf-8")) <= 64 for p in payloads), "Telegram allows 64 bytes"
    assert all(b.get("title") for b in buttons)
    assert "/menu_crying" in payloads


def test_a_topic_button_opens_its_menu(actions_up: Bot) -> None:
    replies = actions_up.send(new_sender("menu"), "/menu_crying")
    assert is_response(replies, "utter_menu_crying"), joined_text(replies)
    assert [b for r in replies for b in r.get("buttons") or []], "a menu offers buttons"


@pytest.mark.parametrize(
    "question",
    [
        "is it normal for my baby to cry for hours every evening",
        "how do i calm a crying baby",
    ],
)
def test_crying_question_gets_an_answer_that_names_its_source(
    actions_up: Bot, question: str
) -> None:
    replies = actions_up.send(new_sender("crying"), question)
    assert_kind_reply(replies, question)
    text = joined_text(replies)
    names = _source_names(text)
    assert names, f"no 'Source:' line in the answer to {question!r}: {text[:300]!r}"
    unknown = [n for n in names if n not in SOURCE_NAMES]
    assert not unknown, f"sources not in content/sources.yml: {unknown}"
    crying = yaml.safe_load((ROOT / "domain" / "crying.yml").read_text(encoding="utf-8"))
    answers = [v["text"].strip() for vs in crying["responses"].values() for v in vs]
    assert text in answers, f"not one of the crying answers (domain/crying.yml): {text[:80]!r}"


def _rule_answers() -> dict[str, str]:
    """intent -> response for every rule that answers a question with one fixed response."""
    answers: dict[str, str] = {}
    for path in sorted((ROOT / "data" / "rules").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule in data.get("rules") or []:
            steps = rule.get("steps") or []
            if rule.get("condition") or len(steps) != 2:
                continue
            intent, action = steps[0].get("intent"), steps[1].get("action")
            if (
                intent
                and intent.startswith("ask_")
                and action in RESPONSES
                and len(RESPONSES[action]) == 1
                and "{" not in RESPONSES[action][0]
            ):
                answers[intent] = action
    return answers


def _training_examples() -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if "intent" in item and isinstance(item.get("examples"), str):
                lines = [ln.strip()[2:].strip() for ln in item["examples"].splitlines()]
                examples.setdefault(item["intent"], []).extend(x for x in lines if x)
    return examples


@pytest.fixture(scope="module")
def twenty_questions(bot: Bot) -> list[tuple[str, str]]:
    """20 (question, expected response) pairs, each a different answer.

    Each question is a training example the served model maps to its intent, so this test is
    about concurrency, not NLU accuracy (nlu-eval covers that).
    """
    answers = _rule_answers()
    examples = _training_examples()
    chosen: list[tuple[str, str]] = []
    for intent in sorted(answers):
        for text in examples.get(intent, [])[:5]:
            parsed = bot.parse(text)
            if (parsed.get("intent") or {}).get("name") == intent:
                chosen.append((text, answers[intent]))
                break
        if len(chosen) == CONCURRENT_CONVERSATIONS:
            break
    assert len(chosen) == CONCURRENT_CONVERSATIONS, (
        f"only {len(chosen)} distinct questions found in data/ (need {CONCURRENT_CONVERSATIONS})"
    )
    assert len({a for _, a in chosen}) == CONCURRENT_CONVERSATIONS
    return chosen


def test_twenty_conversations_at_once_each_get_their_own_reply(
    actions_up: Bot, twenty_questions: list[tuple[str, str]]
) -> None:
    bot = actions_up
    senders = [new_sender(f"crowd{i:02d}") for i in range(CONCURRENT_CONVERSATIONS)]
    start = threading.Barrier(CONCURRENT_CONVERSATIONS)
    results: dict[int, Any] = {}

    def talk(i: int) -> None:
        question = twenty_questions[i][0]
        try:
            start.wait(timeout=30)
            results[i] = bot.send(senders[i], question)
        except BaseException as exc:  # reported below, with the conversation's number
            results[i] = exc

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(len(senders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "some conversations never got an answer"

    problems = []
    for i, (question, expected) in enumerate(twenty_questions):
        got = results.get(i)
        if isinstance(got, BaseException):
            problems.append(f"#{i} {question!r}: {type(got).__name__}: {got}")
        elif not is_response(got, expected):
            problems.append(
                f"#{i} {question!r}: expected {expected}, got {joined_text(got)[:80]!r}"
            )
        elif any(r.get("recipient_id") != senders[i] for r in got):
            problems.append(f"#{i}: reply addressed to someone else: {got[0].get('recipient_id')}")
    assert not problems, "\n".join(problems)

    # Each stored conversation holds its own question and nobody else's.
    for i, sender in enumerate(senders):
        texts = [e.get("text") for e in bot.tracker(sender)["events"] if e.get("event") == "user"]
        assert texts == [twenty_questions[i][0]], f"conversation {i} holds {texts}"


def test_every_reply_fits_a_phone(actions_up: Bot) -> None:
    """Every answer reachable by a button or question, plus all replies seen so far."""
    sender = new_sender("phone")
    intents = sorted(set(_rule_answers()) | {"greet", "ask_capabilities", "request_human"})
    intents += sorted(n.removeprefix("utter_") for n in RESPONSES if n.startswith("utter_menu_"))
    for intent in intents:
        replies = actions_up.send(sender, f"/{intent}")
        assert_kind_reply(replies, f"/{intent}")
    too_long = [
        f"{len(r['text'])} chars: {r['text'][:60]!r}"
        for r in actions_up.replies_seen
        if len(r.get("text") or "") >= MAX_MESSAGE_CHARS
    ]
    assert not too_long, f"messages of {MAX_MESSAGE_CHARS}+ characters:\n" + "\n".join(too_long)


def test_a_paused_conversation_gets_no_model_reply_until_resumed(actions_up: Bot) -> None:
    """The live-chat pause (bot/channels/rest.py): the model stays silent, then answers again."""
    sender = new_sender("pause")

    def post(path: str, body: object) -> tuple[int, Any]:
        raw = http_request(
            actions_up.rasa_port, "POST", f"/webhooks/rest/{path}", json.dumps(body).encode()
        )
        return raw.status, raw.json()

    assert post("pause", {"sender": sender}) == (200, {"paused": True})
    replies = actions_up.send(sender, "hi")
    assert not is_response(replies, "utter_greet"), "the model answered a paused conversation"
    assert_kind_reply(replies, "a paused conversation")  # never silence: the trouble card
    assert post("resume", {"sender": sender}) == (200, {"paused": False})
    assert is_response(actions_up.send(sender, "hi"), "utter_greet")
    status, body = post("pause", {"nobody": "here"})
    assert status == 400 and "sender" in body["error"]
