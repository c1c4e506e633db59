"""UK call-back numbers: what a dad may type, what is refused, and redaction of numbers."""

from __future__ import annotations

import pytest

from bot.handoff.phone import (
    REDACTED,
    display,
    find_uk_phone,
    hint,
    normalise_uk_phone,
    redact_phone_numbers,
)

MOBILE = "07700900123"
LONDON_LANDLINE = "02079460018"


@pytest.mark.parametrize(
    ("text", "national"),
    [
        # mobiles in every common shape
        ("07700900123", MOBILE),
        ("07700 900123", MOBILE),
        ("07700 900 123", MOBILE),
        ("077 0090 0123", MOBILE),
        ("07700-900-123", MOBILE),
        ("07700 - 900123", MOBILE),
        ("07700–900123", MOBILE),
        ("07700.900.123", MOBILE),
        ("(07700) 900123", MOBILE),
        ("+44 7700 900123", MOBILE),
        ("+447700900123", MOBILE),
        ("+44 (0)7700 900123", MOBILE),
        ("+44 (0) 7700 900123", MOBILE),
        ("+44 07700 900123", MOBILE),
        ("0044 7700 900123", MOBILE),
        ("00447700900123", MOBILE),
        ("447700900123", MOBILE),
        ("07624 123456", "07624123456"),  # Isle of Man mobiles are allowed
        # landlines and 03
        ("(020) 7946 0018", LONDON_LANDLINE),
        ("(020) 7946-0018", LONDON_LANDLINE),
        ("020 7946 0018", LONDON_LANDLINE),
        ("020.7946.0018", LONDON_LANDLINE),
        ("+44 20 7946 0018", LONDON_LANDLINE),
        ("+44 (0)20 7946 0018", LONDON_LANDLINE),
        ("0161 496 0000", "01614960000"),
        ("0113 496 0000", "01134960000"),
        ("01632 960000", "01632960000"),
        ("016977 4000", "0169774000"),  # 10 digits with the 0
        ("0300 123 4567", "03001234567"),
        # whitespace, a full stop, tel: and a short lead-in
        ("  07700 900123  ", MOBILE),
        ("07700 900123.", MOBILE),
        ("tel:07700900123", MOBILE),
        ("TEL: +44 7700 900123", MOBILE),
        ("its 07700 900123", MOBILE),
        ("it's 07700 900123", MOBILE),
        ("It’s 07700 900123", MOBILE),
        ("my number is 07700900123", MOBILE),
        ("My number is: 07700 900123.", MOBILE),
        ("number 07700900123", MOBILE),
        ("mobile 07700900123", MOBILE),
        ("call me on 07700 900123", MOBILE),
        ("on 07700900123", MOBILE),
        ("sure, it's 07700 900123", MOBILE),
        ("you can call me on +44 7700 900123", MOBILE),
    ],
)
def test_normalise_accepts(text: str, national: str) -> None:
    assert normalise_uk_phone(text) == national


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "no",
        "tomorrow morning",
        # emergency and short codes
        "999",
        "111",
        "112",
        "116 123",
        "85258",
        # 08 and 09 numbers, personal numbering and pagers
        "0800 123 4567",
        "0808 802 4040",
        "0845 123 4567",
        "0870 123 4567",
        "0906 123 4567",
        "07000 123456",
        "07011 123456",
        "07600 123456",
        "07623 123456",
        # other prefixes
        "04000 123456",
        "05000 123456",
        "06000 123456",
        "00000 000000",
        # too short or long
        "07700 90012",
        "077009001234",
        "020 7946 00189",
        "01234 567",
        "0123",
        "7700900123",  # no leading 0
        "+44 7700 90012",
        # not UK
        "+1 415 555 0100",
        "+33 6 12 34 56 78",
        "0033 6 12 34 56 78",
        # letters and stray characters
        "07700900abc",
        "O77OO 9OO123",
        "07700_900123",
        "07700/900123",
        "++447700900123",
        "07700 +900123",
        "(020 7946 0018",
        "020) 7946 0018",
        # two different numbers
        "07700900123 or 07700900124",
        "07700900123, 07700900124",
        "07700900123 07700900124",
        "07700900123/07700900124",
        "07700 900123 and 020 7946 0018",
        # surrounding words other than a short lead-in
        "call 07700900123 please",
        "07700900123 thanks",
        "ring me tomorrow on 07700900123",
        "my baby is 6 weeks 07700900123",
        "my wife's number is 07700900123",
        "it is my mobile phone number you can call me on 07700900123",  # too long a lead-in
    ],
)
def test_normalise_rejects(text: str) -> None:
    assert normalise_uk_phone(text) is None


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("07700900123", "07700 900123"),
        ("07624123456", "07624 123456"),
        ("02079460018", "020 7946 0018"),
        ("03001234567", "0300 123 4567"),
        ("01614960000", "0161 496 0000"),
        ("01134960000", "0113 496 0000"),
        ("01632960000", "01632 960000"),
        ("0169774000", "01697 74000"),
        ("+44 7700 900123", "07700 900123"),
        ("(020) 7946-0018", "020 7946 0018"),
        (" not a number ", "not a number"),
    ],
)
def test_display(number: str, shown: str) -> None:
    assert display(number) == shown


