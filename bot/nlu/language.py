"""Which language a message is in, when it is not English: offline and deterministic.

Small Hours understands English only. A dad who writes in another language common in the UK gets
a short card in that language (domain/languages.yml): 999 in an emergency, NHS 111 with a free
interpreter, and that the bot reads English for now. The safety layer also uses this, to look for
emergency phrases in that language (bot/safety/languages.yml).

How: the script decides first (Gurmukhi is Punjabi, Bengali script Bengali, Gujarati script
Gujarati; Arabic script is Urdu when it has letters Arabic does not use, else Arabic). Latin
script is English unless it carries letters only the other languages use, or py3langid (a small
offline model, restricted to English and the supported Latin-script languages) is sure it is one
of them. Tired English full of typos and slang must never be read as Polish, so English wins
whenever the message has a couple of common English words. Returns None for English, for
messages too short to tell, and for languages without a card.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from functools import lru_cache
from pathlib import Path

import yaml

LANGUAGES_PATH = Path(__file__).resolve().parents[1] / "safety" / "languages.yml"
LATIN = ("pl", "ro", "pt", "es", "lt")
MIN_LETTERS = 6
MIN_LATIN_WORDS = 3
MODEL_MIN_PROBABILITY = 0.95
# With a vocabulary of English words: this share of the words (3+ letters) known means English.
ENGLISH_SHARE = 0.6
# Common English (and our users' own) words: two different ones and the message is English.
# Short words that are also words in the other languages ("a", "i", "no", "me", "do", "to",
# "we", "in", "am", "he") are left out.
ENGLISH_WORDS = frozenset(
    """
    about after all also any are at baby babys been being but by can cant cry crying did does
    dont for from get got had has have hes her him his how if im into is isnt it its ive just
    know like mrs missus my not now of off or our out she shes some than that the their them
    then there they this too very was what when where which who why will with wont would you
    your yes ok okay pls please thanks ta mate night sleep feed feeding bottle nappy help
    """.split()  # noqa: SIM905
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_URDU_LETTERS = frozenset("ٹڈڑںےۓہھگچپژکی")
# Letters that English never uses and that point to one language.
_LETTERS = {
    "pl": frozenset("ąćęłńśźżĄĆĘŁŃŚŹŻ"),
    "ro": frozenset("ăâîșşțţĂÂÎȘŞȚŢ"),
    "lt": frozenset("ėįųūčšžĖĮŲŪČŠŽ"),
    "pt": frozenset("ãõçÃÕÇ"),
    "es": frozenset("ñ¿¡Ñ"),
}


@lru_cache(maxsize=1)
def supported() -> frozenset[str]:
    """Language codes with a card (bot/safety/languages.yml)."""
    data = yaml.safe_load(LANGUAGES_PATH.read_text(encoding="utf-8")) or {}
    return frozenset((data.get("languages") or {}).keys())


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    identifier.set_languages(["en", *[code for code in LATIN if code in supported()]])
    return identifier


def _script(ch: str) -> str | None:
    code = ord(ch)
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return "arabic"
    if 0x0A00 <= code <= 0x0A7F:
        return "gurmukhi"
    if 0x0980 <= code <= 0x09FF:
        return "bengali"
    if 0x0A80 <= code <= 0x0AFF:
        return "gujarati"
    if ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
        return "latin"
    return "other"


def detect_language(text: str | None, english: Container[str] | None = None) -> str | None:
    """The code of a supported language other than English, or None.

    ``english`` is a vocabulary of English words (the safety layer passes its own, from
    spacy-lookups-data); with it, a message mostly made of English words is English.
    """
    if not text or not isinstance(text, str):
        return None
    text = unicodedata.normalize("NFC", text)
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < MIN_LETTERS:
        return None
    counts: dict[str, int] = {}
    for ch in letters:
        script = _script(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    script, count = max(counts.items(), key=lambda item: item[1])
    if count < 0.5 * len(letters):
        return None
    found = {
        "gurmukhi": "pa",
        "bengali": "bn",
        "gujarati": "gu",
        "arabic": "ur" if _URDU_LETTERS & set(letters) else "ar",
    }.get(script)
    if found:
        return found if found in supported() else None
    if script != "latin":
        return None
    return _latin_language(text, english)


def _latin_language(text: str, english: Container[str] | None) -> str | None:
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < MIN_LATIN_WORDS:
        return None
    if len(set(words) & ENGLISH_WORDS) >= 2:
        return None
    long_words = [w for w in words if len(w) >= 3]
    if english is not None and long_words:
        known = sum(1 for w in long_words if w in english)
        if known >= ENGLISH_SHARE * len(long_words):
            return None
    chars = set(text)
    marked = [code for code in LATIN if code in supported() and _LETTERS[code] & chars]
    if len(marked) == 1:
        return marked[0]
    code, probability = _identifier().classify(text)
    if code != "en" and code in supported() and float(probability) >= MODEL_MIN_PROBABILITY:
        return str(code)
    return None
