"""The training fingerprint and the model cache logic of scripts/train.py (no real training)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts import train


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A minimal project tree with inputs and unrelated files."""
    root = tmp_path / "repo"
    files = {
        "config.yml": "recipe: default.v1\n",
        "requirements.lock": "rasa==3.6.21\n",
        "domain/crying.yml": 'version: "3.1"\n',
        "domain/general.yml": 'version: "3.1"\nintents: [greet]\n',
        "data/nlu/crying.yml": 'version: "3.1"\nnlu: []\n',
        "data/rules/crying.yml": 'version: "3.1"\nrules: []\n',
        "README.md": "readme\n",
        "actions/actions.py": "x = 1\n",
        "tests/test_stories.yml": "stories: []\n",
        "tests/nlu_holdout/crying.yml": "nlu: []\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_inputs_are_exactly_config_lock_domain_and_data(project: Path) -> None:
    names = [p.relative_to(project).as_posix() for p in train.fingerprint_inputs(project)]
    assert names == sorted(names)
    assert set(names) == {
        "config.yml",
        "requirements.lock",
        "domain/crying.yml",
        "domain/general.yml",
        "data/nlu/crying.yml",
        "data/rules/crying.yml",
    }


def test_fingerprint_is_stable(project: Path) -> None:
    first = train.compute_fingerprint(project)
    os.utime(project / "data" / "nlu" / "crying.yml", (1, 1))  # mtime alone must not matter
    assert train.compute_fingerprint(project) == first
    assert len(first) == 64


@pytest.mark.parametrize(
    "name",
    [
        "config.yml",
        "requirements.lock",
        "domain/general.yml",
        "data/nlu/crying.yml",
        "data/rules/crying.yml",
    ],
)
def test_fingerprint_changes_when_an_input_changes(project: Path, name: str) -> None:
    before = train.compute_fingerprint(project)
    with (project / name).open("a", encoding="utf-8") as handle:
        handle.write("# edited\n")
    assert train.compute_fingerprint(project) != before


def test_fingerprint_changes_on_new_or_renamed_files(project: Path) -> None:
    before = train.compute_fingerprint(project)
    new = project / "data" / "stories" / "crying.yml"
    new.parent.mkdir()
    new.write_text('version: "3.1"\n', encoding="utf-8")
    added = train.compute_fingerprint(project)
    assert added != before
    new.rename(new.with_name("crying2.yml"))
    assert train.compute_fingerprint(project) not in (before, added)


def test_fingerprint_ignores_other_files(project: Path) -> None:
    before = train.compute_fingerprint(project)
    (project / "README.md").write_text("changed\n", encoding="utf-8")
    (project / "actions" / "actions.py").write_text("x = 2\n", encoding="utf-8")
    (project / "tests" / "test_stories.yml").write_text("changed\n", encoding="utf-8")
    (project / "models").mkdir()
    (project / "models" / "small-hours.tar.gz").write_bytes(b"model")
    (project / "data" / ".DS_Store").write_bytes(b"litter")
    (project / "domain" / "__pycache__").mkdir()
    (project / "domain" / "__pycache__" / "x.pyc").write_bytes(b"litter")
    assert train.compute_fingerprint(project) == before


def _fake_training(calls: list[int]):
    def fake(root: Path, out_dir: Path, force: bool) -> float:
        calls.append(1)
        (out_dir / f"{train.MODEL_NAME}.tar.gz").write_bytes(f"model {len(calls)}".encode())
        return 0.1

    return fake


def test_train_skips_restores_and_retrains(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SMALL_HOURS_CACHE", str(tmp_path / "cache"))
    calls: list[int] = []
    monkeypatch.setattr(train, "run_rasa_train", _fake_training(calls))
    model = project / "models" / "small-hours.tar.gz"
    fingerprint = train.compute_fingerprint(project)

    train.train(project)
    assert len(calls) == 1
    assert (project / "models" / "small-hours.fingerprint").read_text().strip() == fingerprint
    assert (tmp_path / "cache" / "models" / f"{fingerprint}.tar.gz").is_file()

    train.train(project)
    assert len(calls) == 1
    assert f"Model up to date (fingerprint {fingerprint[:12]})" in capsys.readouterr().out

    # A fresh clone (no models/) reuses the cached model.
    model.unlink()
    train.train(project)
    assert len(calls) == 1
    assert model.read_bytes() == b"model 1"

    # Changed data trains again; --force trains even when nothing changed.
    (project / "data" / "nlu" / "crying.yml").write_text("nlu: [x]\n", encoding="utf-8")
    train.train(project)
    assert len(calls) == 2
    train.train(project, force=True)
    assert len(calls) == 3


def test_failed_training_leaves_no_matching_fingerprint(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMALL_HOURS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(train, "run_rasa_train", _fake_training([]))
    train.train(project)
    (project / "config.yml").write_text("recipe: broken\n", encoding="utf-8")

    def failing(root: Path, out_dir: Path, force: bool) -> float:
        raise SystemExit(1)

    monkeypatch.setattr(train, "run_rasa_train", failing)
    with pytest.raises(SystemExit):
        train.train(project)
    assert not (project / "models" / "small-hours.fingerprint").exists()


def test_cache_keeps_the_five_newest(tmp_path: Path) -> None:
    for i in range(8):
        path = tmp_path / f"{i}.tar.gz"
        path.write_bytes(b"x")
        os.utime(path, (1000 + i, 1000 + i))
    train.prune_cache(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.tar.gz")) == [f"{i}.tar.gz" for i in range(3, 8)]