@pytest.mark.parametrize(
    ("number", "ending"),
    [
        ("07700900123", "ending 123"),
        ("07700 900 123", "ending 123"),
        ("02079460018", "ending 018"),
        ("+44 20 7946 0018", "ending 018"),
    ],
)
def test_hint_keeps_only_the_last_three_digits(number: str, ending: str) -> None:
    assert hint(number) == ending
    assert number.replace(" ", "")[:-3] not in hint(number)


@pytest.mark.parametrize(
    "number",
    [
        "07700900123",
        "07700 900123",
        "07700 900 123",
        "07700-900-123",
        "07700.900.123",
        "+44 7700 900123",
        "+447700900123",
        "+44 (0)7700 900123",
        "0044 7700 900123",
        "020 7946 0018",
        "(020) 7946-0018",
        "(020)7946 0018",
        "+1 415 555 0100",
        "943 476 5919",  # NHS-number shaped: 10 digits is private too
        "123456789",
    ],
)
def test_redact_phone_numbers_catches(number: str) -> None:
    assert redact_phone_numbers(f"please ring {number} tonight") == (
        f"please ring {REDACTED} tonight"
    )
    assert redact_phone_numbers(number) == REDACTED


@pytest.mark.parametrize(
    "text",
    [
        "his temperature is 38.5",
        "38.5C at 3am",
        "he woke at 3am and again at 4:15",
        "last feed 14:30",
        "born 23/11/2026",
        "born 23.11.2026",
        "she weighs 3.4kg",
        "she weighs 3.45 kg",
        "he is 6 weeks old",
        "6 weeks and 3 days",
        "it cost £1,200",
        "£1,234,567",
        "reference 12345678",
        "1234 5678",
        "feeds at 2 4 6 8 10 12",
        "between 10 and 12 ml",
        "at 14:30 on 23/11/2026 he was 38.5 and 3.4kg",
        "rasa 3.6.21",
        "call 999 or 111",
        "Samaritans on 116 123",
    ],
)
def test_redact_phone_numbers_leaves_other_numbers(text: str) -> None:
    assert redact_phone_numbers(text) == text


def test_redact_keeps_the_rest_of_the_message() -> None:
    text = "38.5 at 3am, call 07700 900123 or (020) 7946-0018. Thanks!"
    assert redact_phone_numbers(text) == (f"38.5 at 3am, call {REDACTED} or {REDACTED}. Thanks!")


def test_redact_next_to_a_time_does_not_eat_the_time() -> None:
    assert redact_phone_numbers("14:30 07700900123") == f"14:30 {REDACTED}"
    assert redact_phone_numbers("tel:07700900123") == f"tel:{REDACTED}"


def test_redacted_text_has_no_number_left() -> None:
    for shape in ("07700900123", "+44 (0)7700 900123", "0044 7700 900123"):
        redacted = redact_phone_numbers(f"my number {shape}")
        assert not any(char.isdigit() for char in redacted)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can someone ring me back on 07700 900456 pls", "07700900456"),
        ("call me on +44 7700 900456 after 2 if thats ok", "07700900456"),
        ("my wifes number is 020 7946 0018 thanks", "02079460018"),
        ("07700 900456 or 07700 900456", "07700900456"),  # the same number twice
        ("07700 900456 or 07700 900789", None),  # two different numbers: ask
        ("can someone call me back", None),
        ("he was 3.4kg at 14:30 on 23/11/2026", None),
        ("ring 999", None),
        ("", None),
    ],
)
def test_find_uk_phone_in_a_longer_message(text: str, expected: str | None) -> None:
    assert find_uk_phone(text) == expected
