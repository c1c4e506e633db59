"""Ages in free text: one parser for the age form and the safety layer.

``parse_baby_age_weeks`` reads a dad's answer to "how old is your baby?" ("6 weeks", "a month
and a half", "fourteen weeks", "not born yet"); ``ages_in_weeks`` finds every age-like amount
inside any message ("my fourteen week old has 38.5"), which the safety layer uses to pick the
NHS temperature threshold. Both read number words up to "fifty-nine" the same way.
"""

from __future__ import annotations

import math
import re

EXPECTING = -1.0
MAX_WEEKS = 104.0  # the bot is for babies under two
PLAIN_NUMBER_MAX_WEEKS = 52.0  # a bare number is read as weeks only up to a year
_WEEKS_PER = {
    "year": 365.25 / 7,
    "month": 365.25 / 12 / 7,
    "fortnight": 2.0,
    "week": 1.0,
    "day": 1 / 7,
    "hour": 1 / 168,
}
# Larger units first: "1 month 2 weeks" adds up, "6 weeks ... 3 weeks" does not.
_UNIT_ORDER = list(_WEEKS_PER)

# Longer spellings before their prefixes. Single letters only straight after a number ("6w").
_UNIT_PATTERNS = {
    "year": r"years?|yrs?|(?<=\d)y",
    "month": r"months?|mont?hs?|mnths?|mths?|mons?|mos?|(?<=\d)m",
    "fortnight": r"fortnights?",
    "week": r"weeks?|weeeks?|weks?|wks?|(?<=\d)w",
    "day": r"days?|dys?|(?<=\d)d",
    "hour": r"hours?|hrs?|(?<=\d)h",
}
_UNIT_RE = "|".join(f"(?P<{unit}>{pattern})" for unit, pattern in _UNIT_PATTERNS.items())
_NUM = r"\d+(?:\.\d+)?"
_AMOUNT_RE = re.compile(
    rf"(?P<n1>{_NUM})(?:\s*(?:-|to|or)\s*(?P<n2>{_NUM}))?\s*(?P<half1>and a half\s*)?"
    rf"(?:{_UNIT_RE})\b(?P<half2>\s+and a half\b)?"
)

_UNITS_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_SMALL_WORDS = {
    **_UNITS_WORDS,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS_WORDS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_UNIT_START = r"(?=(?:week|wk|month|mth|mnth|day|year|yr|fortnight|hour|hr))"

_EXPECTING_RE = re.compile(
    r"\bpreg\w*"  # pregnant, preggers, pregant
    r"|\bexpecting\b|\bunborn\b|\btrimester\b|\bbump\b|\bweeks? gone\b"
    r"|\bon (?:the|its|his|her) way\b"
    r"|\b(?:not|isn'?t|hasn'?t|aren'?t|haven'?t)\s+(?:(?:yet|even|been)\s+)?(?:born|arrived|here)\b"
    # "the missus is 34 weeks": the partner, not the baby, has the weeks
    r"|\b(?:missus|mrs|wife|partner|gf|girlfriend|fiancee?)(?:'?s|\s+is)?\s+"
    r"(?:about\s+|nearly\s+|almost\s+|now\s+)?\d+\s*(?:weeks?|wks?)\b"
)
_DUE_RE = re.compile(r"\bdue\b(?!\s+to\b)")
_BORN_OR_OLD_RE = re.compile(r"\b(?:born|old)\b")
_NEWBORN_RE = re.compile(
    r"\bnew\s*born\b|\bjust (?:been )?born\b|\bborn (?:today|this morning|tonight|last night)\b"
    r"|\bjust arrived\b|\bjust had (?:him|her|the baby|our baby|a baby)\b"
)
_BORN_YESTERDAY_RE = re.compile(r"\bborn yesterday\b")
_BORN_THIS_WEEK_RE = re.compile(
    r"\bborn (?:on )?(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\b"
    r"|\bborn this week\b|\bborn (?:at|on) the weekend\b|\bborn the other day\b"
    r"|\b(?:a )?few days\b"
)
_BORN_LAST_WEEK_RE = re.compile(r"\bborn last week\b")
# Gestation at birth is not the baby's age: "born at 34 weeks", "3 weeks early".
_GESTATION_RE = re.compile(
    rf"\bborn at {_NUM}\s*(?:weeks?|wks?)\b|\b{_NUM}\s*(?:weeks?|wks?)\s+(?:early|prem\w*)\b"
)
_PLAIN_NUMBER_RE = re.compile(
    rf"^(?:about|around|nearly|almost|roughly|approx|~)?\s*(?P<n>{_NUM})\s*[.!?]*$"
)


def _normalise(text: str) -> str:
    """Lower case, straight apostrophes, number words as digits."""
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    t = t.replace("\u00bd", " and a half ")
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"\bhalf an? ", "0.5 ", t)
    t = re.sub(r"\b(?:an? )?couple(?: of)? ", "2 ", t)
    tens = "|".join(_TENS_WORDS)
    units = "|".join(_UNITS_WORDS)
    t = re.sub(
        rf"\b({tens})[\s-]({units})\b",
        lambda m: str(_TENS_WORDS[m.group(1)] + _UNITS_WORDS[m.group(2)]),
        t,
    )
    t = re.sub(
        rf"\b({'|'.join([*_SMALL_WORDS, *_TENS_WORDS])})\b",
        lambda m: str({**_SMALL_WORDS, **_TENS_WORDS}[m.group(1)]),
        t,
    )
    return re.sub(rf"\ban? {_UNIT_START}", "1 ", t)


