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

A message is read sentence by sentence (split at . ! ? ; and line breaks). A rule fires when one of
its ``patterns`` matches, none of its ``unless`` patterns matches within UNLESS_WINDOW words of
it in the same sentence (nor an ``unless_sentence`` pattern anywhere in that sentence, nor an
``unless_anywhere`` pattern anywhere in the message), none of the
named ``guards`` it lists matches in the same sentence within GUARD_WINDOW words of the match,
and (if given) one of its ``requires`` words is somewhere in the message. So "how much should he
have at 10 weeks? i'm going to lose it and shake him" is still at the edge: the question guards
its own sentence, not the whole message. The most serious tier found in any sentence wins.
A ``negatable`` rule ignores a match with a negation just before or inside it ("not blue",
"no fever", "i'd never shake him"). ``tier_guards`` adds guards to every rule of a tier.
A rule with ``yields_to: [tier]`` stands down when a rule of that tier also fires ("scared of
what i'll do" beside pinning his partner to the wall is abuse, not the edge with the baby).
A rule may say ``who`` is in danger (emergencies: baby, partner, self, accident) and what
``kind`` of reply fits (``check``: the dad was rough and the baby seems fine).
Temperatures are judged by number and age in code (ages by ``bot.parsing.age``, shared with the
age form), with the thresholds kept in the YAML. In a message that ``bot.nlu.language`` reads as
another language, emergency phrases from ``languages.yml`` are matched on the raw text (and 999
or 112 counts), so "nie oddycha" gets 999 too.

Speed: each compiled pattern is filed under its rarest required word, and a message only runs
the patterns whose word it contains; ``unless`` patterns run only for rules that matched.
A 5,000-character message takes a few tens of milliseconds instead of most of a second.
"""

from __future__ import annotations

import bisect
import gzip
import json
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import spacy
import yaml
from spacy.matcher import Matcher

from bot.nlu.language import detect_language
from bot.parsing.age import ages_in_weeks
from bot.safety.backstop import Backstop, default_examples
from bot.safety.context import FollowUps
from bot.safety.normalise import Normaliser
from bot.safety.tiers import EMERGENCY_WHO, Tier

PATTERNS_PATH = Path(__file__).with_name("patterns.yml")
LANGUAGES_PATH = Path(__file__).with_name("languages.yml")
# A guard ("what if", "how do i") silences a rule only this close to its match, in its sentence.
GUARD_WINDOW = 12
# An unless pattern blocks a match this near it (a voice-to-text run-on is one long sentence:
# "car seat" early on must not excuse "going to lose it with him" at the end).
UNLESS_WINDOW = 12
SENTENCE_END = frozenset({".", "!", "?", ";"})
# No compiled pattern is longer than this many tokens (the longest gaps are 16): a match that
# holds a word lies within this distance of it.
MAX_PATTERN_TOKENS = 48
WEEKS_PER_MONTH = 4.35
_EMERGENCY_NUMBER = re.compile(r"(?<!\d)(999|112)(?!\d)")
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
    who: str | None = None  # emergencies: who is in danger (EMERGENCY_WHO)
    kind: str | None = None  # a variant of the tier's reply ("check")

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
    who: str | None = None
    kind: str | None = None
    yields_to: frozenset[Tier] = frozenset()


@dataclass(frozen=True)
class _ForeignPhrase:
    rule: str
    text: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return _phrase_pattern(self.text)


@lru_cache(maxsize=4096)
def _phrase_pattern(text: str) -> re.Pattern[str]:
    """A phrase in Latin script must start a word (Lithuanian and Polish negate by a prefix:
    "neužspringsta", "does not choke"); in Arabic script it may follow a prefix letter ("و")."""
    if text[:1].isascii() or unicodedata.name(text[0], "").startswith("LATIN"):
        return re.compile(r"(?<!\w)" + re.escape(text))
    return re.compile(re.escape(text))


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
# Words this common (or with an English lemma) count as English when telling a message's
# language: web-text frequency lists also hold common Spanish or Polish words below it.
ENGLISH_WORD_LOGPROB = -12.0


class SafetyClassifier:
    """Compiles patterns.yml once; ``classify(text)`` is then cheap (about a millisecond)."""

    def __init__(
        self,
        patterns_path: Path | str = PATTERNS_PATH,
        backstop: bool = True,
        languages_path: Path | str | None = LANGUAGES_PATH,
        validate: bool = False,
    ) -> None:
        # spaCy's schema check of every token pattern takes seconds at start-up; the tests run
        # it once (validate=True), so a pattern it would refuse never reaches a running server
        self.validate = validate
        with open(patterns_path, encoding="utf-8") as fh:
            self.spec: dict[str, Any] = yaml.safe_load(fh)
        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        self.nlp.initialize()
        self._lemmas: dict[str, str] = _lookup_table("lemma_lookup")
        self._probs: dict[str, float] = _lookup_table("lexeme_prob")
        self.sets: dict[str, list[str]] = {
            k.upper(): [str(w) for w in v] for k, v in self.spec.get("sets", {}).items()
        }
        self._keywords: set[str] = set()
        self.rules: dict[str, _Rule] = {}
        # pattern groups by their two rarest required words: (anchors, Matcher)
        self._groups: list[tuple[tuple[tuple[str, frozenset[str]], ...], Matcher]] = []
        self._unless: dict[str, Matcher] = {}  # blocks a match near it, in its sentence
        self._unless_sentence: dict[str, Matcher] = {}  # blocks a match in its own sentence
        self._unless_anywhere: dict[str, Matcher] = {}  # blocks the rule for the whole message
        self._compile()
        known = set(self._lemmas) | set(self._lemmas.values())
        known |= {w for w, p in self._probs.items() if p > COMMON_WORD_LOGPROB}
        known |= {str(w) for w in self.spec.get("known_words", [])}
        self.normalise = Normaliser(self.spec.get("replacements", {}), self._keywords, known)
        self.english = set(self._lemmas) | set(self._lemmas.values())
        self.english |= {w for w, p in self._probs.items() if p > ENGLISH_WORD_LOGPROB}
        self.english |= {str(w) for w in self.spec.get("known_words", [])}
        self.temperature = self.spec.get("temperature", {})
        self._foreign = _load_foreign_phrases(languages_path)
        self.followups = FollowUps(self.spec.get("context") or {}, self)
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
                if hi < lo or hi > 16:
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
        guard_specs = self.spec.get("guards") or {}
        guard_groups: dict[
            tuple[tuple[str, frozenset[str]], ...], list[tuple[str, list[dict[str, Any]]]]
        ] = defaultdict(list)
        for name, patterns in guard_specs.items():
            for p in patterns:
                for variant in self.compile_pattern(p, f"guard {name}"):
                    guard_groups[self._anchor(variant)].append((f"guard:{name}", variant))
        self._guard_groups = self._grouped(guard_groups)
        tier_guards = self.spec.get("tier_guards") or {}
        grouped: dict[
            tuple[tuple[str, frozenset[str]], ...], list[tuple[str, list[dict[str, Any]]]]
        ] = defaultdict(list)
        for tier_name, rules in (self.spec.get("tiers") or {}).items():
            tier = Tier(tier_name)
            for rule in rules:
                rid = rule["id"]
                if rid in self.rules:
                    raise PatternError(f"duplicate rule id {rid}")
                where = f"{tier_name}/{rid}"
                for p in rule["patterns"]:
                    key = rid + _RAW if self._expects_negation(p) else rid
                    for variant in self.compile_pattern(p, where):
                        grouped[self._anchor(variant)].append((key, variant))
                for field_name, store in (
                    ("unless", self._unless),
                    ("unless_sentence", self._unless_sentence),
                    ("unless_anywhere", self._unless_anywhere),
                ):
                    if rule.get(field_name):
                        compiled = [
                            v for p in rule[field_name] for v in self.compile_pattern(p, where)
                        ]
                        matcher = Matcher(self.nlp.vocab, validate=self.validate)
                        matcher.add(rid, compiled)
                        store[rid] = matcher
                guards = tuple(rule.get("guards", ())) + tuple(tier_guards.get(tier_name, ()))
                unknown = [g for g in guards if g not in guard_specs]
                if unknown:
                    raise PatternError(f"{where}: unknown guards {unknown}")
                who = rule.get("who")
                if who is not None and who not in EMERGENCY_WHO:
                    raise PatternError(f"{where}: who must be one of {EMERGENCY_WHO}")
                requires = frozenset(self.lemma(w) for w in rule.get("requires", ()))
                try:
                    yields_to = frozenset(Tier(t) for t in rule.get("yields_to", ()))
                except ValueError as exc:
                    raise PatternError(f"{where}: yields_to names an unknown tier") from exc
                self.rules[rid] = _Rule(
                    rid,
                    tier,
                    requires,
                    tuple(dict.fromkeys(guards)),
                    bool(rule.get("negatable")),
                    who,
                    rule.get("kind"),
                    yields_to,
                )
        self._groups = self._grouped(grouped)
        self._negations = {self.lemma(w.lstrip("=")) for w in self.sets.get("NEG", [])}
        pron = self.spec.get("pronouns") or {}
        self._partner_context = {self.lemma(w) for w in pron.get("partner_context", [])}
        self._baby_context = {self.lemma(w) for w in pron.get("baby_context", [])}
        self._pronoun_map = dict(pron.get("replace", {}))

    def _grouped(
        self,
        grouped: dict[
            tuple[tuple[str, frozenset[str]], ...], list[tuple[str, list[dict[str, Any]]]]
        ],
    ) -> list[tuple[tuple[tuple[str, frozenset[str]], ...], Matcher]]:
        """One Matcher per anchor pair, holding every pattern (by key) filed under it."""
        groups = []
        for anchors, items in grouped.items():
            matcher = Matcher(self.nlp.vocab, validate=self.validate)
            by_key: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
            for key, variant in items:
                by_key[key].append(variant)
            for key, variants in by_key.items():
                matcher.add(key, variants)
            groups.append((anchors, matcher))
        return groups

    def _anchor(self, variant: list[dict[str, Any]]) -> tuple[tuple[str, frozenset[str]], ...]:
        """The two rarest words a pattern cannot match without (one if it has only one):
        ((LEMMA|LOWER, word list), ...), rarest first."""
        specs: list[tuple[float, str, frozenset[str]]] = []
        for spec in variant:
            if spec.get("OP") == "?":
                continue
            for attr in ("LEMMA", "LOWER"):
                if attr in spec:
                    words = frozenset(spec[attr]["IN"])
                    # how often a token would carry one of these words, summed
                    weight = sum(math.exp(self._probs.get(w, -20.0)) for w in words)
                    specs.append((weight, attr, words))
        if not specs:  # compile_pattern guarantees a required word, so this is a bug
            raise PatternError(f"pattern without a required word: {variant}")
        specs.sort(key=lambda item: (item[0], item[1], sorted(item[2])))
        return tuple((attr, words) for _, attr, words in specs[:2])

    def _expects_negation(self, pattern: str) -> bool:
        """A pattern that itself asks for a negation ("not breathing") is never negated."""
        neg_words = {w.lstrip("=") for w in self.sets.get("NEG", [])}
        words = re.split(r"[\s|()?]+", pattern)
        return "@NEG" in pattern or any(w.lstrip("=") in neg_words for w in words)

    # ----------------------------------------------------------------- classifying
    def _doc(self, text: str):
        # line breaks end sentences (the normaliser joins everything with spaces)
        return self.nlp(self.normalise(re.sub(r"[\r\n]+", " . ", text)))

    def _matches(self, doc, groups=None) -> list[tuple[str, int, int]]:
        """(key, start, end) of every pattern that matches: rules, or the ``groups`` given.

        Only the groups whose anchor word occurs are run, and each only on the stretch of text
        around its anchor's occurrences (a pattern holding the anchor cannot reach further than
        MAX_PATTERN_TOKENS from it), so a long message costs little more than a short one.
        """
        lemmas = [t.lemma_ for t in doc]
        lowers = [t.lower_ for t in doc]
        where: dict[str, list[int]] = defaultdict(list)
        for i, (lemma, lower) in enumerate(zip(lemmas, lowers, strict=True)):
            where["L:" + lemma].append(i)
            where["W:" + lower].append(i)
        vocab = self.nlp.vocab.strings
        found: set[tuple[str, int, int]] = set()
        reach = MAX_PATTERN_TOKENS

        def positions(attr: str, words: frozenset[str]) -> list[int]:
            prefix = "L:" if attr == "LEMMA" else "W:"
            return sorted(i for w in words for i in where.get(prefix + w, ()))

        for anchors, matcher in self._groups if groups is None else groups:
            hits = positions(*anchors[0])
            if not hits:
                continue
            if len(anchors) > 1:
                # the second word must be close enough to the first to share a match with it
                second = positions(*anchors[1])
                if not second:
                    continue
                hits = [i for i in hits if _near(second, i, reach)]
                if not hits:
                    continue
            windows: list[list[int]] = []
            for i in hits:
                lo, hi = max(0, i - reach), min(len(doc), i + reach + 1)
                if windows and lo <= windows[-1][1]:
                    windows[-1][1] = max(windows[-1][1], hi)
                else:
                    windows.append([lo, hi])
            for lo, hi in windows:
                span = doc[lo:hi]
                found.update((vocab[mid], lo + s, lo + e) for mid, s, e in matcher(span))
        return sorted(found)

    @staticmethod
    def _sentences(doc) -> list[int]:
        """The sentence number of every token."""
        ids, current = [], 0
        for token in doc:
            ids.append(current)
            if token.text in SENTENCE_END:
                current += 1
        return ids

    def classify(self, text: str) -> SafetyResult:
        if not text or not text.strip():
            return SafetyResult(None)
        if len(text) > MAX_CHARS:
            # keep both ends: the urgent part of a long message is often its last line
            text = text[: MAX_CHARS // 2] + " . " + text[-MAX_CHARS // 2 :]
        doc = self._doc(text)
        doc = self._resolve_pronouns(doc)
        sentence = self._sentences(doc)
        spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for key, start, end in self._matches(doc):
            rid = key.removesuffix(_RAW)
            if key == rid and self.rules[rid].negatable and self._negated(doc, start, end):
                continue
            spans[rid].append((start, end))
        for rid in list(spans):
            anywhere = self._unless_anywhere.get(rid)
            if anywhere is not None and anywhere(doc):
                spans[rid] = []
                continue
            matcher = self._unless_sentence.get(rid)
            if matcher is not None:
                blocked = {sentence[start] for _, start, _ in matcher(doc)}
                spans[rid] = [s for s in spans[rid] if sentence[s[0]] not in blocked]
            matcher = self._unless.get(rid)
            if matcher is not None:
                blocks = [(start, end) for _, start, end in matcher(doc)]
                spans[rid] = [s for s in spans[rid] if not self._blocked(s, blocks, sentence)]
        guard_hits: list[tuple[str, int, int]] = [
            (key.split(":", 1)[1], start, end)
            for key, start, end in self._matches(doc, self._guard_groups)
        ]
        guards = {name for name, _, _ in guard_hits}
        lemmas = {t.lemma_ for t in doc} | {t.lower_ for t in doc}
        hits: list[_Rule] = []
        for rid in sorted(spans):
            rule = self.rules[rid]
            kept = [
                s for s in spans[rid] if not self._guarded(s, rule.guards, guard_hits, sentence)
            ]
            if not kept:
                continue
            if rule.requires and not rule.requires & lemmas:
                continue
            hits.append(rule)
        hits += self._foreign_hits(text)
        found = {r.tier for r in hits}
        hits = [r for r in hits if not r.yields_to & found]
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
        top = [r for r in hits if r.tier is tiers[0]]
        whos = {r.who for r in top if r.who}
        who = next((w for w in EMERGENCY_WHO if w in whos), None)
        if tiers[0] is Tier.EMERGENCY and who is None:
            who = "baby"
        kinds = sorted({r.kind for r in top if r.kind})
        return SafetyResult(
            tiers[0],
            tiers,
            tuple(sorted(r.id for r in hits)),
            who=who,
            kind=kinds[0] if kinds else None,
        )

    @staticmethod
    def _close_in_sentence(
        span: tuple[int, int], others: Iterable[tuple[int, int]], sentence: list[int], window: int
    ) -> bool:
        """One of ``others`` lies in the sentence of ``span``, within ``window`` words of it."""
        start, end = span
        return any(
            sentence[o_start] == sentence[start] and max(o_start - end, start - o_end, 0) <= window
            for o_start, o_end in others
        )

    def _blocked(
        self, span: tuple[int, int], blocks: list[tuple[int, int]], sentence: list[int]
    ) -> bool:
        """An ``unless`` pattern matched in the same sentence, within UNLESS_WINDOW words."""
        return self._close_in_sentence(span, blocks, sentence, UNLESS_WINDOW)

    def _guarded(
        self,
        span: tuple[int, int],
        names: tuple[str, ...],
        guard_hits: list[tuple[str, int, int]],
        sentence: list[int],
    ) -> bool:
        """A listed guard matched in the same sentence, within GUARD_WINDOW words of ``span``."""
        listed = ((g_start, g_end) for name, g_start, g_end in guard_hits if name in names)
        return self._close_in_sentence(span, listed, sentence, GUARD_WINDOW)

    def language(self, text: str) -> str | None:
        """The language of a message that is not English (bot.nlu.language), read with this
        classifier's English vocabulary."""
        return detect_language(text, self.english)

    def _foreign_hits(self, text: str) -> list[_Rule]:
        """Emergency phrases in a message written in another language (any of them: a
        Spanish message read as Portuguese still counts), and 999 or 112 written in it."""
        if not self._foreign or self.language(text) is None:
            return []
        folded = " " + " ".join(unicodedata.normalize("NFKC", text).lower().split()) + " "
        # a phrase starts a word: Lithuanian "neužspringsta" (does not choke) is not "užspring"
        fired = {p.rule for p in self._foreign if p.pattern.search(folded)}
        if _EMERGENCY_NUMBER.search(folded):
            fired.add("emergency_number_other_language")
        return [_Rule(rid, Tier.EMERGENCY, frozenset(), (), who="baby") for rid in sorted(fired)]

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

    @staticmethod
    def age_in_months(text: str) -> float | None:
        """The youngest age in the message, in months (bot.parsing.age, as the age form)."""
        ages = ages_in_weeks(text)
        return min(ages) / WEEKS_PER_MONTH if ages else None

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


def _near(sorted_positions: list[int], i: int, reach: int) -> bool:
    """Whether some position lies within ``reach`` of ``i``."""
    k = bisect.bisect_left(sorted_positions, i - reach)
    return k < len(sorted_positions) and sorted_positions[k] <= i + reach


def _load_foreign_phrases(path: Path | str | None) -> list[_ForeignPhrase]:
    """Emergency phrases by language from languages.yml (none if the file is absent)."""
    if path is None or not Path(path).is_file():
        return []
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    phrases = []
    for code, entry in (data.get("languages") or {}).items():
        for phrase in entry.get("emergency_phrases") or []:
            folded = " ".join(unicodedata.normalize("NFKC", str(phrase)).lower().split())
            if folded:
                phrases.append(_ForeignPhrase(f"emergency_words_{code}", folded))
    return phrases


@lru_cache(maxsize=1)
def default_classifier() -> SafetyClassifier:
    return SafetyClassifier()


def classify(text: str) -> SafetyResult:
    """Classify one message with the project's patterns (compiled once per process)."""
    return default_classifier().classify(text)
