"""The safety layer's pure function on the cases the product brief names, and its mechanics."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.safety.backstop import Backstop, mask_negations
from bot.safety.classifier import PatternError, SafetyClassifier, default_classifier
from bot.safety.tiers import PRECEDENCE, Tier


@pytest.fixture(scope="module")
def full() -> SafetyClassifier:
    return default_classifier()


@pytest.fixture(scope="module")
def rules() -> SafetyClassifier:
    return SafetyClassifier(backstop=False)


def tier_of(classifier: SafetyClassifier, text: str) -> str | None:
    result = classifier.classify(text)
    return result.tier.value if result.tier else None


@pytest.mark.parametrize(
    "text",
    [
        "he's breathing fine now",
        "is it normal that she cries every evening?",
        "what is shaken baby syndrome?",
        "I'd never shake him",
        "when should i call 999",
        "what temperature is a fever in a baby",
        "this nappy is killing me",
        "i'm dead on my feet",
        "the baby monitor died",
        "she fell asleep on my chest",
        "how do i hold a newborn",
        "what do i do when i get angry with the baby",
        "is it normal to feel angry at the baby sometimes",
        "he hit his head on my chin lol he's fine",
        "she kicked me in the face during a nappy change",
    ],
)
def test_ordinary_messages_do_not_escalate(full: SafetyClassifier, text: str) -> None:
    assert tier_of(full, text) is None


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("she isnt breathing", "emergency"),
        ("cant wake him", "emergency"),
        ("hes gone blue", "emergency"),
        ("I shook her", "emergency"),
        ("i think i hurt him", "emergency"),
        ("HES NOT BREATHING HELP", "emergency"),
        ("hes not breathin", "emergency"),
        ("shes havin a siezure", "emergency"),
        ("he fell off the bed and hit his head", "emergency"),
        ("rash that doesnt fade under a glass", "emergency"),
        ("temp is 38.2 and hes 6 weeks", "urgent"),
        ("she wont feed and has had 1 wet nappy all day", "urgent"),
        ("his soft spot is bulging", "urgent"),
        ("I'm going to lose it", "edge"),
        ("I could throw him", "edge"),
        ("I want to shake her to make it stop", "edge"),
        ("I can't take the crying any more", "edge"),
        ("I'm so angry with the baby", "edge"),
        ("I want to end it", "self_harm"),
        ("they'd be better off without me", "self_harm"),
        ("i hit my missus last night", "abuse"),
        ("my partner hits me", "abuse"),
        ("i think the childminder hurts him", "harm_by_other"),
        ("he wont wake up at all", "emergency"),
        ("my partner is violent", "abuse"),
        ("i'm scared of what i might do to my wife", "abuse"),
        ("i feel like jumping off something", "self_harm"),
    ],
)
def test_rules_alone_catch_the_brief_examples(
    rules: SafetyClassifier, text: str, tier: str
) -> None:
    assert tier_of(rules, text) == tier


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("temp 38.0 and hes 6 weeks old", "urgent"),  # under 3 months: 38C or more
        ("temp is 37.6, hes 6 weeks", None),
        ("4 month old has a temp of 38.5", None),  # 3 to 6 months: 39C or more
        ("4 month old has a temp of 39.1", "urgent"),
        ("8 month old, temperature 38.5 and teething", None),
        ("newborn is 101 F", "urgent"),  # Fahrenheit
        ("was 37.9 an hour ago now 38.3", "urgent"),  # a decimal temperature without the word
    ],
)
def test_temperatures_are_judged_by_age(rules: SafetyClassifier, text: str, expected) -> None:
    assert tier_of(rules, text) == expected


def test_the_most_serious_tier_wins_and_all_are_reported(full: SafetyClassifier) -> None:
    result = full.classify("i shook him and now i want to kill myself")
    assert result.tier is Tier.EMERGENCY
    assert result.tiers[:2] == (Tier.EMERGENCY, Tier.SELF_HARM)
    assert list(result.tiers) == sorted(result.tiers, key=PRECEDENCE.index)


def test_results_carry_rule_names_not_message_text(full: SafetyClassifier) -> None:
    text = "my baby is not breathing at all"
    result = full.classify(text)
    assert result.rules and all(text not in rule for rule in result.rules)
    assert full.classify(text) == result  # deterministic


@pytest.mark.parametrize("text", ["", "   ", "😭😭", "12345", "<b>hi</b>", "a" * 5000, "\x00\xff"])
def test_odd_input_never_raises_or_escalates(full: SafetyClassifier, text: str) -> None:
    assert full.classify(text).tier is None


def test_normaliser_expands_txt_speak_and_fixes_keyword_typos(rules: SafetyClassifier) -> None:
    assert rules.normalise("cant wake him up") == "can not wake him up"
    assert rules.normalise("hes not brething") == "he is not breathing"
    # a real English word is never "corrected" into a keyword
    assert "responsible" in rules.normalise("im not responsible for this")


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ("tiers:\n  emergency:\n    - id: a\n      patterns: ['@NOSUCHSET']\n", "unknown set"),
        ("tiers:\n  emergency:\n    - id: a\n      patterns: ['x _{0,99}']\n", "bad gap"),
        ("tiers:\n  emergency:\n    - id: a\n      patterns: ['_?']\n", "at least one word"),
        (
            "tiers:\n  emergency:\n    - {id: a, patterns: [x]}\n    - {id: a, patterns: [y]}\n",
            "duplicate rule id",
        ),
        ("tiers:\n  emergency:\n    - {id: a, patterns: [x], guards: [nope]}\n", "unknown guards"),
        (
            "tiers:\n  emergency:\n    - {id: a, patterns: [x], yields_to: [nope]}\n",
            "yields_to names an unknown tier",
        ),
    ],
)
def test_broken_patterns_fail_loudly(tmp_path: Path, patterns: str, message: str) -> None:
    path = tmp_path / "patterns.yml"
    path.write_text(patterns, encoding="utf-8")
    with pytest.raises(PatternError, match=message):
        SafetyClassifier(path, backstop=False)


def test_backstop_learns_and_respects_its_margin() -> None:
    examples = [("i feel like the walls are closing in on me and i want out", "self_harm")] * 3
    examples += [
        ("what is a good bedtime routine", "none"),
        ("how warm should the bath be", "none"),
    ]
    examples += [("best pram for a newborn", "none"), ("tips for winding", "none")]
    backstop = Backstop(str.lower, examples, margin=0.0)
    tier, margin = backstop.predict("the walls are closing in and i want out")
    assert tier is Tier.SELF_HARM and margin > 0
    strict = Backstop(str.lower, examples, margin=99.0)
    assert strict.predict("the walls are closing in and i want out")[0] is None


def test_negations_are_masked_for_the_backstop() -> None:
    assert "floppy" not in mask_negations("she isnt floppy at all")
    assert "chilled" in mask_negations("she isnt floppy at all just chilled")


# --------------------------------------------------------------------------- issue 11
@pytest.mark.parametrize(
    ("text", "tier", "who"),
    [
        # the rest of the family
        ("my wife is 38 weeks and has collapsed on the bathroom floor", "emergency", "partner"),
        (
            "she gave birth an hour ago at home and shes bleeding really heavily",
            "emergency",
            "partner",
        ),
        ("crushing pain in my chest and my left arm has gone numb", "emergency", "self"),
        ("ive taken a whole box of paracetamol", "emergency", "self"),
        ("we've just had a car crash with the baby in the back", "emergency", "accident"),
        ("the kitchen is on fire and the baby is upstairs", "emergency", "accident"),
        ("my toddler fell in the pond, ive got him out", "emergency", "accident"),
        ("his face has dropped on one side and his words are slurred", "emergency", "partner"),
    ],
)
def test_emergencies_beyond_the_baby_get_999_worded_for_who_is_in_danger(
    rules: SafetyClassifier, text: str, tier: str, who: str
) -> None:
    result = rules.classify(text)
    assert (result.tier.value if result.tier else None, result.who) == (tier, who)


@pytest.mark.parametrize(
    "text",
    [
        "shes 35 weeks with a splitting headache and flashing lights in her eyes",
        "the baby hasnt moved since last night and shes 33 weeks",
        "i think her waters have gone and shes only 32 weeks",
        "she had the baby 6 days ago and now shes shivering and burning up",
        "2 weeks after the section her calf is red swollen and sore",
    ],
)
def test_pregnancy_and_after_birth_warning_signs_are_maternity(
    rules: SafetyClassifier, text: str
) -> None:
    assert tier_of(rules, text) == "maternity"


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("i saw the childminder smack him across the legs", "harm_by_other"),
        (
            "he comes back with bruises every time he stays at his mums new boyfriends",
            "harm_by_other",
        ),
        ("she throws things at me and says she'll tell the police i hit her", "abuse"),
        ("i punched the wall next to the cot, hes still screaming", "edge"),
        ("when we row i stand in the doorway so she cant leave", "abuse"),
    ],
)
def test_someone_else_hurting_the_baby_men_as_victims_and_walls_by_the_cot(
    rules: SafetyClassifier, text: str, tier: str
) -> None:
    assert tier_of(rules, text) == tier


def test_rough_handling_with_the_baby_fine_is_the_edge_with_checking(
    rules: SafetyClassifier,
) -> None:
    result = rules.classify("i grabbed him too hard, he seems ok")
    assert (result.tier, result.kind) == (Tier.EDGE, "check")
    hurt = rules.classify("i grabbed him too hard and now theres a bruise on his arm")
    assert hurt.tier is Tier.EMERGENCY


@pytest.mark.parametrize(
    "text",
    [
        "my mates baby stopped breathing once, how common is that",
        "when our first was born he had a fit but hes 6 now",
        "im not suicidal, just really tired",
        "what would i do if she choked",
        "she fell off the bed on saturday, we took her to a and e and they said shes fine",
        "she'll kill me if i wake him",
        "drowning in washing tonight",
        "he had an accident in his nappy lol",
    ],
)
def test_stories_hypotheticals_and_figures_of_speech_are_not_red_flags(
    full: SafetyClassifier, text: str
) -> None:
    assert tier_of(full, text) is None


def test_a_red_flag_buried_in_a_long_message_is_found_whatever_the_rest_asks(
    rules: SafetyClassifier,
) -> None:
    question = "how much formula should a ten week old be having, and how often? "
    assert tier_of(rules, question * 3) is None
    long = question * 3 + "to be honest im so close to shaking him tonight. " + question * 3
    assert tier_of(rules, long) == "edge"


def test_the_age_beside_a_temperature_is_read_as_the_age_form_reads_it(
    rules: SafetyClassifier,
) -> None:
    from bot.parsing.age import parse_baby_age_weeks

    assert parse_baby_age_weeks("fourteen weeks") == 14.0
    assert tier_of(rules, "fourteen weeks old, temp 38.5") is None  # 3-6 months: 39C
    assert tier_of(rules, "six weeks old, temp 38.5") == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "moje dziecko nie oddycha",
        "copilul meu nu respiră",
        "mi bebé no respira, tiene los labios morados",
        "طفلي لا يتنفس",
        "Dzwonię na 999 ale nikt nie odbiera",
    ],
)
def test_an_emergency_in_another_language_is_an_emergency(
    full: SafetyClassifier, text: str
) -> None:
    assert tier_of(full, text) == "emergency"


def test_an_ordinary_question_in_another_language_is_not(full: SafetyClassifier) -> None:
    assert tier_of(full, "moje dziecko dużo płacze w nocy, czy to normalne") is None
    assert tier_of(full, "Ar galima kūdikį migdyti ant pilvuko, kad neužspringtų") is None


def test_every_pattern_passes_spacys_own_schema_check() -> None:
    """The server skips spaCy's pattern validation at start-up (seconds); this runs it."""
    strict = SafetyClassifier(backstop=False, validate=True)
    assert strict.classify("hes not breathing").tier is Tier.EMERGENCY


