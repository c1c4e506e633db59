"""Intent macro-F1 of the trained model on the held-out NLU examples.

Usage: python scripts/nlu_eval.py --model models/small-hours.tar.gz --holdout tests/nlu_holdout
       [--min-f1 0.85] [--out results/nlu_holdout.md]

Every example in the NLU YAML files under --holdout is parsed by the full trained pipeline (so the
safety layer's intent override counts, as it does in production). Writes a markdown report with
per-intent precision/recall/F1/support and the most common confusions, prints the macro-F1 and
exits 1 when it is below --min-f1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts._common import fail, quiet_rasa_in_process, rel  # noqa: E402

quiet_rasa_in_process()

EXAMPLES_PER_PAIR = 3
WORST_SHOWN = 5


@dataclass
class IntentScore:
    """Precision, recall, F1 and support of one intent."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Evaluation:
    """Everything the report needs."""

    macro_f1: float
    accuracy: float
    scores: list[IntentScore]
    confusions: list[tuple[str, str, int, list[str]]]
    total: int
    leaked: int
    seconds: float


def quiet_rasa_logging() -> None:
    """Warnings only; in particular no debug lines that would echo example texts."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def load_examples(folder: Path) -> list[tuple[str, str]]:
    """(text, intent) for every intent example in the NLU files under ``folder``."""
    from rasa.shared.nlu.training_data.loading import load_data

    if not folder.exists():
        raise fail(f"no held-out data at {rel(folder)}")
    data = load_data(str(folder))
    # FAQ topics are scored by their key (faq/dummies), not the shared `faq` intent
    examples = [
        (str(m.get("text")), str(m.get("intent_response_key") or m.get("intent")))
        for m in data.intent_examples
        if m.get("text") and m.get("intent")
    ]
    if not examples:
        raise fail(f"no intent examples found under {rel(folder)}")
    return examples


def training_texts(folder: Path) -> set[str]:
    """Lower-cased training example texts (to spot held-out examples copied into training)."""
    from rasa.shared.nlu.training_data.loading import load_data

    if not folder.exists():
        return set()
    try:
        data = load_data(str(folder))
    except Exception:  # a broken training file must not hide the evaluation
        return set()
    return {str(m.get("text")).strip().lower() for m in data.intent_examples if m.get("text")}


async def predict(model: Path, texts: list[str]) -> list[str]:
    """The intent the full pipeline gives each text."""
    from rasa.core.agent import Agent

    agent = Agent.load(model_path=str(model))
    if not agent.is_ready():
        raise fail(f"the model {rel(model)} could not be loaded")
    predictions = []
    for text in texts:
        parsed = await agent.parse_message(text)
        intent = parsed.get("intent") or {}
        name = intent.get("full_retrieval_intent_name") or intent.get("name")
        predictions.append(str(name or "None"))
    return predictions


def score(
    examples: list[tuple[str, str]], predicted: list[str], leaked: int, seconds: float
) -> Evaluation:
    """Per-intent metrics (over the held-out intents), macro-F1 and confusion pairs."""
    from sklearn.metrics import precision_recall_fscore_support

    gold = [intent for _, intent in examples]
    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0
    )
    scores = [
        IntentScore(label, float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    ]
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (text, expected), got in zip(examples, predicted, strict=True):
        if expected != got:
            pairs[(expected, got)].append(text)
    confusions = sorted(
        ((e, g, len(texts), texts[:EXAMPLES_PER_PAIR]) for (e, g), texts in pairs.items()),
        key=lambda item: (-item[2], item[0], item[1]),
    )
    correct = sum(1 for (_, e), g in zip(examples, predicted, strict=True) if e == g)
    return Evaluation(
        macro_f1=sum(s.f1 for s in scores) / len(scores),
        accuracy=correct / len(examples),
        scores=scores,
        confusions=confusions,
        total=len(examples),
        leaked=leaked,
        seconds=seconds,
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(result: Evaluation, model: Path, holdout: Path, min_f1: float) -> str:
    """The markdown report."""
    verdict = "pass" if result.macro_f1 >= min_f1 else "FAIL"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# NLU held-out evaluation",
        "",
        f"- Model: `{rel(model)}`; held-out data: `{rel(holdout)}` ({result.total} examples, "
        f"{len(result.scores)} intents); {when}; {result.seconds:.1f} s.",
        f"- **Intent macro-F1: {result.macro_f1:.3f}** (minimum {min_f1:.2f}: {verdict}); "
        f"accuracy {result.accuracy:.3f}.",
        "- Intents are scored after the whole pipeline, including the safety layer's override.",
    ]
    if result.leaked:
        lines.append(
            f"- Warning: {result.leaked} held-out examples also appear in the training data."
        )
    lines += [
        "",
        "## Per intent (worst F1 first)",
        "",
        "| intent | precision | recall | F1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in sorted(result.scores, key=lambda s: (s.f1, s.intent)):
        lines.append(
            f"| {s.intent} | {s.precision:.2f} | {s.recall:.2f} | {s.f1:.2f} | {s.support} |"
        )
    lines += ["", "## Confusions (expected -> predicted)", ""]
    if not result.confusions:
        lines.append("None.")
    else:
        lines += ["| expected | predicted | count | examples |", "|---|---|---:|---|"]
        for expected, got, count, texts in result.confusions:
            shown = "; ".join(f"“{_cell(t)}”" for t in texts)
            lines.append(f"| {expected} | {got} | {count} | {shown} |")
    return "\n".join(lines) + "\n"


def evaluate(model: Path, holdout: Path, training: Path | None = None) -> Evaluation:
    """Load the held-out examples, run the model over them and score the result."""
    examples = load_examples(holdout)
    seen = training_texts(training) if training else set()
    leaked = sum(1 for text, _ in examples if text.strip().lower() in seen)
    started = time.monotonic()
    predicted = asyncio.run(predict(model, [text for text, _ in examples]))
    return score(examples, predicted, leaked, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--holdout", type=Path, required=True)
    parser.add_argument("--min-f1", type=float, default=0.85)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu_holdout.md")
    parser.add_argument("--training", type=Path, default=ROOT / "data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if not args.model.is_file():
        raise fail(f"no trained model at {rel(args.model)}; run `make train` first")
    quiet_rasa_logging()

    result = evaluate(args.model, args.holdout, args.training)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(result, args.model, args.holdout, args.min_f1), encoding="utf-8")

    print(
        f"Intent macro-F1 {result.macro_f1:.3f} on {result.total} held-out examples "
        f"(minimum {args.min_f1:.2f}); report: {rel(args.out)}"
    )
    if result.leaked:
        print(f"warning: {result.leaked} held-out examples also appear in the training data")
    if result.macro_f1 < args.min_f1:
        worst = sorted(result.scores, key=lambda s: (s.f1, s.intent))[:WORST_SHOWN]
        listed = ", ".join(f"{s.intent} (F1 {s.f1:.2f})" for s in worst)
        print(
            f"error: intent macro-F1 {result.macro_f1:.3f} is below {args.min_f1:.2f}; "
            f"worst intents: {listed}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
