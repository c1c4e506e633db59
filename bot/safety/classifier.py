"""The safety layer's pure function: message text -> risk tier.

Deterministic and independent of Rasa, the action server, the database and any trained model.
Rules live in ``patterns.yml`` (data, reviewed like content). Each rule is a set of token patterns
in a small language that compiles to spaCy ``Matcher`` patterns:

    word       the word in any form (matched on its lemma: "breathe" matches "breathing")
    =word      exactly this form ("=shook" does not match "shake")
    a|=b|c     any of these
    (a b|c)    any of these sequences ("(my self|myself)"), words matched exactly as written;
               ``(...)?`` makes the group optional
    @SET       any word of a named set (``sets:`` in the YAML)
    _          any one token; ``_?`` an optional token; ``_{0,3}`` up to three tokens
    x?         the element is optional

A rule fires when one of its ``patterns`` matches, none of its ``unless`` patterns matches, none of
the named ``guards`` it lists matches, and (if given) one of its ``requires`` words is present.
A ``negatable`` rule ignores a match with a negation just before or inside it ("not blue",
"no fever", "i'd never shake him").
Temperatures are judged by number and age in code, with the thresholds kept in the YAML.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.matcher import Matcher

from bot.safety.backstop import Backstop, default_examples
from bot.safety.normalise import Normaliser
from bot.safety.tiers import Tier

PATTERNS_PATH = Path(__file__).with_name("patterns.yml")
_GAP = re.compile(r"^_\{(\d+),(\d+)\}$")
_RAW = "#expects-negation"


def _exact(word: str) -> str:
    """Mark a plain word as exact ("=word"); gaps, sets and marked words stay as they are."""
    if word.startswith(("=", "@", "_")) or _GAP.match(word):
        return word
    return "=" + word


_ELEMENT = re.compile(r"\([^()]*\)\??|\S+")


class PatternError(ValueError):
    """A pattern in patterns.yml cannot be compiled."""


@dataclass(frozen=True)
class SafetyResult:
    """What the safety layer found in one message.

    ``tier`` is the one to act on (highest precedence); ``tiers`` lists all that matched, most
    serious first; ``rules`` names the rules that fired (ids only: never the message text).
    """

    tier: Tier | None
    tiers: tuple[Tier, ...] = ()
    rules: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_red_flag(self) -> bool:
        return self.tier is not None


@dataclass
class _Rule:
    id: str
    tier: Tier
    requires: frozenset[str]
    guards: tuple[str, ...]
    negatable: bool = False


def _lookup_table(name: str) -> dict[str, Any]:
    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / f"en_{name}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


# Telegram allows 4,096 characters; REST clients may send more. Longer texts keep both ends.
MAX_CHARS = 10_000

# Words at least this common (log probability, from spacy-lookups-data) count as real English
# and are never "corrected" into a keyword: "responsible" must not become "responsive".
COMMON_WORD_LOGPROB = -15.0


class SafetyClassifier:
    """Compiles patterns.yml once; ``classify(text)`` is then cheap (about a millisecond)."""

    def __init__(self, patterns_path: Path | str = PATTERNS_PATH, backstop: bool = True) -> None:
        with open(patterns_path, encoding="utf-8") as fh:
            self.spec: dict[str, Any] = yaml.safe_load(fh)
        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        self.nlp.initialize()
        self._lemmas: dict[str, str] = _lookup_table("lemma_lookup")
        self.sets: dict[str, list[str]] = {
            k.upper(): [str(w) for w in v] for k, v in self.spec.get("sets", {}).items()
        }
        self._keywords: set[str] = set()
        self.rules: dict[str, _Rule] = {}
        self.matcher = Matcher(self.nlp.vocab)
        self.unless = Matcher(self.nlp.vocab)
        self.guards = Matcher(self.nlp.vocab)
        self._compile()
        known = set(self._lemmas) | set(self._lemmas.values())
        known |= {w for w, p in _lookup_table("lexeme_prob").items() if p > COMMON_WORD_LOGPROB}
        known |= {str(w) for w in self.spec.get("known_words", [])}
        self.normalise = Normaliser(self.spec.get("replacements", {}), self._keywords, known)
        self.temperature = self.spec.get("temperature", {})
        cfg = self.spec.get("backstop") or {}
        self._backstop_enabled = backstop and bool(cfg.get("enabled", False))
        self._backstop_cfg = cfg
        self._backstop: Backstop | None = None

    @property
    def backstop(self) -> Backstop | None:
        """The statistical back-up, fitted on first use (None when switched off)."""
        if self._backstop_enabled and self._backstop is None:
            self._backstop = Backstop(
                self.normalise,
                default_examples(),
                margin=float(self._backstop_cfg.get("margin", 0.3)),
                c=float(self._backstop_cfg.get("c", 0.5)),
            )
        return self._backstop

    # ----------------------------------------------------------------- compiling
    def lemma(self, word: str) -> str:
        return self._lemmas.get(word, word)

    def _alternatives(self, words: list[str]) -> list[dict[str, Any]]:
        """Token specs for "a|=b|c": one LEMMA spec and/or one LOWER spec (OR-ed by the caller)."""
        exact = [w[1:] for w in words if w.startswith("=")]
        loose = [w for w in words if not w.startswith("=")]
        self._keywords.update(exact)
        self._keywords.update(loose)
        specs: list[dict[str, Any]] = []
        if loose:
            lemmas = sorted({self.lemma(w) for w in loose} | set(loose))
            self._keywords.update(lemmas)
            specs.append({"LEMMA": {"IN": lemmas}})
        if exact:
            specs.append({"LOWER": {"IN": sorted(set(exact))}})
        return specs

    def compile_pattern(self, text: str, where: str) -> list[list[dict[str, Any]]]:
        """Compile one pattern string into Matcher patterns.

        Mixed ``a|=b`` elements and ``(x y|z)`` groups expand into several Matcher patterns.
        """
        variants = self._compile_sequence(str(text), where)
        for v in variants:
            if not any(t and t.get("OP") != "?" for t in v):
                raise PatternError(f"{where}: pattern needs at least one word: {text!r}")
        if len(variants) > 1024:
            raise PatternError(f"{where}: too many alternatives in {text!r}")
        return variants

    def _compile_sequence(self, text: str, where: str) -> list[list[dict[str, Any]]]:
        variants: list[list[dict[str, Any]]] = [[]]
        for element in _ELEMENT.findall(text):
            if element.startswith("("):
                optional = element.endswith("?")
                body = element[1 : -2 if optional else -1]
                # words inside a group match their exact form: "(was|been)" is not "(be)"
                alts = [[_exact(w) for w in a.split()] for a in body.split("|")]
                if all(len(a) == 1 and not _GAP.match(a[0]) for a in alts):
                    # a group of single words is just an alternation: one token, not many patterns
                    element = "|".join(a[0] for a in alts) + ("?" if optional else "")
                    variants = [
                        v + [o] for v in variants for o in self._word_options(element, where)
                    ]
                    continue
                singles = [a[0] for a in alts if len(a) == 1 and not _GAP.match(a[0])]
                options_seq: list[list[dict[str, Any]]] = [
                    [o] for o in (self._word_options("|".join(singles), where) if singles else [])
                ]
                for alt in (a for a in alts if not (len(a) == 1 and not _GAP.match(a[0]))):
                    options_seq += self._compile_sequence(" ".join(alt), where)
                if optional:
                    options_seq.append([])
                variants = [v + o for v in variants for o in options_seq]
                continue
            gap = _GAP.match(element)
            if gap:
                lo, hi = int(gap.group(1)), int(gap.group(2))
                if hi < lo or hi > 8:
                    raise PatternError(f"{where}: bad gap {element}")
                extra = [{} for _ in range(lo)] + [{"OP": "?"} for _ in range(hi - lo)]
                variants = [v + extra for v in variants]
                continue
            variants = [v + [o] for v in variants for o in self._word_options(element, where)]
        return variants

    def _word_options(self, element: str, where: str) -> list[dict[str, Any]]:
        """Token specs for one element: ``_``, ``word``, ``=word``, ``@SET``, ``a|b``, ``x?``."""
        optional = element.endswith("?") and len(element) > 1
        element = element[:-1] if optional else element
        if element == "_":
            options: list[dict[str, Any]] = [{}]
        else:
            words: list[str] = []
            for w in (w for w in element.split("|") if w):
                if w.startswith("@"):
                    if w[1:].upper() not in self.sets:
                        raise PatternError(f"{where}: unknown set {w}")
                    words += self.sets[w[1:].upper()]
                else:
                    words.append(w)
            options = self._alternatives(words)
        if optional:
            options = [{**o, "OP": "?"} for o in options]
        return options

    def _compile(self) -> None:
        for name, patterns in (self.spec.get("guards") or {}).items():
            compiled = [v for p in patterns for v in self.compile_pattern(p, f"guard {name}")]
            self.guards.add(f"guard:{name}", compiled)
        for tier_name, rules in (self.spec.get("tiers") or {}).items():
            tier = Tier(tier_name)
            for rule in rules:
                rid = rule["id"]
                if rid in self.rules:
                    raise PatternError(f"duplicate rule id {rid}")
                where = f"{tier_name}/{rid}"
                plain, negated = [], []
                for p in rule["patterns"]:
                    (negated if self._expects_negation(p) else plain).extend(
                        self.compile_pattern(p, where)
                    )
                if plain:
                    self.matcher.add(rid, plain)
                if negated:
                    self.matcher.add(rid + _RAW, negated)
                if rule.get("unless"):
                    unless = [v for p in rule["unless"] for v in self.compile_pattern(p, where)]
                    self.unless.add(rid, unless)
                guards = tuple(rule.get("guards", ()))
                unknown = [g for g in guards if g not in (self.spec.get("guards") or {})]
                if unknown:
                    raise PatternError(f"{where}: unknown guards {unknown}")
                requires = frozenset(self.lemma(w) for w in rule.get("requires", ()))
                self.rules[rid] = _Rule(rid, tier, requires, guards, bool(rule.get("negatable")))
        self._negations = {self.lemma(w.lstrip("=")) for w in self.sets.get("NEG", [])}
        pron = self.spec.get("pronouns") or {}
        self._partner_context = {self.lemma(w) for w in pron.get("partner_context", [])}
        self._baby_context = {self.lemma(w) for w in pron.get("baby_context", [])}
        self._pronoun_map = dict(pron.get("replace", {}))

    def _expects_negation(self, pattern: str) -> bool:
        """A pattern that itself asks for a negation ("not breathing") is never negated."""
        neg_words = {w.lstrip("=") for w in self.sets.get("NEG", [])}
        words = re.split(r"[\s|()?]+", pattern)
        return "@NEG" in pattern or any(w.lstrip("=") in neg_words for w in words)

    # ----------------------------------------------------------------- classifying
    def _doc(self, text: str):
        return self.nlp(self.normalise(text))

    def classify(self, text: str) -> SafetyResult:
        if not text or not text.strip():
            return SafetyResult(None)
        if len(text) > MAX_CHARS:
            # keep both ends: the urgent part of a long message is often its last line
            text = text[: MAX_CHARS // 2] + " . " + text[-MAX_CHARS // 2 :]
        doc = self._doc(text)
        doc = self._resolve_pronouns(doc)
        vocab = self.nlp.vocab.strings
        fired = set()
        for mid, start, end in self.matcher(doc):
            key = vocab[mid]
            rid = key.removesuffix(_RAW)
            if key == rid and self.rules[rid].negatable and self._negated(doc, start, end):
                continue
            fired.add(rid)
        blocked = {vocab[mid] for mid, _, _ in self.unless(doc)}
        guards = {vocab[mid].split(":", 1)[1] for mid, _, _ in self.guards(doc)}
        lemmas = {t.lemma_ for t in doc} | {t.lower_ for t in doc}
        hits: list[_Rule] = []
        for rid in sorted(fired - blocked):
            rule = self.rules[rid]
            if guards.intersection(rule.guards):
                continue
            if rule.requires and not rule.requires & lemmas:
                continue
            hits.append(rule)
        temp_rule, has_number, age = self._temperature_rule(doc.text, guards)
        if has_number or (age is not None and age >= 6):
            word_rules = set(self.temperature.get("word_rules", ()))
            hits = [r for r in hits if r.id not in word_rules]
        if temp_rule:
            hits.append(temp_rule)
        if not hits:
            if has_number or (age is not None and age >= 6):
                # a temperature was given (and judged), or the baby is older: the NHS
                # thresholds in the rules decide, not the statistics
                guards = guards | {"temperature_judged"}
            return self._ask_backstop(text, doc, guards)
        tiers = tuple(sorted({r.tier for r in hits}, key=lambda t: t.rank))
        return SafetyResult(tiers[0], tiers, tuple(sorted(r.id for r in hits)))

    def _ask_backstop(self, text: str, doc, guards: set[str]) -> SafetyResult:
        backstop = self.backstop
        if backstop is None or guards.intersection(self._backstop_cfg.get("guards", ())):
            return SafetyResult(None)
        if not self._looks_like_language(text, doc):
            return SafetyResult(None)  # statistics on code, numbers or junk mean nothing
        tier, margin = backstop.predict(text)
        if tier is None:
            return SafetyResult(None)
        if tier is Tier.URGENT and "temperature_judged" in guards:
            return SafetyResult(None)
        negated = any(t.lemma_ in self._negations or t.lower_ in self._negations for t in doc)
        if negated and margin < backstop.margin + float(self._backstop_cfg.get("negated_extra", 0)):
            # "she isnt floppy at all": the words of a red flag, denied; rules handle real
            # negative red flags ("not breathing"), so the statistics must be surer here
            return SafetyResult(None)
        return SafetyResult(tier, (tier,), ("backstop",))

    def _looks_like_language(self, text: str, doc) -> bool:
        """At least three real words, and mostly letters."""
        known = sum(1 for t in doc if t.is_alpha and t.lower_ in self.normalise.known)
        visible = sum(1 for ch in text if not ch.isspace())
        letters = sum(1 for ch in text if ch.isalpha())
        return known >= 3 and letters >= 0.6 * max(1, visible)

    def _resolve_pronouns(self, doc):
        """Read "she"/"her" as the partner when a partner or a row is mentioned and no baby is.

        "i grabbed her by the throat in an argument" is about a partner; "i shook her" is not.
        """
        if not self._pronoun_map:
            return doc
        lemmas = {t.lemma_ for t in doc} | {t.lower_ for t in doc}
        if not lemmas & self._partner_context or lemmas & self._baby_context:
            return doc
        words = [self._pronoun_map.get(t.lower_, t.text) for t in doc]
        return self.nlp(" ".join(words))

    def _negated(self, doc, start: int, end: int) -> bool:
        window = doc[max(0, start - 2) : end]
        return any(t.lemma_ in self._negations or t.lower_ in self._negations for t in window)

    # ----------------------------------------------------------------- temperatures
    _NUMBER = re.compile(r"(?<![\d.])(\d{2,3}(?:[.,]\d{1,2})?)(?![\d])")
    _AGE = re.compile(
        r"(\d+(?:[.,]5)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*"
        r"(day|days|week|weeks|wk|wks|month|months|mth|mths|mo|mos)\b"
    )
    _WORDNUM = {
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
        "six": 6,
        "seven": 7,
        "eight": 8,
        "nine": 9,
        "ten": 10,
        "eleven": 11,
        "twelve": 12,
    }

    def age_in_months(self, text: str) -> float | None:
        ages = []
        for num, unit in self._AGE.findall(text):
            n = self._WORDNUM.get(num)
            n = float(num.replace(",", ".")) if n is None else float(n)
            if unit.startswith("d"):
                ages.append(n / 30.4)
            elif unit.startswith("w"):
                ages.append(n / 4.35)
            else:
                ages.append(n)
        if ages:
            return min(ages)
        if re.search(r"\b(newborn|new born|new baby)\b", text):
            return 0.0
        return None

    def _temperature_rule(
        self, text: str, guards: set[str]
    ) -> tuple[_Rule | None, bool, float | None]:
        """Return (rule if the temperature is a red flag, whether a number was given, age)."""
        cfg = self.temperature
        age = self.age_in_months(text)
        if not cfg:
            return None, False, age
        words = cfg.get("words", [])
        numbers = self._NUMBER.findall(text)
        if not any(w in f" {text} " for w in words):
            # "37.9 an hour ago now 38.3": a one-decimal number from 35 to 43 is a temperature
            numbers = [n for n in numbers if re.fullmatch(r"(3[5-9]|4[0-3])[.,]\d", n)]
            if not numbers:
                return None, False, age
        not_body = cfg.get("not_body", [])
        if not_body:
            near = re.compile(rf"\b({'|'.join(map(re.escape, not_body))})\b[^.?!]{{0,25}}$")
            numbers = [n for n in numbers if not near.search(text[: text.find(n)]) or n not in text]
        celsius = []
        for raw in numbers:
            value = float(raw.replace(",", "."))
            lo_f, hi_f = cfg.get("fahrenheit_range", [95, 110])
            if lo_f <= value <= hi_f:
                value = (value - 32) * 5 / 9
            if 34 <= value <= 44:
                celsius.append(value)
        if not celsius:
            return None, False, age
        if guards.intersection(cfg.get("guards", ())):
            return None, True, age
        if age is None:
            limit = cfg["unknown_age"]
        elif age < 3:
            limit = cfg["under_3_months"]
        elif age < 6:
            limit = cfg["from_3_to_6_months"]
        else:
            return None, True, age
        if max(celsius) >= limit:
            rule = _Rule(cfg.get("id", "temperature"), Tier(cfg["tier"]), frozenset(), ())
            return rule, True, age
        return None, True, age


@lru_cache(maxsize=1)
def default_classifier() -> SafetyClassifier:
    return SafetyClassifier()


def classify(text: str) -> SafetyResult:
    """Classify one message with the project's patterns (compiled once per process)."""
    return default_classifier().classify(text)
