"""UK phone numbers for call backs: read one from a dad's message, show it, and redact numbers.

A call-back number is only useful if the team can ring it from the UK, so only geographic
(01, 02), non-geographic 03 and mobile (07) numbers are accepted; premium, free and short
numbers (08, 09, 999, 111, 112) are refused so that nobody is asked to call them.
"""

from __future__ import annotations

import re

REDACTED = "[phone number]"
MIN_REDACT_DIGITS = 9
MAX_LEAD_IN_WORDS = 7

# Words a dad may put before the number ("it's 07700 900123", "you can call me on ...").
LEAD_IN_WORDS = frozenset(
    {
        "it's",
        "its",
        "it",
        "is",
        "my",
        "number",
        "number's",
        "no",
        "mobile",
        "mobile's",
        "mob",
        "phone",
        "phone's",
        "tel",
        "telephone",
        "call",
        "ring",
        "me",
        "on",
        "you",
        "can",
        "the",
        "here",
        "here's",
        "yes",
        "yeah",
        "yep",
        "sure",
        "ok",
        "okay",
    }
)
_LEAD_IN = re.compile(r"[a-z' ,:\-]*")
_NUMBER = re.compile(r"\+?[\d \t().\-–]+")

_GROUP = r"(?:\(\d{2,5}\)|\d{2,})"
_SEPARATOR = r"(?:[ \t]*[.\-–][ \t]*|[ \t]+|(?<=\))|(?=\())"
_PHONE_RUN = re.compile(
    rf"""
    (?<![\d_+£$€])(?<!\d[.,:/])       # not the tail of a number, a decimal, a time or a date
    (?:\+[ \t]?\d+|{_GROUP})          # +44, (020) or 07700
    (?:{_SEPARATOR}(?:\(0\)|{_GROUP}))*
    (?![\d_])(?![.,:/]\d)             # and not the head of one either
    """,
    re.VERBOSE,
)


def normalise_uk_phone(text: str) -> str | None:
    """National digits ("07700900123") when the message is one callable UK number, else None."""
    candidate = _number_part(text)
    if candidate is None or candidate.count("(") != candidate.count(")"):
        return None
    digits = re.sub(r"\D", "", candidate)
    if candidate.startswith("+"):
        if not digits.startswith("44"):
            return None
        national = _after_country_code(digits[2:])
    elif digits.startswith("0044"):
        national = _after_country_code(digits[4:])
    elif digits.startswith("44") and len(digits) in (11, 12):
        national = _after_country_code(digits[2:])
    else:
        national = digits
    return national if _is_callable_uk(national) else None


def find_uk_phone(text: str) -> str | None:
    """The one callable UK number inside a longer message ("ring me on 07700 900456 after 2"),
    or None when there is none or more than one different one."""
    if not isinstance(text, str):
        return None
    found = {normalise_uk_phone(match.group(0)) for match in _PHONE_RUN.finditer(text)}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def display(number: str) -> str:
    """A number grouped the way UK people write it: "07700 900123", "020 7946 0018"."""
    digits = normalise_uk_phone(number)
    if digits is None:
        return number.strip()
    if digits.startswith("02"):
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if digits.startswith("03") or digits.startswith("011") or digits[3] == "1":
        # 0306 999 0000, 0113 496 0000, 0161 496 0000
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    return f"{digits[:5]} {digits[5:]}"


def hint(number: str) -> str:
    """The only part of a number kept in a conversation slot: "ending 123"."""
    digits = re.sub(r"\D", "", number)
    return f"ending {digits[-3:]}"


def redact_phone_numbers(text: str) -> str:
    """Replace anything shaped like a phone number (9+ digits) by "[phone number]"."""

    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        return REDACTED if sum(char.isdigit() for char in run) >= MIN_REDACT_DIGITS else run

    return _PHONE_RUN.sub(replace, text)


def _number_part(text: str) -> str | None:
    """The number in a message that is only a number, maybe after a short lead-in."""
    message = text.strip().replace("’", "'").rstrip(".!").strip()
    start = next((i for i, char in enumerate(message) if char.isdigit() or char in "+("), None)
    if start is None:
        return None
    lead_in, number = message[:start].lower(), message[start:].strip()
    if not _LEAD_IN.fullmatch(lead_in):
        return None
    words = re.findall(r"[a-z']+", lead_in)
    if len(words) > MAX_LEAD_IN_WORDS or any(word not in LEAD_IN_WORDS for word in words):
        return None
    return number if _NUMBER.fullmatch(number) else None


def _after_country_code(rest: str) -> str:
    """National form after +44, dropping the (0) people often write: +44 (0)7700 -> 07700."""
    return "0" + (rest[1:] if rest.startswith("0") else rest)


def _is_callable_uk(national: str) -> bool:
    """01/02/03 (10 or 11 digits) and 07 mobiles (11), except 070 and 076 (07624 is fine)."""
    if not national.isdigit() or not national.startswith("0"):
        return False
    if national[:2] in ("01", "02", "03"):
        return len(national) in (10, 11)
    if national[:2] == "07":
        if national.startswith("070"):
            return False
        if national.startswith("076") and not national.startswith("07624"):
            return False
        return len(national) == 11
    return False
