"""Schemas of working-day calendar releases: content, wire form and listings."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from common.calendar import STATUTORY
from common.schemas.sync import MAX_SEQUENCE

FIRST_YEAR = 2000
LAST_YEAR = 2100
# Dates one list may name before duplicates are dropped: a year has at most
# 366 days, so a longer list can only be a mistake.
MAX_DATES = 366
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
SATURDAY = 5


class IsoDate(fields.Field):
    """A date written as ``YYYY-MM-DD``; an invalid value is named in the error."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.date:
        if not isinstance(value, str) or not ISO_DATE.match(value):
            raise ValidationError(f"{value!r} is not a date in the form YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(f"{value!r} is not a valid date: {exc}") from exc

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.date) else value


def _date_list() -> fields.List:
    return fields.List(
        IsoDate(),
        load_default=list,
        validate=validate.Length(
            max=MAX_DATES, error=f"a year has at most {MAX_DATES} days to list"
        ),
    )


def covered_by_package(year: int) -> bool:
    """Tell whether the installed chinesecalendar package contains ``year``'s holidays."""
    return STATUTORY.covers(year)


class CalendarContentSchema(Schema):
    """One year's holidays and make-up working days, as published by the city.

    Loading returns the canonical form: dates as ISO strings, sorted and
    without duplicates, so that equal calendars hash equally. A holiday may
    fall on a weekend, because a holiday period (for example 2026-02-15 to
    2026-02-23) includes its Saturdays and Sundays. A make-up working day
    must be a Saturday or a Sunday, because a weekday is a working day anyway.
    """

    year = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(
            min=FIRST_YEAR,
            max=LAST_YEAR,
            error=f"year must be from {FIRST_YEAR} to {LAST_YEAR}, got {{input}}",
        ),
    )
    holidays = _date_list()
    workdays = _date_list()
    # Where the dates come from, for example the State Council notice. A
    # calendar made up for testing states that here.
    source = fields.String(load_default="", validate=validate.Length(max=500))
    # Set to replace the chinesecalendar package's data for a year it covers,
    # for a correction; the source must then say where the dates come from.
    corrects_package = fields.Boolean(load_default=False)

    @validates_schema
    def check_dates(self, data: dict[str, Any], **_: Any) -> None:
        year = data["year"]
        holidays, workdays = set(data["holidays"]), set(data["workdays"])
        problems: dict[str, list[str]] = {}
        for name, days in (("holidays", holidays), ("workdays", workdays)):
            outside = sorted(d.isoformat() for d in days if d.year != year)
            if outside:
                problems[name] = [f"dates outside year {year}: {', '.join(outside)}"]
        if not holidays:
            problems.setdefault("holidays", []).append(
                "a year's calendar lists at least one holiday; a release replaces "
                "every holiday of its year"
            )
        both = sorted(d.isoformat() for d in holidays & workdays)
        if both:
            problems.setdefault("workdays", []).append(
                f"dates listed both as holiday and as working day: {', '.join(both)}"
            )
        weekdays = sorted(d.isoformat() for d in workdays if d.weekday() < SATURDAY)
        if weekdays:
            problems.setdefault("workdays", []).append(
                "a make-up working day must be a Saturday or a Sunday, not "
                + ", ".join(weekdays)
            )
        if covered_by_package(year) and not data["corrects_package"]:
            problems.setdefault("year", []).append(
                f"the chinesecalendar package covers {year}; to correct its dates, "
                "set corrects_package to true and name the notice in source"
            )
        if data["corrects_package"] and not data["source"].strip():
            problems.setdefault("source", []).append(
                "a correction of the package's dates names its source"
            )
        if problems:
            raise ValidationError(problems)

    @post_load
    def canonical(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {
            "year": data["year"],
            "holidays": sorted({d.isoformat() for d in data["holidays"]}),
            "workdays": sorted({d.isoformat() for d in data["workdays"]}),
            "source": data["source"].strip(),
            **({"corrects_package": True} if data["corrects_package"] else {}),
        }


class CalendarReleaseSchema(Schema):
    """A calendar release as it travels down the tree.

    ``content`` is checked separately, because its hash covers it exactly
    as sent.
    """

    number = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_SEQUENCE)
    )
    year = fields.Integer(required=True, strict=True)
    content_hash = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9a-f]{64}\Z")
    )
    published_at = fields.AwareDateTime(required=True)
    content = fields.Dict(required=True)


class CalendarQuerySchema(Schema):
    after = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=MAX_SEQUENCE)
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class CalendarPageSchema(Schema):
    releases = fields.List(fields.Dict(), required=True)


class CalendarReleaseInfoSchema(Schema):
    """A calendar release held by a node, with its date counts."""

    number = fields.Integer()
    year = fields.Integer()
    content_hash = fields.String()
    published_at = fields.AwareDateTime()
    applied_at = fields.AwareDateTime()
    holidays = fields.Integer()
    workdays = fields.Integer()
    source = fields.String()
    # True for the newest release of its year, the one deadlines use.
    in_effect = fields.Boolean()


class PackageCoverageSchema(Schema):
    """The years whose calendar the installed ``chinesecalendar`` package holds."""

    version = fields.String()
    first_year = fields.Integer()
    last_year = fields.Integer()


class CalendarsSchema(Schema):
    package = fields.Nested(PackageCoverageSchema)
    releases = fields.List(fields.Nested(CalendarReleaseInfoSchema))


class PublishedCalendarSchema(Schema):
    """The response to a publication request: the release, and whether it is new."""

    published = fields.Boolean()
    release = fields.Nested(CalendarReleaseInfoSchema, allow_none=True)
