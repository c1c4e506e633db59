"""Run the conversation tests (tests/test_stories.yml) against the trained model.

Usage: python scripts/core_test.py --model models/small-hours.tar.gz [--stories FILE] [--e2e]

Runs `rasa test core --fail-on-prediction-errors`, which stops at the first wrong prediction. On
failure it runs once more without that flag so that results/core/failed_test_stories.yml lists
every failing story, and prints where that file is. No action server is needed: `rasa test core`
only checks the predicted actions, it does not run them.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts._common import fail, rasa_env, rel, venv_bin  # noqa: E402

FAILED_STORIES = "failed_test_stories.yml"
ALL_GOOD_MARKER = "None of the test stories failed"


def rasa_test_core(model: Path, stories: Path, out: Path, strict: bool, e2e: bool) -> int:
    """Run `rasa test core` and return its exit code."""
    cmd = [
        venv_bin("rasa"),
        "test",
        "core",
        "--model",
        str(model),
        "--stories",
        str(stories),
        "--out",
        str(out),
    ]
    if strict:
        cmd.append("--fail-on-prediction-errors")
    if e2e:
        cmd.append("--e2e")
    try:
        return subprocess.run(cmd, cwd=ROOT, env=rasa_env()).returncode
    except OSError as exc:
        raise fail(f"could not start rasa ({exc}); run `make install` first") from exc


def failed_story_count(path: Path) -> int | None:
    """Number of stories in a failed-stories file (0 when all passed, None when unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if ALL_GOOD_MARKER in text:
        return 0
    return sum(1 for line in text.splitlines() if line.lstrip().startswith("- story:"))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--stories", type=Path, default=ROOT / "tests" / "test_stories.yml")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "core")
    parser.add_argument(
        "--e2e", action="store_true", help="also parse the user texts with the NLU pipeline"
    )
    args = parser.parse_args(argv)

    # Rasa silently falls back to data/ for a missing stories file and exits 0 without a model.
    if not args.model.is_file():
        raise fail(f"no trained model at {rel(args.model)}; run `make train` first")
    if not args.stories.is_file():
        raise fail(f"no conversation tests at {rel(args.stories)}")
    shutil.rmtree(args.out, ignore_errors=True)  # never report a stale result
    failed_file = args.out / FAILED_STORIES

    code = rasa_test_core(args.model, args.stories, args.out, strict=True, e2e=args.e2e)
    if code == 0:
        count = failed_story_count(failed_file)
        if count is None:
            raise fail(f"rasa test core wrote no {rel(failed_file)}; see its output above")
        if count:
            raise fail(f"{count} conversation tests failed; see {rel(failed_file)}")
        print(f"Conversation tests passed ({rel(args.stories)}); reports in {rel(args.out)}")
        return 0

    print("Conversation tests failed; collecting every failing story ...", flush=True)
    shutil.rmtree(args.out, ignore_errors=True)
    rasa_test_core(args.model, args.stories, args.out, strict=False, e2e=args.e2e)
    count = failed_story_count(failed_file)
    if count:
        print(
            f"error: {count} conversation tests failed (rasa exit code {code}); "
            f"failed stories: {rel(failed_file)}",
            file=sys.stderr,
        )
    else:
        print(
            f"error: rasa test core failed (exit code {code}); see its output above",
            file=sys.stderr,
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
