"""Office hours: the OPERATOR_HOURS grammar, its errors, and opening times on the London clock."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.handoff.hours import DayWindow, HoursError, OfficeHours, friendly_time
from tests.handoff.clock import LONDON, UTC, london, utc

WEEKDAYS_9_TO_5 = OfficeHours.parse("Mon-Fri 09:00-17:00")
WEEK_AND_SATURDAY = OfficeHours.parse("Mon-Fri 09:00-17:00; Sat 10:00-13:00")
DAILY_9_TO_5 = OfficeHours.parse("daily 09:00-17:00")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def days_and_times(hours: OfficeHours) -> set[tuple[int, str, str]]:
    """Windows as (weekday, "HH:MM", "HH:MM") so expectations read like the spec."""

    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    return {(w.weekday, hhmm(w.start_minute), hhmm(w.end_minute)) for w in hours.windows}


def every(days, start: str, end: str) -> set[tuple[int, str, str]]:
    return {(day, start, end) for day in days}


# --- grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("Mon-Fri 09:00-17:00", every(range(5), "09:00", "17:00")),
        ("mon-fri 9:00-17:00", every(range(5), "09:00", "17:00")),
        ("MON-FRI 09:00-17:00", every(range(5), "09:00", "17:00")),
        ("Monday-Friday 09:00-17:00", every(range(5), "09:00", "17:00")),
        ("Mon - Fri 09:00 - 17:00", every(range(5), "09:00", "17:00")),
        ("Mon to Fri 09:00 to 17:00", every(range(5), "09:00", "17:00")),
        ("Mon-Fri 09:00–17:00", every(range(5), "09:00", "17:00")),
        ("weekdays 09:00-17:00", every(range(5), "09:00", "17:00")),
        ("weekends 10:00-12:00", every((SAT, SUN), "10:00", "12:00")),
        ("daily 10:00-12:00", every(range(7), "10:00", "12:00")),
        ("every day 10:00-12:00", every(range(7), "10:00", "12:00")),
        ("Every Day 10:00-12:00", every(range(7), "10:00", "12:00")),
        ("Mon,Wed 09:00-12:00", every((MON, WED), "09:00", "12:00")),
        ("Mon, Wed 09:00-12:00", every((MON, WED), "09:00", "12:00")),
        ("Mon,Wed,Fri-Sun 09:00-12:00", every((MON, WED, FRI, SAT, SUN), "09:00", "12:00")),
        ("Tues,Thurs 09:00-12:00", every((TUE, THU), "09:00", "12:00")),
        ("Fri-Mon 09:00-12:00", every((FRI, SAT, SUN, MON), "09:00", "12:00")),
        ("Saturday 10:00-13:00", every((SAT,), "10:00", "13:00")),
        (
            "Mon-Fri 09:00-17:00; Sat 10:00-13:00",
            every(range(5), "09:00", "17:00") | every((SAT,), "10:00", "13:00"),
        ),
        (
            "Mon-Fri 09:00-17:00, Sat 10:00-13:00",
            every(range(5), "09:00", "17:00") | every((SAT,), "10:00", "13:00"),
        ),
        (
            "Mon,Wed 09:00-12:00, Sat 10:00-13:00",
            every((MON, WED), "09:00", "12:00") | every((SAT,), "10:00", "13:00"),
        ),
        (
            " Mon-Fri 09:00-17:00 ; Sat 10:00-13:00 ; ",
            every(range(5), "09:00", "17:00") | every((SAT,), "10:00", "13:00"),
        ),
        (
            "Mon 09:00-12:00; Mon 13:00-17:00",
            {(MON, "09:00", "12:00"), (MON, "13:00", "17:00")},
        ),
        ("Fri 22:00-24:00", {(FRI, "22:00", "24:00")}),
        ("Sun 00:00-02:00", {(SUN, "00:00", "02:00")}),
    ],
)
def test_parse_accepts_the_grammar(spec: str, expected: set) -> None:
    assert days_and_times(OfficeHours.parse(spec)) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "Office hours are empty"),
        ("   ", "Office hours are empty"),
        (";", "Office hours are empty"),
        ("Mon-Fir 09:00-17:00", "'fir' in 'Mon-Fir' is not a day"),
        ("Mondays 09:00-17:00", "'mondays' in 'Mondays' is not a day"),
        ("Mon-Fri", "'Mon-Fri' has no times"),
        ("Mon,Wed", "'Mon,Wed' has no times"),
        ("Mon-Fri 09:00-17:00; Sat", "'Sat' has no times"),
        ("09:00-17:00", "'09:00-17:00' has no days"),
        ("Mon 09:00-12:00, 13:00-17:00", "'13:00-17:00' has no days"),
        ("Mon 09:00", "'Mon 09:00' is not days then one time range"),
        ("Mon-Fri 09:00-17:00 Sat 10:00-13:00", "is not days then one time range"),
        ("Mon 9am-5pm", "'9am' is not a time"),
        ("Mon 9-17", "'9' is not a time"),
        ("Mon 09.00-17.00", "'09.00' is not a time"),
        ("Mon 25:00-26:00", "'25:00' is not a time"),
        ("Mon 09:60-10:00", "'09:60' is not a time"),
        ("Mon 24:00-24:00", "'24:00' is not a time"),
        ("Mon 09:00-24:30", "'24:30' is not a time"),
        ("Mon 17:00-09:00", "'Mon 17:00-09:00' must end after it starts"),
        ("Mon 09:00-09:00", "must end after it starts"),
        ("Fri 22:00-02:00", "write two entries"),
    ],
)
def test_parse_errors_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(HoursError) as caught:
        OfficeHours.parse(spec)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert text.endswith(".")
    assert "example" in text or "like" in text


def test_hours_error_is_a_value_error() -> None:
    assert issubclass(HoursError, ValueError)


def test_equivalent_specs_give_equal_hours() -> None:
    assert OfficeHours.parse("weekdays 9:00-17:00") == WEEKDAYS_9_TO_5
    assert OfficeHours.parse("Mon 09:00-17:00; Mon 09:00-17:00").windows == (
        DayWindow(MON, 540, 1020),
    )


def test_office_hours_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        WEEKDAYS_9_TO_5.windows = ()  # type: ignore[misc]


# --- describe -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "described"),
    [
        ("Mon-Fri 09:00-17:00; Sat 10:00-13:00", "Mon-Fri 9am to 5pm; Sat 10am to 1pm"),
        ("Sat 10:00-13:00; Mon-Fri 09:00-17:00", "Mon-Fri 9am to 5pm; Sat 10am to 1pm"),
        ("daily 09:00-21:30", "Every day 9am to 9:30pm"),
        ("Mon,Wed 09:00-12:00", "Mon, Wed 9am to 12pm"),
        ("weekends 10:00-12:00", "Sat-Sun 10am to 12pm"),
        ("Mon 09:00-17:00; Tue 09:00-17:00", "Mon-Tue 9am to 5pm"),
        ("Mon 13:00-17:00; Mon 09:00-12:00", "Mon 9am to 12pm; Mon 1pm to 5pm"),
        ("Fri 22:00-24:00", "Fri 10pm to midnight"),
        ("Fri-Mon 12:30-14:00", "Mon, Fri-Sun 12:30pm to 2pm"),
    ],
)
def test_describe(spec: str, described: str) -> None:
    assert OfficeHours.parse(spec).describe() == described


@pytest.mark.parametrize(
    ("minute", "friendly"),
    [
        (0, "midnight"),
        (5, "12:05am"),
        (9 * 60, "9am"),
        (9 * 60 + 30, "9:30am"),
        (12 * 60, "12pm"),
        (12 * 60 + 30, "12:30pm"),
        (17 * 60, "5pm"),
        (23 * 60 + 59, "11:59pm"),
        (24 * 60, "midnight"),
    ],
)
def test_friendly_time(minute: int, friendly: str) -> None:
    assert friendly_time(minute) == friendly


# --- is_open ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        (london(2026, 11, 23, 8, 59, 59), False),  # Monday, a second before opening
        (london(2026, 11, 23, 9, 0), True),
        (london(2026, 11, 23, 12, 0), True),
        (london(2026, 11, 23, 16, 59, 59), True),
        (london(2026, 11, 23, 17, 0), False),  # 17:00 is closed for 09:00-17:00
        (london(2026, 11, 27, 16, 59), True),  # Friday
        (london(2026, 11, 27, 17, 0), False),
        (london(2026, 11, 28, 12, 0), False),  # Saturday
        (london(2026, 11, 29, 12, 0), False),  # Sunday
        (london(2026, 11, 23, 0, 0), False),
        (utc(2026, 7, 6, 8, 30), True),  # 09:30 BST
        (utc(2026, 7, 6, 8, 0), True),  # 09:00 BST
        (utc(2026, 7, 6, 7, 59), False),  # 08:59 BST
        (utc(2026, 7, 6, 16, 30), False),  # 17:30 BST
        (utc(2026, 7, 6, 15, 59), True),  # 16:59 BST
        (datetime(2026, 7, 6, 4, 30, tzinfo=ZoneInfo("America/New_York")), True),  # 09:30 BST
        (datetime(2026, 11, 23, 19, 0, tzinfo=ZoneInfo("Asia/Tokyo")), True),  # Mon 10:00 GMT
        (datetime(2026, 11, 24, 2, 0, tzinfo=ZoneInfo("Asia/Tokyo")), False),  # Mon 17:00 GMT
    ],
)
def test_is_open_on_the_london_clock(now: datetime, is_open: bool) -> None:
    assert WEEKDAYS_9_TO_5.is_open(now) is is_open


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        # Spring forward: Sunday 29 March 2026, 01:00 GMT becomes 02:00 BST.
        (utc(2026, 3, 28, 8, 30), False),  # Saturday 08:30 GMT
        (utc(2026, 3, 28, 9, 0), True),  # Saturday 09:00 GMT
        (utc(2026, 3, 29, 8, 0), True),  # Sunday 09:00 BST
        (utc(2026, 3, 29, 7, 59), False),  # Sunday 08:59 BST
        (utc(2026, 3, 29, 15, 59), True),  # Sunday 16:59 BST
        (utc(2026, 3, 29, 16, 0), False),  # Sunday 17:00 BST
        # Fall back: Sunday 25 October 2026, 02:00 BST becomes 01:00 GMT.
        (utc(2026, 10, 24, 8, 0), True),  # Saturday 09:00 BST
        (utc(2026, 10, 25, 8, 0), False),  # Sunday 08:00 GMT
        (utc(2026, 10, 25, 9, 0), True),  # Sunday 09:00 GMT
        (utc(2026, 10, 25, 16, 59), True),  # Sunday 16:59 GMT
        (utc(2026, 10, 25, 17, 0), False),  # Sunday 17:00 GMT
    ],
)
def test_is_open_on_clock_change_days(now: datetime, is_open: bool) -> None:
    assert DAILY_9_TO_5.is_open(now) is is_open


def test_fall_back_hour_is_open_twice() -> None:
    """01:00-01:30 on the last Sunday of October happens twice on the wall clock."""
    night = OfficeHours.parse("Sun 01:00-01:30")
    assert night.is_open(utc(2026, 10, 25, 0, 15))  # 01:15 BST
    assert not night.is_open(utc(2026, 10, 25, 0, 45))  # 01:45 BST
    assert night.is_open(utc(2026, 10, 25, 1, 15))  # 01:15 GMT


@pytest.mark.parametrize(
    "method", [OfficeHours.is_open, OfficeHours.next_opening, OfficeHours.describe_next_opening]
)
def test_naive_now_is_refused(method) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        method(WEEKDAYS_9_TO_5, datetime(2026, 11, 23, 10, 0))


# --- next_opening -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "now", "opening"),
    [
        (WEEKDAYS_9_TO_5, london(2026, 11, 23, 8, 0), london(2026, 11, 23, 9, 0)),
        (WEEKDAYS_9_TO_5, london(2026, 11, 23, 17, 0), london(2026, 11, 24, 9, 0)),
        (WEEKDAYS_9_TO_5, london(2026, 11, 27, 17, 0), london(2026, 11, 30, 9, 0)),  # Fri->Mon
        (WEEKDAYS_9_TO_5, london(2026, 11, 28, 12, 0), london(2026, 11, 30, 9, 0)),  # Sat->Mon
        (WEEKDAYS_9_TO_5, london(2026, 11, 29, 23, 59), london(2026, 11, 30, 9, 0)),  # Sun->Mon
        (WEEK_AND_SATURDAY, london(2026, 11, 27, 17, 0), london(2026, 11, 28, 10, 0)),
        (WEEK_AND_SATURDAY, london(2026, 11, 28, 13, 0), london(2026, 11, 30, 9, 0)),
        (
            OfficeHours.parse("Mon 09:00-12:00; Mon 13:00-17:00"),
            london(2026, 11, 23, 12, 0),
            london(2026, 11, 23, 13, 0),
        ),
        (
            OfficeHours.parse("Mon 09:00-17:00"),
            london(2026, 11, 23, 17, 0),
            london(2026, 11, 30, 9, 0),
        ),
        (
            OfficeHours.parse("Mon 09:00-17:00"),
            london(2026, 11, 24, 9, 0),  # Tuesday: six days to wait
            london(2026, 11, 30, 9, 0),
        ),
    ],
)
def test_next_opening(hours: OfficeHours, now: datetime, opening: datetime) -> None:
    found = hours.next_opening(now)
    assert found is not None
    assert found.astimezone(UTC) == opening.astimezone(UTC)
    assert found.tzinfo == LONDON
    assert (found.hour, found.minute) == (opening.hour, opening.minute)


def test_next_opening_is_now_when_open() -> None:
    now = london(2026, 11, 23, 10, 17, 42)
    assert WEEKDAYS_9_TO_5.next_opening(now) == now


def test_next_opening_from_utc_is_in_london_time() -> None:
    found = WEEKDAYS_9_TO_5.next_opening(utc(2026, 7, 3, 16, 30))  # Friday 17:30 BST
    assert found is not None
    assert found.tzinfo == LONDON
    assert found.astimezone(UTC) == utc(2026, 7, 6, 8, 0)  # Monday 09:00 BST


def test_next_opening_across_spring_forward() -> None:
    """Saturday evening GMT to Sunday 09:00 BST, which is 08:00 UTC."""
    found = DAILY_9_TO_5.next_opening(utc(2026, 3, 28, 18, 0))
    assert found is not None
    assert found.astimezone(UTC) == utc(2026, 3, 29, 8, 0)
    assert (found.hour, found.minute) == (9, 0)


def test_next_opening_across_fall_back() -> None:
    """Saturday evening BST to Sunday 09:00 GMT, which is 09:00 UTC."""
    found = DAILY_9_TO_5.next_opening(utc(2026, 10, 24, 17, 0))
    assert found is not None
    assert found.astimezone(UTC) == utc(2026, 10, 25, 9, 0)
    assert (found.hour, found.minute) == (9, 0)


def test_next_opening_inside_the_skipped_hour_is_when_clocks_go_forward() -> None:
    """01:00-03:00 on 29 March 2026 really opens at 02:00 BST: 01:00-02:00 never happens."""
    night = OfficeHours.parse("Sun 01:00-03:00")
    found = night.next_opening(utc(2026, 3, 28, 23, 0))
    assert found is not None
    assert found.astimezone(UTC) == utc(2026, 3, 29, 1, 0)
    assert (found.hour, found.minute) == (2, 0)
    assert night.is_open(found)


def test_next_opening_in_the_repeated_hour_is_the_second_pass() -> None:
    """At 01:45 BST on 25 October 2026, 01:00-01:30 comes round again at 01:00 GMT."""
    night = OfficeHours.parse("Sun 01:00-01:30")
    found = night.next_opening(utc(2026, 10, 25, 0, 45))
    assert found is not None
    assert found.astimezone(UTC) == utc(2026, 10, 25, 1, 0)


def test_next_opening_without_windows_is_none() -> None:
    never = OfficeHours(())
    assert never.next_opening(london(2026, 11, 23, 10, 0)) is None
    assert never.describe_next_opening(london(2026, 11, 23, 10, 0)) == "not in the coming week"


@pytest.mark.parametrize("minutes_after", [0, 1, 60 * 24 * 3, 60 * 24 * 7 - 1])
def test_next_opening_is_always_open_and_not_in_the_past(minutes_after: int) -> None:
    now = london(2026, 11, 27, 17, 0) + timedelta(minutes=minutes_after)
    found = WEEK_AND_SATURDAY.next_opening(now)
    assert found is not None
    assert WEEK_AND_SATURDAY.is_open(found)
    assert found.astimezone(UTC) >= now.astimezone(UTC)


# --- describe_next_opening ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "now", "described"),
    [
        ("Mon-Fri 09:00-17:00", london(2026, 11, 23, 10, 0), "now"),
        ("Mon-Fri 09:00-17:00", london(2026, 11, 23, 7, 0), "today at 9am"),
        ("Mon-Fri 09:30-17:00", london(2026, 11, 23, 17, 0), "tomorrow at 9:30am"),
        ("Mon-Fri 09:00-17:00", london(2026, 11, 27, 17, 0), "on Monday at 9am"),
        ("Mon-Fri 09:00-17:00", london(2026, 11, 28, 9, 0), "on Monday at 9am"),
        ("Mon-Fri 09:00-17:00", london(2026, 11, 29, 20, 0), "tomorrow at 9am"),
        ("Mon-Fri 09:00-17:00", london(2026, 11, 23, 0, 30), "today at 9am"),
        ("Mon-Fri 09:00-17:00; Sat 10:00-13:00", london(2026, 11, 27, 18, 0), "tomorrow at 10am"),
        ("Sat 12:00-14:00", london(2026, 11, 25, 12, 0), "on Saturday at 12pm"),
        ("Mon 09:00-17:00", london(2026, 11, 23, 18, 0), "next Monday at 9am"),
        ("daily 09:00-17:00", utc(2026, 3, 28, 18, 0), "tomorrow at 9am"),  # across BST start
        ("daily 09:00-17:00", utc(2026, 10, 24, 17, 0), "tomorrow at 9am"),  # across BST end
        ("daily 09:00-17:00", utc(2026, 7, 6, 7, 30), "today at 9am"),  # 08:30 BST
    ],
)
def test_describe_next_opening(spec: str, now: datetime, described: str) -> None:
    assert OfficeHours.parse(spec).describe_next_opening(now) == described
