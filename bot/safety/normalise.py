"""Turn a tired, typo-ridden message into clean words the patterns can match.

Three steps: fold unicode and case; expand txt-speak and dropped apostrophes from a table in
patterns.yml ("cant" -> "can not", "hes" -> "he is", "LO" -> "baby"); correct misspellings of the
words the patterns care about ("breathin", "siezure", "unresponsve") by edit distance, but only
for words that are not already English.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)?|[^\sa-z\d]")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})


def fold(text: str) -> str:
    """Lower-case, straighten quotes, drop emoji and control characters."""
    text = unicodedata.normalize("NFKC", text or "").translate(_QUOTES).lower()
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat.startswith(("L", "N", "P", "Z")) or ch in "°+-/":
            kept.append(ch)
        else:
            kept.append(" ")
    text = "".join(kept)
    # "breathinggg" -> "breathing", "sooo" -> "so" (3+ repeats fold to one)
    return _REPEATS.sub(r"\1", text)


def damerau_levenshtein(a: str, b: str, limit: int = 2) -> int:
    """Edit distance with transpositions; returns limit + 1 as soon as it is exceeded."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


class Normaliser:
    """Expands txt-speak and fixes typos of pattern keywords."""

    def __init__(
        self,
        replacements: Mapping[str, str],
        keywords: Iterable[str],
        known_words: Iterable[str],
    ) -> None:
        self.replacements = dict(replacements)
        # Multi-word replacements ("little one" -> "baby") are applied on the joined text.
        self._phrases = sorted(
            ((k, v) for k, v in self.replacements.items() if " " in k),
            key=lambda kv: -len(kv[0]),
        )
        # only longer keywords are correction targets: "weint" (German) must not become "went"
        self.keywords = sorted({k for k in keywords if len(k) >= 5 and k.isalpha()})
        self.known = set(known_words) | set(self.keywords)
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """Return the keyword a misspelt word was meant to be, or the word unchanged."""
        if word in self._cache:
            return self._cache[word]
        best = word
        if len(word) >= 5 and word.isalpha() and word not in self.known:
            limit = 2 if len(word) >= 9 else 1
            best_d = limit + 1
            for kw in self.keywords:
                if kw[0] != word[0] and len(word) < 9:
                    continue  # first letters are rarely wrong in short words
                d = damerau_levenshtein(word, kw, limit)
                if d < best_d:
                    best, best_d = kw, d
        self._cache[word] = best
        return best

    def __call__(self, text: str) -> str:
        folded = fold(text)
        words = _WORD.findall(folded)
        out: list[str] = []
        for w in words:
            if w in self.replacements:
                out.append(self.replacements[w])
            elif w.endswith("'s") and w[:-2] in self.replacements:
                out.append(self.replacements[w[:-2]] + " 's")
            else:
                out.append(self.correct(w))
        joined = " " + " ".join(out) + " "
        for phrase, repl in self._phrases:
            joined = joined.replace(f" {phrase} ", f" {repl} ")
        return joined.strip()
