"""Trackers for testing the safety layer across turns, without Rasa's server."""

from __future__ import annotations

import time

from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker


def tracker_after(text: str, tier: str, minutes_ago: float = 1.0) -> DialogueStateTracker:
    """A conversation whose last message was ``text``, answered with ``tier``'s safety reply."""
    stamp = time.time() - 60 * minutes_ago
    user = UserUttered(
        text,
        intent={"name": f"safety_{tier}", "confidence": 1.0},
        parse_data={
            "intent": {"name": f"safety_{tier}", "confidence": 1.0},
            "safety": {"tier": tier, "tiers": [tier], "rules": ["test"], "who": "baby"},
        },
        timestamp=stamp,
    )
    reply = BotUttered("...", metadata={"utter_action": f"utter_safety_{tier}"}, timestamp=stamp)
    events = [ActionExecuted("action_listen", timestamp=stamp), user]
    events += [ActionExecuted(f"utter_safety_{tier}", timestamp=stamp), reply]
    events += [ActionExecuted("action_listen", timestamp=stamp)]
    return DialogueStateTracker.from_events("someone", events)
