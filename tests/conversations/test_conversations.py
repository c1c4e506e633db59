"""Conversation tests (tests/conversations/*.yml): the replies the trained bot gives, turn by turn.

Each file lists conversations; each turn names the responses the bot must utter for that
message, in order and nothing else (``bot:``), or responses it must not utter (``not:``). They
run against the trained model in this process with the real action server beside it
(scripts/conversation_eval.py), so text goes through the whole pipeline: NLU with the
conversation so far, the safety layer, the policies and the actions. `rasa test` stories
(tests/test_stories.yml) check the dialogue on intents; these check what a dad would see.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scripts._common import MODEL_PATH, rel

HERE = Path(__file__).parent


def _cases() -> list[tuple[str, dict]]:
    cases = []
    for path in sorted(HERE.glob("*.yml")):
        for conv in yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]:
            cases.append((f"{path.stem}: {conv['name']}", conv))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def bot() -> Iterator[tuple[object, asyncio.AbstractEventLoop]]:
    from scripts.conversation_eval import Bot, action_server, quiet_logging

    if not MODEL_PATH.is_file():
        pytest.fail(f"No trained model at {rel(MODEL_PATH)}: run `make train` first", pytrace=False)
    quiet_logging()
    loop = asyncio.new_event_loop()
    with action_server() as url:
        yield Bot.load(MODEL_PATH, url), loop
    loop.close()


def test_every_faq_topic_has_a_conversation_test() -> None:
    from bot.content.topics import load_topics

    named = {r for _, conv in CASES for turn in conv["turns"] for r in turn.get("bot") or []}
    faq = {f"utter_{k}" for k in load_topics() if k.startswith("faq/")}
    assert faq <= named, sorted(faq - named)


@pytest.mark.parametrize("conversation", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_conversation(bot, conversation: dict) -> None:
    runner, loop = bot
    sender = f"test-{uuid.uuid4().hex[:12]}"
    for i, turn in enumerate(conversation["turns"], start=1):
        replies = loop.run_until_complete(runner.say(sender, turn["user"]))
        if "bot" in turn:
            assert replies == turn["bot"], f"turn {i} ({turn['user']!r}): got {replies}"
        wrong = set(replies) & set(turn.get("not") or [])
        assert replies and not wrong, f"turn {i} ({turn['user']!r}): got {replies}"
