"""Risk tiers, their order of precedence, and the Rasa names that go with each."""

from __future__ import annotations

from enum import Enum


class Tier(str, Enum):
    """A risk tier. The value is the short name used in data files and the database."""

    EMERGENCY = "emergency"
    SELF_HARM = "self_harm"
    EDGE = "edge"
    ABUSE = "abuse"
    HARM_BY_OTHER = "harm_by_other"
    MATERNITY = "maternity"
    URGENT = "urgent"

    @property
    def intent(self) -> str:
        return f"safety_{self.value}"

    @property
    def response(self) -> str:
        return f"utter_safety_{self.value}"

    @property
    def rank(self) -> int:
        """Lower ranks win when one message matches several tiers."""
        return PRECEDENCE.index(self)

    @classmethod
    def from_intent(cls, intent: str | None) -> Tier | None:
        if not intent or not intent.startswith("safety_"):
            return None
        try:
            return cls(intent[len("safety_") :])
        except ValueError:
            return None


# Emergency first (999 at once, whatever else is said, for anyone in the family), then a dad's
# own life, then the crying-at-the-edge steps, abuse, harm by someone else, a pregnancy or
# after-birth warning sign in the mum (maternity unit now), and finally urgent-but-not-999
# illness in the baby (NHS 111 now).
PRECEDENCE: list[Tier] = [
    Tier.EMERGENCY,
    Tier.SELF_HARM,
    Tier.EDGE,
    Tier.ABUSE,
    Tier.HARM_BY_OTHER,
    Tier.MATERNITY,
    Tier.URGENT,
]

# Who is in danger in an emergency (the 999 reply is worded for them), most pressing first:
# with a baby in the message, "stay with your baby" matters most.
EMERGENCY_WHO = ("baby", "partner", "self", "accident")

SAFETY_INTENTS: frozenset[str] = frozenset(t.intent for t in Tier)
