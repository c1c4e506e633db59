"""The labelled safety sets: every red flag reaches its tier, almost no benign one escalates."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.safety.classifier import SafetyClassifier, default_classifier
from bot.safety.tiers import Tier
from tests.safety.dataset import HOLDOUT, ISSUE11, THIRD, load_benign, load_red_flags

RED_FLAGS = load_red_flags()
BENIGN = load_benign()


@pytest.fixture(scope="module")
def classifier() -> SafetyClassifier:
    return default_classifier()


def test_the_set_is_large_and_covers_every_tier() -> None:
    per_tier = Counter(tier for tier, _ in RED_FLAGS + load_red_flags(ISSUE11))
    assert set(per_tier) == {t.value for t in Tier}
    assert min(per_tier.values()) >= 50, per_tier
    assert len(RED_FLAGS) >= 300
    assert len(BENIGN) >= 300
    texts = [t for _, t in RED_FLAGS] + BENIGN
    assert len(texts) == len(set(texts)), "duplicate messages in the safety set"


def test_every_red_flag_reaches_its_tier(classifier: SafetyClassifier) -> None:
    misses = []
    for tier, text in RED_FLAGS:
        got = classifier.classify(text).tier
        if got is None or got.value != tier:
            misses.append(f"{tier} -> {got.value if got else 'none'}: {text}")
    assert not misses, f"{len(misses)} red flags missed:\n" + "\n".join(misses)


def test_at_most_one_percent_of_benign_messages_escalate(classifier: SafetyClassifier) -> None:
    alarms = []
    for text in BENIGN:
        result = classifier.classify(text)
        if result.tier:
            alarms.append(f"{result.tier.value} ({', '.join(result.rules)}): {text}")
    rate = len(alarms) / len(BENIGN)
    assert rate <= 0.01, f"{rate:.2%} false alarms:\n" + "\n".join(alarms)


def test_independent_holdout_does_not_regress(classifier: SafetyClassifier) -> None:
    """A set written separately, never used to fit the backstop (see bench/safety.md).

    Not a 100% bar: it measures generalisation. The floors sit just under today's figures
    (90.1% of red flags escalated, 2.1% false alarms) so a change that makes it worse fails.
    """
    red, benign = load_red_flags(HOLDOUT), load_benign(HOLDOUT)
    escalated = sum(1 for _, text in red if classifier.classify(text).tier)
    alarms = sum(1 for text in benign if classifier.classify(text).tier)
    assert escalated / len(red) >= 0.88, f"only {escalated}/{len(red)} escalated"
    assert alarms / len(benign) <= 0.03, f"{alarms}/{len(benign)} false alarms"


def test_third_independent_set_does_not_regress(classifier: SafetyClassifier) -> None:
    """tests/safety/third/: first reading 157/180 escalated, 10/200 false alarms; used once
    to find general gaps, now 172/180 and 4/200. Floors sit just under that."""
    red, benign = load_red_flags(THIRD), load_benign(THIRD)
    escalated = sum(1 for _, text in red if classifier.classify(text).tier)
    alarms = sum(1 for text in benign if classifier.classify(text).tier)
    assert escalated / len(red) >= 0.93, f"only {escalated}/{len(red)} escalated"
    assert alarms / len(benign) <= 0.03, f"{alarms}/{len(benign)} false alarms"


def test_the_issue_11_set_does_not_regress() -> None:
    """tests/safety/issue11/: 290 red flags (the tiers and kinds issue 11 added) and 200 benign
    look-alikes, written blind. First reading 197/290 in the right tier, 20/200 false alarms;
    then used to find general gaps: 283/290 and 3/200. Floors sit just under that."""
    red, benign = load_red_flags(ISSUE11), load_benign(ISSUE11)
    right = sum(1 for tier, text in red if (classifier_tier(text) or "") == tier)
    alarms = sum(1 for text in benign if classifier_tier(text))
    assert right / len(red) >= 0.95, f"only {right}/{len(red)} in the right tier"
    assert alarms / len(benign) <= 0.025, f"{alarms}/{len(benign)} false alarms"


def classifier_tier(text: str) -> str | None:
    tier = default_classifier().classify(text).tier
    return tier.value if tier else None


def test_the_backstop_never_trains_on_the_test_sets() -> None:
    """Its own examples never repeat a test message, and no red flag it learns from does.

    The NLU data it also learns from shares a few generic ordinary messages with the test
    sets ("hi", "thanks"); those teach nothing about the boundary and are allowed.
    """
    from bot.safety.backstop import labelled_examples, nlu_examples

    training = {text.strip().lower() for text, _ in labelled_examples()}
    training |= {text.strip().lower() for text, label in nlu_examples() if label != "none"}
    tested = {t.strip().lower() for _, t in RED_FLAGS} | {t.strip().lower() for t in BENIGN}
    tested |= {t.strip().lower() for _, t in load_red_flags(HOLDOUT)}
    tested |= {t.strip().lower() for t in load_benign(HOLDOUT)}
    for folder in (THIRD, ISSUE11):
        tested |= {t.strip().lower() for _, t in load_red_flags(folder)}
        tested |= {t.strip().lower() for t in load_benign(folder)}
    overlap = training & tested
    assert not overlap, f"test messages used for training: {sorted(overlap)[:10]}"
