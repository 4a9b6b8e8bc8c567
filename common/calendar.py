"""Working days on the Chinese statutory calendar.

A working day is a weekday that is not a statutory holiday, or a weekend day
that the State Council made a make-up working day (调休). The
``chinesecalendar`` package holds those decisions for the years it covers
(2004 to 2026 in version 1.11). For any other year only weekends are
counted and the result is marked provisional.

The day a case is accepted does not count: a limit of N working days ends
on the N-th working day after the acceptance day. A limit of 0 (an
on-the-spot matter) ends on the acceptance day itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import chinese_calendar


@dataclass(frozen=True)
class Deadline:
    date: dt.date
    # True when a day in the range lies in a year the calendar data does not
    # cover, so holidays of that year were not known.
    provisional: bool


def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """Return (is a working day, judged from weekends only)."""
    try:
        return chinese_calendar.is_workday(day), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(start: dt.date, days: int) -> Deadline:
    """Return the day on which a limit of ``days`` working days from ``start`` ends."""
    if days < 0:
        raise ValueError(f"a time limit cannot be negative, got {days}")
    day, provisional, counted = start, False, 0
    while counted < days:
        day += dt.timedelta(days=1)
        working, guessed = is_working_day(day)
        provisional = provisional or guessed
        counted += working
    return Deadline(day, provisional)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Count working days after ``start`` up to and including ``end``.

    Returns 0 when ``end`` is not after ``start``.
    """
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_working_day(day)[0]
    return count
