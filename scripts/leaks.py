"""Find held-out messages that training data already (nearly) contains.

Usage: python scripts/leaks.py [--threshold 0.7] [--show 20]

An exact-match check misses the leaks that matter: "hes not breathing properly" in the training
data makes "he is not breathing properly!!" in a held-out set a memory test, not a test of
understanding. This compares every held-out message with every training message by token
overlap (Jaccard similarity of their word sets, after folding case, punctuation and common
contractions). A pair at or above the threshold is a leak. Messages of fewer than MIN_TOKENS
words count only when they are exact copies, and one- and two-word messages ("hi", "thanks
mate") not at all: there is no other way to say them.

Training data: data/nlu/ (the intent model and the safety backstop) and bot/safety/examples/.
Held out: tests/nlu_holdout/, tests/safety/ (every set) and tests/understanding/frozen/.
Exits 1 when any leak is found.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.7
MIN_TOKENS = 4
MIN_EXACT_TOKENS = 3
_TOKEN = re.compile(r"[a-z0-9]+")
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}")
# Contractions folded both ways so "he's" / "hes" / "he is" look alike.
_FOLD = {
    "hes": "he is",
    "shes": "she is",
    "im": "i am",
    "ive": "i have",
    "its": "it is",
    "dont": "do not",
    "cant": "can not",
    "cannot": "can not",
    "wont": "will not",
    "isnt": "is not",
    "doesnt": "does not",
    "didnt": "did not",
    "u": "you",
    "ur": "your",
}


def tokens(text: str) -> frozenset[str]:
    words = _TOKEN.findall(text.lower().replace("'", ""))
    out: list[str] = []
    for w in words:
        out.extend(_FOLD.get(w, w).split())
    return frozenset(out)


@dataclass(frozen=True)
class Example:
    text: str
    where: str


def _nlu_file(path: Path) -> Iterator[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for block in data.get("nlu") or []:
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), line[2:].strip())


def _strings(node: object) -> Iterator[str]:
    """Every string in a nested YAML structure (labelled lists by tier, benign lists)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _conversation_file(path: Path) -> Iterator[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for conv in data.get("conversations") or []:
        for turn in conv.get("turns") or []:
            if isinstance(turn.get("user"), str):
                yield turn["user"]


def load(path: Path) -> list[Example]:
    """Messages in one file: NLU YAML, a conversation set, or a labelled safety list."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if "nlu" in data:
        texts: Iterable[str] = _nlu_file(path)
    elif "conversations" in data:
        texts = _conversation_file(path)
    else:
        texts = _strings(data)
    where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    return [Example(t, where) for t in texts if t.strip()]


def training_files(root: Path = ROOT) -> list[Path]:
    return sorted((root / "data" / "nlu").glob("*.yml")) + sorted(
        (root / "bot" / "safety" / "examples").glob("*.yml")
    )


def held_out_files(root: Path = ROOT) -> list[Path]:
    files = sorted((root / "tests" / "nlu_holdout").glob("*.yml"))
    files += sorted((root / "tests" / "safety").rglob("*.yml"))
    files += sorted((root / "tests" / "understanding" / "frozen").rglob("*.yml"))
    return files


@dataclass(frozen=True)
class Leak:
    held_out: Example
    training: Example
    similarity: float


def find_leaks(
    training: list[Example], held_out: list[Example], threshold: float = THRESHOLD
) -> list[Leak]:
    """Held-out examples whose nearest training example is at or above ``threshold``."""
    train_tokens = [tokens(e.text) for e in training]
    index: dict[str, list[int]] = defaultdict(list)
    for i, toks in enumerate(train_tokens):
        for t in toks:
            index[t].append(i)
    exact = {" ".join(sorted(t)): i for i, t in enumerate(train_tokens)}
    leaks = []
    for ex in held_out:
        toks = tokens(ex.text)
        if len(toks) < MIN_EXACT_TOKENS:
            continue
        hit = exact.get(" ".join(sorted(toks)))
        if hit is not None:
            leaks.append(Leak(ex, training[hit], 1.0))
            continue
        if len(toks) < MIN_TOKENS:
            continue
        # a candidate must share enough words to possibly reach the threshold
        need = threshold * len(toks)
        shared: dict[int, int] = defaultdict(int)
        for t in toks:
            for i in index.get(t, ()):
                shared[i] += 1
        best, best_i = 0.0, -1
        for i, n in shared.items():
            if n < need * 0.5:
                continue
            sim = n / len(toks | train_tokens[i])
            if sim > best:
                best, best_i = sim, i
        if best >= threshold:
            leaks.append(Leak(ex, training[best_i], best))
    return leaks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--show", type=int, default=20)
    args = parser.parse_args(argv)
    training = [e for p in training_files() for e in load(p)]
    held_out = [e for p in held_out_files() for e in load(p)]
    leaks = find_leaks(training, held_out, args.threshold)
    print(
        f"{len(held_out)} held-out messages checked against {len(training)} training messages "
        f"(token Jaccard >= {args.threshold}): {len(leaks)} leaks"
    )
    for leak in sorted(leaks, key=lambda x: -x.similarity)[: args.show]:
        print(
            f"  {leak.similarity:.2f} {leak.held_out.where}: {leak.held_out.text!r}\n"
            f"       ~ {leak.training.where}: {leak.training.text!r}"
        )
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
