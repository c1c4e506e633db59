"""The topics Small Hours answers, from content/topics.yml (the single list of them).

A topic key is an intent (``ask_colic``) or a retrieval intent (``faq/dummies``); ``answers`` names
the responses that answer it. Used by the safety layer (to answer the question in a long message
after its safety reply), by the evaluation scripts and by the content tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

TOPICS_PATH = Path(__file__).resolve().parents[2] / "content" / "topics.yml"
RETRIEVAL_PREFIX = "faq/"
# Groups whose keys are conversation plumbing, not questions with an answer to give.
NOT_QUESTIONS = frozenset({"about_the_bot"})


@dataclass(frozen=True)
class Topic:
    key: str
    group: str
    scope: str
    answers: tuple[str, ...]

    @property
    def is_retrieval(self) -> bool:
        return self.key.startswith(RETRIEVAL_PREFIX)

    @property
    def is_menu(self) -> bool:
        return self.key.startswith("menu_")

    @property
    def action(self) -> str:
        """The action that answers it: ``utter_faq`` for FAQ keys, else its own response."""
        if self.is_retrieval:
            return "utter_" + self.key.split("/", 1)[0]
        return self.answers[0]


@lru_cache(maxsize=4)
def load_topics(path: Path = TOPICS_PATH) -> dict[str, Topic]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    overrides = data.get("answers") or {}
    topics: dict[str, Topic] = {}
    for group, items in (data.get("groups") or {}).items():
        for key, scope in (items or {}).items():
            answers = tuple(overrides.get(key) or [f"utter_{key}"])
            topics[key] = Topic(str(key), str(group), str(scope), answers)
    return topics


def question_topics(path: Path = TOPICS_PATH) -> dict[str, Topic]:
    """Topics that answer a question (not greetings, menus or asking for a person)."""
    return {
        k: t for k, t in load_topics(path).items() if t.group not in NOT_QUESTIONS and not t.is_menu
    }