MECHANICS = """
tiers:
  emergency:
    - id: rash
      patterns: ["rash _{0,3} (purple)"]
      unless: ["nappy"]
    - id: blood
      patterns: ["blood everywhere"]
      unless_sentence: ["@PARTNER"]
  edge:
    - id: temper
      yields_to: [abuse]
      patterns: ["lose it"]
  abuse:
    - id: wall
      patterns: ["pinned her _{0,2} wall"]
sets:
  PARTNER: [missus, wife]
"""


@pytest.fixture(scope="module")
def mechanics(tmp_path_factory: pytest.TempPathFactory) -> SafetyClassifier:
    path = tmp_path_factory.mktemp("patterns") / "patterns.yml"
    path.write_text(MECHANICS, encoding="utf-8")
    return SafetyClassifier(path, backstop=False)


def test_an_unless_blocks_only_near_its_match(mechanics: SafetyClassifier) -> None:
    # one voice-to-text run-on: the word that excuses a match counts only close to it
    assert tier_of(mechanics, "rash gone purple by the nappy") is None
    far = "changed his nappy and fed him and winded him and put him down and now theres a rash"
    assert tier_of(mechanics, far + " gone purple") == "emergency"


def test_an_unless_sentence_blocks_its_whole_sentence_only(mechanics: SafetyClassifier) -> None:
    text = "the missus is fine, she had the baby last week and there is blood everywhere"
    assert tier_of(mechanics, text) is None
    assert tier_of(mechanics, "the missus is fine. there is blood everywhere") == "emergency"


def test_a_rule_that_yields_stands_down_for_the_tier_it_names(
    mechanics: SafetyClassifier,
) -> None:
    assert tier_of(mechanics, "im going to lose it") == "edge"
    result = mechanics.classify("i pinned her to the wall, im going to lose it")
    assert result.tier is Tier.ABUSE
    assert result.rules == ("wall",)
