"""Train the Rasa model only when its inputs changed.

Usage: python scripts/train.py [--force]

The fingerprint is a SHA-256 over the relative path and bytes of config.yml, every file
under domain/, data/ and bot/nlu/, and requirements.lock. The model lives at
models/small-hours.tar.gz with its fingerprint beside it in models/small-hours.fingerprint.
Trained models are also kept in a cache outside the repo, the five newest, as
${SMALL_HOURS_CACHE:-~/.cache/small-hours}/models/<fingerprint>.tar.gz, so a fresh clone on
the same machine does not train again.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts._common import MODEL_NAME, fail, rasa_env, rasa_train_command, rel  # noqa: E402

# bot/nlu holds trained components: their code shapes the model, so it is part of the
# fingerprint. The safety layer (bot/safety) is loaded at run time and needs no retraining.
FINGERPRINT_FILES = ("config.yml", "requirements.lock", "requirements-nodeps.lock")
FINGERPRINT_DIRS = ("domain", "data", "bot/nlu")
CACHE_KEEP = 5
SHORT = 12


def fingerprint_inputs(root: Path) -> list[Path]:
    """The files that define the model, sorted by their path relative to ``root``.

    Hidden files and __pycache__ folders are skipped (editor and OS litter).
    """
    found: list[Path] = [root / name for name in FINGERPRINT_FILES if (root / name).is_file()]
    for folder in FINGERPRINT_DIRS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            parts = path.relative_to(root).parts
            if any(p.startswith(".") or p == "__pycache__" for p in parts):
                continue
            if path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def compute_fingerprint(root: Path, files: Iterable[Path] | None = None) -> str:
    """SHA-256 hex digest over (relative path, size, bytes) of each input file."""
    digest = hashlib.sha256()
    for path in fingerprint_inputs(root) if files is None else files:
        data = path.read_bytes()
        name = path.relative_to(root).as_posix().encode("utf-8")
        digest.update(len(name).to_bytes(4, "big") + name)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Directory of cached models, outside the repo."""
    base = os.environ.get("SMALL_HOURS_CACHE") or str(Path.home() / ".cache" / "small-hours")
    return Path(base).expanduser() / "models"


def _atomic_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` via a temporary file in the destination folder."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def prune_cache(directory: Path, keep: int = CACHE_KEEP) -> None:
    """Keep only the ``keep`` most recently used models in ``directory``."""
    models = sorted(directory.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[keep:]:
        old.unlink(missing_ok=True)


def store_in_cache(model: Path, fingerprint: str) -> None:
    """Copy a trained model into the cache (best effort: a read-only cache only warns)."""
    directory = cache_dir()
    try:
        _atomic_copy(model, directory / f"{fingerprint}.tar.gz")
        prune_cache(directory)
    except OSError as exc:
        print(f"warning: could not write the model cache at {directory}: {exc}", file=sys.stderr)


def restore_from_cache(fingerprint: str, model: Path) -> bool:
    """Copy a cached model with this fingerprint to ``model``; True when one was found."""
    cached = cache_dir() / f"{fingerprint}.tar.gz"
    if not cached.is_file():
        return False
    try:
        _atomic_copy(cached, model)
        os.utime(cached)  # most recently used: survives pruning longest
    except OSError as exc:
        print(f"warning: could not use the cached model {cached}: {exc}", file=sys.stderr)
        return False
    return True


def run_rasa_train(root: Path, out_dir: Path, force: bool) -> float:
    """Run ``rasa train`` and return the seconds taken; raises SystemExit on failure."""
    cmd = rasa_train_command(out_dir, force)
    started = time.monotonic()
    try:
        code = subprocess.run(cmd, cwd=root, env=rasa_env()).returncode
    except OSError as exc:
        raise fail(f"could not start rasa ({exc}); run `make install` first") from exc
    except KeyboardInterrupt:
        raise fail("training interrupted", 130) from None
    seconds = time.monotonic() - started
    if code != 0:
        raise fail(f"rasa train failed (exit code {code}); see its output above")
    return seconds


def _read_fingerprint(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def train(root: Path, force: bool = False) -> Path:
    """Bring models/small-hours.tar.gz up to date with the training inputs and return it."""
    models = root / "models"
    model = models / f"{MODEL_NAME}.tar.gz"
    fp_file = models / f"{MODEL_NAME}.fingerprint"
    if not (root / "config.yml").is_file():
        raise fail(f"no config.yml in {root}")
    try:
        fingerprint = compute_fingerprint(root)
    except OSError as exc:
        raise fail(f"could not read the training inputs: {exc}") from exc
    short = fingerprint[:SHORT]

    if not force and model.is_file() and _read_fingerprint(fp_file) == fingerprint:
        print(f"Model up to date (fingerprint {short})")
        return model

    models.mkdir(parents=True, exist_ok=True)
    # A stale fingerprint must never vouch for a model that is being replaced.
    fp_file.unlink(missing_ok=True)

    if not force and restore_from_cache(fingerprint, model):
        _write_text_atomic(fp_file, fingerprint + "\n")
        print(f"Model restored from cache {rel(cache_dir())} (fingerprint {short})")
        return model

    print(f"Training the model (fingerprint {short}) ...", flush=True)
    before = model.stat().st_mtime if model.exists() else None
    seconds = run_rasa_train(root, models, force)
    if not model.is_file() or (before is not None and model.stat().st_mtime == before):
        raise fail(f"rasa train finished but did not write {rel(model)}")
    _write_text_atomic(fp_file, fingerprint + "\n")
    store_in_cache(model, fingerprint)
    print(f"Model trained in {seconds:.0f} s (fingerprint {short}): {rel(model)}")
    return model


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="train even if nothing changed")
    args = parser.parse_args(argv)
    train(ROOT, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
