"""Statistical back-up for the safety rules: a linear classifier over word and character n-grams.

Hand-written rules are exact but miss phrasings nobody thought of. When the rules find no tier,
this model gets a say, and only a clear margin over "not a red flag" counts. It is trained at
start-up (about two seconds) from data kept in the repo, with a fixed seed, so the same data
always gives the same verdicts:

- data/nlu/*.yml: the safety intents as red flags, every other intent as ordinary;
- bot/safety/examples/*.yml: red flags and near-boundary ordinary messages written for it.

It never trains on tests/safety/, which measures it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

from bot.safety.tiers import Tier

ROOT = Path(__file__).resolve().parents[2]
NLU_DIR = ROOT / "data" / "nlu"
EXAMPLES_DIR = Path(__file__).with_name("examples")
NONE = "none"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")


def _strip_annotations(text: str) -> str:
    return _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), text)


def nlu_examples(folder: Path = NLU_DIR) -> list[tuple[str, str]]:
    """(text, label) from Rasa NLU files: safety_<tier> -> tier, anything else -> none."""
    pairs: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            intent = block.get("intent")
            if not intent:
                continue
            tier = Tier.from_intent(intent)
            label = tier.value if tier else NONE
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    pairs.append((_strip_annotations(line[2:].strip()), label))
    return pairs


def labelled_examples(folder: Path = EXAMPLES_DIR) -> list[tuple[str, str]]:
    """(text, label) from examples/red_flags.yml (by tier) and examples/benign.yml."""
    pairs: list[tuple[str, str]] = []
    red = folder / "red_flags.yml"
    if red.exists():
        for tier, texts in (yaml.safe_load(red.read_text(encoding="utf-8")) or {}).items():
            Tier(tier)  # a typo in a tier name must fail loudly
            pairs += [(str(t), tier) for t in texts]
    benign = folder / "benign.yml"
    if benign.exists():
        data = yaml.safe_load(benign.read_text(encoding="utf-8")) or {}
        pairs += [(str(t), NONE) for t in data.get("benign", [])]
    return pairs


_NEGATION = re.compile(
    r"\b(?:not|no|never|n't|without|nothing|none|isnt|wasnt|dont|doesnt|didnt|hasnt|wont|cant)"
    r"\b(?:\s+\S+){0,2}"
)


def mask_negations(text: str) -> str:
    """Hide what a negation denies: "she isnt floppy at all" -> "she NEGATED at all".

    Negated red flags that matter ("not breathing", "won't wake") are the rules' job; for the
    statistics, a denied symptom must not look like the symptom.
    """
    return _NEGATION.sub(" negated ", text)


class Backstop:
    """A fitted linear model: ``predict(text)`` gives a tier only with a clear margin."""

    def __init__(
        self,
        normalise: Callable[[str], str],
        examples: Iterable[tuple[str, str]],
        margin: float = 0.3,
        c: float = 0.5,
    ) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.svm import LinearSVC

        texts, labels = zip(*examples, strict=True)

        def prepare(text: str) -> str:
            return mask_negations(normalise(text))

        features = make_union(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, preprocessor=prepare
            ),
            TfidfVectorizer(
                analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=prepare
            ),
        )
        self.model = make_pipeline(
            features, LinearSVC(C=c, class_weight="balanced", random_state=0)
        )
        self.model.fit(list(texts), list(labels))
        self.margin = margin
        self.classes = list(self.model.classes_)

    def predict(self, text: str) -> tuple[Tier | None, float]:
        """The most likely tier and its margin over "none" (None when below the margin)."""
        scores = self.model.decision_function([text])[0]
        if len(self.classes) == 2:  # binary models give one score: > 0 means classes[1]
            scores = [-scores / 2, scores / 2]
        none_score = scores[self.classes.index(NONE)]
        best_score, best = max(
            (s, label) for s, label in zip(scores, self.classes, strict=True) if label != NONE
        )
        margin = float(best_score - none_score)
        return (Tier(best) if margin > self.margin else None), margin


def default_examples() -> list[tuple[str, str]]:
    return nlu_examples() + labelled_examples()
