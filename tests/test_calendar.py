"""Working-day deadlines on the Chinese statutory calendar.

The holidays and make-up working days (调休) below are those of the
``chinesecalendar`` package, version 1.11:

- Spring Festival 2026: off from Sun 02-15 to Mon 02-23, with make-up
  working days on Sat 02-14 and Sat 02-28.
- National Day 2025 (with Mid-Autumn on 10-06): off from Wed 10-01 to
  Wed 10-08, with make-up working days on Sun 09-28 and Sat 10-11.
- Mid-Autumn 2026: off from Fri 09-25 to Sun 09-27, with a make-up working
  day on Sun 09-20.
- National Day 2026: off from Thu 10-01 to Wed 10-07, with a make-up working
  day on Sat 10-10.

The package has no data for 2027, so days of 2027 are judged by weekends only.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest

from common.calendar import (
    WorkingCalendar,
    YearCalendar,
    add_working_days,
    is_working_day,
    working_days_between,
)

D = dt.date


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def test_package_spring_festival_2026() -> None:
    holidays = _days(D(2026, 2, 15), D(2026, 2, 23))
    details = [chinese_calendar.get_holiday_detail(day) for day in holidays]
    assert details == [(True, "Spring Festival")] * 9


@pytest.mark.parametrize(
    "day",
    [
        D(2026, 2, 14),
        D(2026, 2, 28),
        D(2025, 9, 28),
        D(2025, 10, 11),
        D(2026, 9, 20),
        D(2026, 10, 10),
    ],
)
def test_package_make_up_working_days(day: dt.date) -> None:
    assert day.weekday() >= 5
    assert chinese_calendar.is_workday(day)


def test_package_national_day_2025() -> None:
    holidays = _days(D(2025, 10, 1), D(2025, 10, 8))
    assert [chinese_calendar.is_holiday(day) for day in holidays] == [True] * 8


def test_package_national_day_2026() -> None:
    holidays = _days(D(2026, 10, 1), D(2026, 10, 7))
    assert [chinese_calendar.is_holiday(day) for day in holidays] == [True] * 7


def test_package_lacks_2027() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2027, 1, 4))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 2, 13), (True, False)),  # Friday before the festival
        (D(2026, 2, 14), (True, False)),  # Saturday, make-up working day
        (D(2026, 2, 16), (False, False)),  # Monday, Spring Festival
        (D(2026, 3, 1), (False, False)),  # ordinary Sunday
        (D(2027, 1, 4), (True, True)),  # Monday, year not covered
        (D(2027, 1, 2), (False, True)),  # Saturday, year not covered
    ],
)
def test_is_working_day(day: dt.date, expected: tuple[bool, bool]) -> None:
    assert is_working_day(day) == expected


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        # Fri 02-13 + 1: Sat 02-14 is a make-up working day.
        (D(2026, 2, 13), 1, D(2026, 2, 14)),
        # Fri 02-13 + 2: Sat 14 (1), 15..23 off, Tue 24 (2).
        (D(2026, 2, 13), 2, D(2026, 2, 24)),
        # Thu 02-12 + 5: Fri 13 (1), Sat 14 (2), Tue 24 (3), Wed 25 (4), Thu 26 (5).
        (D(2026, 2, 12), 5, D(2026, 2, 26)),
        # Sat 02-14, accepted on the make-up day + 1: 15..23 off, Tue 24 (1).
        (D(2026, 2, 14), 1, D(2026, 2, 24)),
        # Mon 02-23, last day off + 5: Tue 24 .. Fri 27 (1-4), Sat 28 make-up (5).
        (D(2026, 2, 23), 5, D(2026, 2, 28)),
        # Mon 02-09 + 15: Tue 10 .. Fri 13 (1-4), Sat 14 (5), Tue 24 .. Fri 27 (6-9),
        # Sat 28 (10), Sun 03-01 off, Mon 03-02 .. Fri 03-06 (11-15).
        (D(2026, 2, 9), 15, D(2026, 3, 6)),
    ],
)
def test_deadline_across_spring_festival_2026(
    start: dt.date, days: int, deadline: dt.date
) -> None:
    result = add_working_days(start, days)
    assert result.date == deadline
    assert result.provisional is False


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        # Fri 09-26 + 1: Sat 27 off, Sun 28 make-up (1).
        (D(2025, 9, 26), 1, D(2025, 9, 28)),
        # Fri 09-26 + 3: Sun 28 (1), Mon 29 (2), Tue 30 (3).
        (D(2025, 9, 26), 3, D(2025, 9, 30)),
        # Tue 09-30 + 1: 10-01..10-08 off, Thu 10-09 (1).
        (D(2025, 9, 30), 1, D(2025, 10, 9)),
        # Tue 09-30 + 3: Thu 10-09 (1), Fri 10 (2), Sat 11 make-up (3).
        (D(2025, 9, 30), 3, D(2025, 10, 11)),
        # Tue 09-30 + 5: Thu 9 (1), Fri 10 (2), Sat 11 (3), Sun 12 off, Mon 13 (4),
        # Tue 14 (5).
        (D(2025, 9, 30), 5, D(2025, 10, 14)),
        # Wed 10-01, accepted on a holiday + 1: 02..08 off, Thu 10-09 (1).
        (D(2025, 10, 1), 1, D(2025, 10, 9)),
    ],
)
def test_deadline_across_national_day_2025(
    start: dt.date, days: int, deadline: dt.date
) -> None:
    result = add_working_days(start, days)
    assert result.date == deadline
    assert result.provisional is False


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        # Fri 09-18 + 1: Sat 19 off, Sun 20 make-up (1).
        (D(2026, 9, 18), 1, D(2026, 9, 20)),
        # Thu 09-24 + 1: Mid-Autumn 25..27 off, Mon 28 (1).
        (D(2026, 9, 24), 1, D(2026, 9, 28)),
        # Wed 09-30 + 1: 10-01..10-07 off, Thu 10-08 (1).
        (D(2026, 9, 30), 1, D(2026, 10, 8)),
        # Wed 09-30 + 3: Thu 8 (1), Fri 9 (2), Sat 10 make-up (3).
        (D(2026, 9, 30), 3, D(2026, 10, 10)),
        # Thu 09-24 + 8: Mon 28 (1), Tue 29 (2), Wed 30 (3), Thu 10-08 (4), Fri 9 (5),
        # Sat 10 (6), Sun 11 off, Mon 12 (7), Tue 13 (8).
        (D(2026, 9, 24), 8, D(2026, 10, 13)),
    ],
)
def test_deadline_across_national_day_2026(
    start: dt.date, days: int, deadline: dt.date
) -> None:
    result = add_working_days(start, days)
    assert result.date == deadline
    assert result.provisional is False


@pytest.mark.parametrize(
    "start",
    [
        D(2026, 3, 4),  # ordinary Wednesday
        D(2026, 2, 16),  # Spring Festival holiday
        D(2026, 2, 14),  # make-up Saturday
        D(2025, 10, 1),  # National Day
        D(2026, 3, 1),  # ordinary Sunday
    ],
)
def test_zero_limit_ends_same_day(start: dt.date) -> None:
    result = add_working_days(start, 0)
    assert result.date == start
    assert result.provisional is False


def test_negative_limit_raises() -> None:
    with pytest.raises(ValueError, match="-1"):
        add_working_days(D(2026, 3, 4), -1)


def test_deadline_in_covered_year_not_provisional() -> None:
    # Wed 2026-12-30 + 1: Thu 12-31 (1), still inside the package's data.
    result = add_working_days(D(2026, 12, 30), 1)
    assert result.date == D(2026, 12, 31)
    assert result.provisional is False


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        # Wed 2026-12-30 + 2: Thu 31 (1), Fri 2027-01-01 (2). New Year's Day is a
        # holiday, but 2027 is judged by weekends only.
        (D(2026, 12, 30), 2, D(2027, 1, 1)),
        # Mon 2026-12-28 + 5: Tue 29 (1), Wed 30 (2), Thu 31 (3), Fri 01-01 (4),
        # Sat 2 and Sun 3 off, Mon 2027-01-04 (5).
        (D(2026, 12, 28), 5, D(2027, 1, 4)),
        # Tue 2027-06-01 + 3: Wed 2 (1), Thu 3 (2), Fri 4 (3).
        (D(2027, 6, 1), 3, D(2027, 6, 4)),
    ],
)
def test_deadline_into_2027_is_provisional(
    start: dt.date, days: int, deadline: dt.date
) -> None:
    result = add_working_days(start, days)
    assert result.date == deadline
    assert result.provisional is True


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        # Sat 02-14 (make-up) and Tue 02-24 count, while 15..23 are off.
        (D(2026, 2, 13), D(2026, 2, 24), 2),
        # Every day after 09-30 up to 10-08 is a National Day holiday.
        (D(2025, 9, 30), D(2025, 10, 8), 0),
        # Thu 10-09, Fri 10, Sat 11 (make-up).
        (D(2025, 9, 30), D(2025, 10, 11), 3),
        # Sun 09-20 (make-up), Mon 21..Thu 24 (4), Mon 28..Wed 30 (3),
        # Thu 10-08, Fri 9, Sat 10 (make-up) (3): 1 + 4 + 3 + 3.
        (D(2026, 9, 18), D(2026, 10, 10), 11),
        # Thu 12-31, Fri 2027-01-01 and Mon 2027-01-04, by weekends only in 2027.
        (D(2026, 12, 30), D(2027, 1, 4), 3),
        (D(2026, 3, 4), D(2026, 3, 4), 0),
        (D(2026, 3, 4), D(2026, 3, 2), 0),
    ],
)
def test_working_days_between(start: dt.date, end: dt.date, count: int) -> None:
    assert working_days_between(start, end) == count


@pytest.mark.parametrize(
    ("start", "days"),
    [
        (D(2026, 2, 12), 5),
        (D(2026, 2, 9), 15),
        (D(2025, 9, 26), 10),
        (D(2026, 9, 24), 8),
        (D(2026, 12, 28), 5),
    ],
)
def test_between_inverts_add(start: dt.date, days: int) -> None:
    deadline = add_working_days(start, days).date
    assert working_days_between(start, deadline) == days


# --- 20-working-day limits, and calendars published by the city -----------------

# A calendar made up for these tests, NOT the official 2027 arrangement: New
# Year's Day off from Fri 2027-01-01 to Mon 2027-01-04, Sat 2027-01-09 worked.
TEST_2027 = YearCalendar.from_content(
    {
        "year": 2027,
        "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"],
        "workdays": ["2027-01-09"],
        "source": "test calendar, not official",
    }
)


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        # Mon 02-02 + 20: Tue 3 .. Fri 6 (1-4), Mon 9 .. Fri 13 (5-9), Sat 14
        # make-up (10), 15..23 off, Tue 24 .. Fri 27 (11-14), Sat 28 make-up (15),
        # Mon 03-02 .. Fri 03-06 (16-20).
        (D(2026, 2, 2), D(2026, 3, 6)),
        # Mon 09-14 + 20: Tue 15 .. Fri 18 (1-4), Sun 20 make-up (5), Mon 21 ..
        # Thu 24 (6-9), Mid-Autumn 25..27 off, Mon 28 .. Wed 30 (10-12),
        # 10-01..10-07 off, Thu 8, Fri 9 (13-14), Sat 10 make-up (15),
        # Mon 12 .. Fri 16 (16-20).
        (D(2026, 9, 14), D(2026, 10, 16)),
    ],
)
def test_20_day_limit_across_2026_holidays(start: dt.date, deadline: dt.date) -> None:
    result = add_working_days(start, 20)
    assert result.date == deadline
    assert result.provisional is False
    assert working_days_between(start, deadline) == 20


@pytest.mark.parametrize(
    ("start", "days", "deadline"),
    [
        # Wed 02-11 + 10: Thu 12, Fri 13, Sat 14 (1-3), Tue 24 .. Sat 28 (4-8),
        # Sun 03-01 off, Mon 2 (9), Tue 3 (10).
        (D(2026, 2, 11), 10, D(2026, 3, 3)),
        # Tue 09-29 + 10: Wed 30 (1), Thu 10-08 .. Sat 10 (2-4), Mon 12 .. Fri 16
        # (5-9), Mon 19 (10).
        (D(2026, 9, 29), 10, D(2026, 10, 19)),
    ],
)
def test_limit_starting_before_holiday(
    start: dt.date, days: int, deadline: dt.date
) -> None:
    assert add_working_days(start, days).date == deadline


def test_20_days_from_late_december_provisional() -> None:
    # Tue 12-22 .. Thu 12-31 (1-8), then by weekends only: Fri 2027-01-01 (9),
    # Mon 4 .. Fri 8 (10-14), Mon 11 .. Fri 15 (15-19), Mon 18 (20).
    result = add_working_days(D(2026, 12, 21), 20)
    assert result.date == D(2027, 1, 18)
    assert result.provisional is True


def test_20_days_from_late_december_with_release() -> None:
    # Tue 12-22 .. Thu 12-31 (1-8), 01-01..01-04 off, Tue 5 .. Fri 8 (9-12),
    # Sat 9 worked (13), Mon 11 .. Fri 15 (14-18), Mon 18 (19), Tue 19 (20).
    result = WorkingCalendar({2027: TEST_2027}).add_working_days(D(2026, 12, 21), 20)
    assert result.date == D(2027, 1, 19)
    assert result.provisional is False


def test_release_replaces_package_year() -> None:
    # A made-up 2026 calendar that lists New Year's Day alone: Mon 2026-02-16,
    # a Spring Festival holiday in the package, becomes a working day.
    year = YearCalendar.from_content({"year": 2026, "holidays": ["2026-01-01"]})
    assert WorkingCalendar({2026: year}).is_working_day(D(2026, 2, 16)) == (True, False)


def test_release_makes_year_covered() -> None:
    assert WorkingCalendar().covers(2027) is False
    assert WorkingCalendar({2027: TEST_2027}).covers(2027) is True


def test_release_keeps_other_years_from_package() -> None:
    calendar = WorkingCalendar({2027: TEST_2027})
    assert calendar.is_working_day(D(2026, 2, 16)) == (False, False)