def _amounts(t: str) -> float | None:
    """Add up "<number> <unit>" parts, largest unit first ("1 month 2 weeks")."""
    total: float | None = None
    last_rank = -1
    for match in _AMOUNT_RE.finditer(t):
        unit = next(u for u in _UNIT_ORDER if match.group(u))
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:
            break  # same or larger unit again: a second, unrelated number
        low = float(match.group("n1"))
        high = float(match.group("n2")) if match.group("n2") else low
        amount = (low + high) / 2
        if match.group("half1") or match.group("half2"):
            amount += 0.5
        total = (total or 0.0) + amount * _WEEKS_PER[unit]
        last_rank = rank
    return total


def parse_baby_age_weeks(text: str | None) -> float | None:
    """The baby's age in weeks from a free-text answer; -1.0 when still expecting.

    None when it cannot be read, or the age is 2 years or more (the bot is for babies under 2).
    """
    if not text or not isinstance(text, str):
        return None
    t = _normalise(text)
    if _EXPECTING_RE.search(t) or (_DUE_RE.search(t) and not _BORN_OR_OLD_RE.search(t)):
        return EXPECTING

    weeks = _amounts(_GESTATION_RE.sub(" ", t))
    if weeks is None:
        if _NEWBORN_RE.search(t):
            weeks = 0.0
        elif _BORN_YESTERDAY_RE.search(t):
            weeks = 1 / 7
        elif _BORN_THIS_WEEK_RE.search(t):
            weeks = 3 / 7
        elif _BORN_LAST_WEEK_RE.search(t):
            weeks = 1.0
        elif match := _PLAIN_NUMBER_RE.match(t):
            weeks = float(match.group("n"))
            if weeks > PLAIN_NUMBER_MAX_WEEKS:
                return None  # "60" could be days or weeks: ask again
    if weeks is None or not math.isfinite(weeks) or not 0 <= weeks <= MAX_WEEKS:
        return None
    return round(weeks, 1)


# Units that can be an age inside a longer message. Hours are left out: "crying for 3 hours" is
# a duration, and a baby born hours ago is also "newborn" or "0 days" to the safety layer.
_AGE_UNITS = ("year", "month", "fortnight", "week", "day")


def ages_in_weeks(text: str | None) -> list[float]:
    """Every "<number> <unit>" amount in ``text`` read as an age in weeks, in order.

    "newborn" and "just born" count as 0. Gestation ("born at 34 weeks", "3 weeks early") and
    pregnancy weeks ("the missus is 34 weeks") are not the baby's age and are skipped.
    """
    if not text or not isinstance(text, str):
        return []
    t = _GESTATION_RE.sub(" ", _normalise(text))
    t = _PARTNER_WEEKS_RE.sub(" ", t)
    ages = []
    for match in _AMOUNT_RE.finditer(t):
        unit = next(u for u in _UNIT_ORDER if match.group(u))
        if unit not in _AGE_UNITS:
            continue
        low = float(match.group("n1"))
        high = float(match.group("n2")) if match.group("n2") else low
        amount = (low + high) / 2 + (0.5 if match.group("half1") or match.group("half2") else 0)
        if math.isfinite(amount):
            ages.append(round(amount * _WEEKS_PER[unit], 2))
    if not ages and _NEWBORN_WORD_RE.search(t):
        ages.append(0.0)
    return ages


_PARTNER_WEEKS_RE = re.compile(
    r"\b(?:missus|mrs|wife|partner|gf|girlfriend|fiancee?|she|she's|shes)(?:'?s|\s+is)?\s+"
    r"(?:about\s+|nearly\s+|almost\s+|now\s+)?\d+\s*(?:weeks?|wks?)\b"
    r"|\b\d+\s*(?:weeks?|wks?)\s+(?:pregnant|gone|along)\b"
)
_NEWBORN_WORD_RE = re.compile(r"\b(?:new\s*born|new baby|just (?:been )?born)\b")
