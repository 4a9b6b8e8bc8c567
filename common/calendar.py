"""Working days on the Chinese statutory calendar.

A working day is a weekday that is not a statutory holiday, or a weekend day
that the State Council made a make-up working day (调休). The
``chinesecalendar`` package holds those decisions for the years it covers
(2004 to 2026 in version 1.11). The city publishes calendar releases for
other years and for corrections; a release for a year replaces the
package's data for that year. For a year covered by neither, only weekends
are counted and the result is marked provisional.

The day a case is accepted does not count: a limit of N working days ends
on the N-th working day after the acceptance day. A limit of 0 (an
on-the-spot matter) ends on the acceptance day itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Deadline:
    date: dt.date
    # True when a day in the range lies in a year that no calendar covers,
    # so holidays of that year were not known.
    provisional: bool


@dataclass(frozen=True)
class YearCalendar:
    """One year's decisions: holidays and make-up working days."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]

    @classmethod
    def from_content(cls, content: Mapping[str, object]) -> YearCalendar:
        year = int(content["year"])  # type: ignore[call-overload]
        return cls(
            year,
            frozenset(_dates(content.get("holidays", []))),  # type: ignore[arg-type]
            frozenset(_dates(content.get("workdays", []))),  # type: ignore[arg-type]
        )

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def _dates(values: Iterable[str]) -> Iterable[dt.date]:
    return (dt.date.fromisoformat(v) for v in values)


@dataclass(frozen=True)
class WorkingCalendar:
    """The package's data plus the city's calendar releases, by year."""

    years: Mapping[int, YearCalendar] = field(default_factory=dict)

    def is_working_day(self, day: dt.date) -> tuple[bool, bool]:
        """Return (is a working day, judged from weekends only)."""
        published = self.years.get(day.year)
        if published is not None:
            return published.is_working_day(day), False
        try:
            return chinese_calendar.is_workday(day), False
        except NotImplementedError:
            return day.weekday() < 5, True

    def covers(self, year: int) -> bool:
        if year in self.years:
            return True
        return not self.is_working_day(dt.date(year, 1, 1))[1]

    def add_working_days(self, start: dt.date, days: int) -> Deadline:
        """Return the day on which a limit of ``days`` working days from ``start`` ends."""
        if days < 0:
            raise ValueError(f"a time limit cannot be negative, got {days}")
        day, provisional, counted = start, False, 0
        while counted < days:
            day += dt.timedelta(days=1)
            working, guessed = self.is_working_day(day)
            provisional = provisional or guessed
            counted += working
        return Deadline(day, provisional)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Count working days after ``start`` up to and including ``end``.

        Returns 0 when ``end`` is not after ``start``.
        """
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_working_day(day)[0]
        return count


STATUTORY = WorkingCalendar()


def load_calendar(session: Session) -> WorkingCalendar:
    """Return the calendar with the newest release of each year held here."""
    from common.models import CalendarRelease

    years: dict[int, YearCalendar] = {}
    query = select(CalendarRelease).order_by(CalendarRelease.number)
    for release in session.scalars(query):
        years[release.year] = YearCalendar.from_content(release.content)
    return WorkingCalendar(years)


def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """Return (is a working day, judged from weekends only) without releases."""
    return STATUTORY.is_working_day(day)


def add_working_days(start: dt.date, days: int) -> Deadline:
    return STATUTORY.add_working_days(start, days)


def working_days_between(start: dt.date, end: dt.date) -> int:
    return STATUTORY.working_days_between(start, end)
