"""Check that a trained Rasa model archive contains the safety layer.

A Rasa 3.x model is a tar.gz holding ``metadata.json``; its ``predict_schema.nodes`` maps node
names to ``{"uses": "<module>.<Class>", "fn": ..., ...}``. The bot must never serve a model whose
inference graph lacks :class:`bot.safety.component.SafetyTierClassifier` (for example one trained
from an edited config.yml). Only the standard library is used, so the check is fast.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

SAFETY_COMPONENT = "bot.safety.component.SafetyTierClassifier"
METADATA_FILE = "metadata.json"


def read_model_metadata(model_path: str | Path) -> dict[str, Any]:
    """Return the parsed ``metadata.json`` of a Rasa model archive.

    Raises FileNotFoundError when the file is missing and ValueError when it is not a Rasa model.
    """
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                name = member.name.lstrip("/")
                name = name[2:] if name.startswith("./") else name
                if name == METADATA_FILE and member.isfile():
                    handle = archive.extractfile(member)
                    if handle is None:
                        break
                    metadata = json.loads(handle.read().decode("utf-8"))
                    if not isinstance(metadata, dict):
                        raise ValueError(f"{path} has a malformed {METADATA_FILE}")
                    return metadata
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = type(exc).__name__
        raise ValueError(f"{path} is not a readable Rasa model archive ({reason})") from exc
    raise ValueError(f"{path} has no {METADATA_FILE}, so it is not a Rasa 3 model")


def _uses_safety_component(node: Any) -> bool:
    return isinstance(node, dict) and node.get("uses") == SAFETY_COMPONENT


def model_has_safety_layer(model_path: str | Path) -> bool:
    """True when the model's inference (predict) graph runs the SafetyTierClassifier.

    Raises FileNotFoundError / ValueError for a missing or unreadable archive.
    """
    metadata = read_model_metadata(model_path)
    schema = metadata.get("predict_schema")
    nodes = schema.get("nodes") if isinstance(schema, dict) else None
    if not isinstance(nodes, dict):
        return False
    return any(_uses_safety_component(node) for node in nodes.values())


def assert_model_has_safety_layer(model_path: str | Path) -> None:
    """Raise SystemExit with one clear sentence unless the model has the safety layer."""
    try:
        ok = model_has_safety_layer(model_path)
    except FileNotFoundError:
        raise SystemExit(f"No trained model at {model_path}; run `make train` first.") from None
    except ValueError as exc:
        raise SystemExit(f"Cannot use the model: {exc}; run `make train` again.") from None
    if not ok:
        raise SystemExit(
            f"Refusing to start: the model {model_path} has no safety layer "
            f"({SAFETY_COMPONENT} is missing from its pipeline); check config.yml and retrain."
        )
