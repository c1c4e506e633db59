"""Loads the labelled safety set (red_flags.yml, benign.yml) beside this file."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).parent


HOLDOUT = HERE / "holdout"
THIRD = HERE / "third"
ISSUE11 = HERE / "issue11"


def load_red_flags(folder: Path = HERE) -> list[tuple[str, str]]:
    """(tier, message) pairs."""
    data = yaml.safe_load((folder / "red_flags.yml").read_text(encoding="utf-8"))
    return [(tier, str(text)) for tier, texts in data.items() for text in texts]


def load_benign(folder: Path = HERE) -> list[str]:
    data = yaml.safe_load((folder / "benign.yml").read_text(encoding="utf-8"))
    return [str(t) for t in data["benign"]]
