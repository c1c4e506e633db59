"""bot.safety.model_check against small hand-built model archives (and the real one if trained)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from bot.safety.model_check import (
    SAFETY_COMPONENT,
    assert_model_has_safety_layer,
    model_has_safety_layer,
)

ROOT = Path(__file__).resolve().parents[2]
REAL_MODEL = ROOT / "models" / "small-hours.tar.gz"


def _node(uses: str, fn: str = "process") -> dict:
    return {
        "needs": {"messages": "run_DIETClassifier4"},
        "uses": uses,
        "constructor_name": "load",
        "fn": fn,
        "config": {},
        "eager": True,
        "is_target": False,
        "is_input": False,
        "resource": None,
    }


def _metadata(with_safety: bool) -> dict:
    nodes = {
        "nlu_message_converter": _node(
            "rasa.graph_components.converters.nlu_message_converter.NLUMessageConverter",
            "convert_user_message",
        ),
        "run_DIETClassifier4": _node("rasa.nlu.classifiers.diet_classifier.DIETClassifier"),
        "run_RulePolicy2": _node(
            "rasa.core.policies.rule_policy.RulePolicy", "predict_action_probabilities"
        ),
    }
    # The training graph names the component too; only the predict graph may count.
    train_nodes = {"train_SafetyTierClassifier6": _node(SAFETY_COMPONENT, "train")}
    if with_safety:
        nodes[f"run_{SAFETY_COMPONENT}6"] = _node(SAFETY_COMPONENT)
    return {
        "domain": {},
        "trained_at": "2026-01-01T00:00:00",
        "model_id": "abc",
        "assistant_id": "small-hours",
        "rasa_open_source_version": "3.6.21",
        "train_schema": {"nodes": train_nodes},
        "predict_schema": {"nodes": nodes},
        "training_type": "BOTH",
        "project_fingerprint": "x",
        "core_target": "select_prediction",
        "nlu_target": "run_RegexMessageHandler",
        "language": "en",
        "spaces": None,
    }


def _archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _model(tmp_path: Path, with_safety: bool, name: str = "metadata.json") -> Path:
    return _archive(
        tmp_path / "model.tar.gz",
        {
            "components/domain_provider/domain.yml": b"version: '3.1'\n",
            name: json.dumps(_metadata(with_safety)).encode(),
        },
    )


def test_model_with_safety_layer(tmp_path: Path) -> None:
    model = _model(tmp_path, with_safety=True)
    assert model_has_safety_layer(model) is True
    assert_model_has_safety_layer(model)  # does not raise


def test_member_name_with_leading_dot(tmp_path: Path) -> None:
    assert model_has_safety_layer(_model(tmp_path, True, name="./metadata.json")) is True


def test_model_without_safety_layer(tmp_path: Path) -> None:
    model = _model(tmp_path, with_safety=False)
    assert model_has_safety_layer(model) is False
    with pytest.raises(SystemExit) as info:
        assert_model_has_safety_layer(model)
    message = str(info.value)
    assert "no safety layer" in message and "\n" not in message


def test_missing_or_broken_archives(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as missing:
        assert_model_has_safety_layer(tmp_path / "nope.tar.gz")
    assert "make train" in str(missing.value)

    not_a_tar = tmp_path / "junk.tar.gz"
    not_a_tar.write_bytes(b"not a model")
    no_metadata = _archive(tmp_path / "empty.tar.gz", {"components/x": b"1"})
    for path in (not_a_tar, no_metadata):
        with pytest.raises(ValueError):
            model_has_safety_layer(path)
        with pytest.raises(SystemExit) as info:
            assert_model_has_safety_layer(path)
        assert "\n" not in str(info.value)


@pytest.mark.model
@pytest.mark.skipif(not REAL_MODEL.is_file(), reason="no trained model (make train)")
def test_trained_model_has_safety_layer() -> None:
    assert model_has_safety_layer(REAL_MODEL)
