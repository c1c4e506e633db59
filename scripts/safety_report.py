"""Run the safety layer over the labelled sets in tests/safety/ and write a report.

Usage: python scripts/safety_report.py [--out bench/safety.md] [--model models/small-hours.tar.gz]
The report has a per-tier confusion table, recall per tier, the false-alarm rate on benign
messages and the list of misses, for each set apart. With --model it also scores every
conversation set (tests/understanding/: the development sets and each frozen set, apart) with
the trained bot (scripts/conversation_eval.py). It prints a summary and exits 0 (the pass/fail
bars are in tests/safety/test_safety_set.py and `make conversation-eval`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.safety.classifier import SafetyClassifier  # noqa: E402
from bot.safety.tiers import PRECEDENCE  # noqa: E402
from tests.safety.dataset import HOLDOUT, ISSUE11, THIRD, load_benign, load_red_flags  # noqa: E402


def evaluate(classifier: SafetyClassifier, red, benign):
    confusion: Counter = Counter()
    misses, false_alarms = [], []
    for expected, text in red:
        got = classifier.classify(text).tier
        got_name = got.value if got else "none"
        confusion[(expected, got_name)] += 1
        if got_name != expected:
            misses.append((expected, got_name, text))
    for text in benign:
        result = classifier.classify(text)
        if result.tier:
            confusion[("benign", result.tier.value)] += 1
            false_alarms.append((result.tier.value, ",".join(result.rules), text))
        else:
            confusion[("benign", "none")] += 1
    return confusion, misses, false_alarms


def summary(red, benign, misses, false_alarms) -> str:
    missed_any = sum(1 for _, got, _ in misses if got == "none")
    return (
        f"right tier {len(red) - len(misses)}/{len(red)} "
        f"({100 * (len(red) - len(misses)) / max(1, len(red)):.1f}%), "
        f"escalated at all {len(red) - missed_any}/{len(red)}, "
        f"false alarms {len(false_alarms)}/{len(benign)} "
        f"({100 * len(false_alarms) / max(1, len(benign)):.2f}%)"
    )


def render(title, red, benign, confusion, misses, false_alarms) -> str:
    cols = [t.value for t in PRECEDENCE] + ["none"]
    rows = [t.value for t in PRECEDENCE] + ["benign"]
    lines = [f"## {title}", ""]
    lines.append(
        f"Red flags: {len(red)}; benign near-boundary messages: {len(benign)}. "
        "Rows are the labels, columns what the safety layer said."
    )
    lines.append("")
    lines.append("| label \\ predicted | " + " | ".join(cols) + " | recall |")
    lines.append("|---" * (len(cols) + 2) + "|")
    for r in rows:
        total = sum(confusion[(r, c)] for c in cols)
        right = confusion[(r, r)] if r != "benign" else confusion[(r, "none")]
        recall = f"{100 * right / total:.1f}%" if total else "-"
        lines.append(
            f"| {r} | " + " | ".join(str(confusion[(r, c)]) for c in cols) + f" | {recall} |"
        )
    correct_tier = len(red) - len(misses)
    missed_any = sum(1 for _, got, _ in misses if got == "none")
    lines += [
        "",
        f"- Red flags put in the right tier: {correct_tier}/{len(red)} "
        f"({100 * correct_tier / max(1, len(red)):.1f}%).",
        f"- Red flags given no tier at all: {missed_any}.",
        f"- Benign messages over-escalated: {len(false_alarms)}/{len(benign)} "
        f"({100 * len(false_alarms) / max(1, len(benign)):.2f}%).",
        "",
        "### Misses (label -> predicted)",
        "",
    ]
    lines += [f"- `{e}` -> `{g}`: {t}" for e, g, t in misses] or ["None."]
    lines += ["", "### False alarms (predicted, rules)", ""]
    lines += [f"- `{tier}` ({rules}): {t}" for tier, rules, t in false_alarms] or ["None."]
    return "\n".join(lines) + "\n\n"


UNDERSTANDING = ROOT / "tests" / "understanding"


def conversation_sets(model: Path) -> tuple[list[str], str]:
    """Score the development and frozen conversation sets apart: summary lines and details."""
    from scripts.conversation_eval import evaluate as score_conversations
    from scripts.conversation_eval import quiet_logging, render, summary_line

    groups = [
        ("development", sorted((UNDERSTANDING / "dev").glob("*.yml"))),
        ("frozen", sorted((UNDERSTANDING / "frozen").rglob("*.yml"))),
    ]
    quiet_logging()
    lines, details = [], []
    for label, paths in groups:
        if not paths:
            lines.append(f"- {label}: no sets")
            continue
        scores = score_conversations(model, paths)
        lines += [f"- {label}, {summary_line(score)}" for score in scores]
        details.append(render(scores, model).replace("# Conversation evaluation", f"## {label}"))
    return lines, "\n".join(details)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "safety.md")
    parser.add_argument("--model", type=Path, default=None, help="also score conversation sets")
    args = parser.parse_args()
    start = time.perf_counter()
    full = SafetyClassifier()
    rules_only = SafetyClassifier(backstop=False)
    sets = [
        ("labelled set (tests/safety/)", load_red_flags(), load_benign()),
        (
            "independent holdout (tests/safety/holdout/)",
            load_red_flags(HOLDOUT),
            load_benign(HOLDOUT),
        ),
        ("third independent set (tests/safety/third/)", load_red_flags(THIRD), load_benign(THIRD)),
        (
            "issue 11 set (tests/safety/issue11/)",
            load_red_flags(ISSUE11),
            load_benign(ISSUE11),
        ),
    ]
    sections, lines = [], []
    for name, red, benign in sets:
        for label, classifier in (("rules + backstop", full), ("rules only", rules_only)):
            result = evaluate(classifier, red, benign)
            lines.append(f"- {name}, {label}: {summary(red, benign, result[1], result[2])}")
            if label == "rules + backstop":
                sections.append(render(f"{name}: rules + backstop", red, benign, *result))
    header = [
        "# Safety layer report",
        "",
        f"Generated by `make safety-report` in {time.perf_counter() - start:.1f}s.",
        "The holdout set was written independently; its odd-numbered messages were looked at",
        "while writing rules, the even-numbered ones never were (see the issue note).",
        "",
        *lines,
        "",
    ]
    if args.model is not None:
        conversation_lines, conversation_report = conversation_sets(args.model)
        lines += ["", *conversation_lines]
        header += ["## Conversation sets (scripts/conversation_eval.py)", ""]
        header += [*conversation_lines, ""]
        sections.append(conversation_report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(header) + "\n" + "".join(sections), encoding="utf-8")
    print("\n".join(lines) + f"\n-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
