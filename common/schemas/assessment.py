"""API schemas of window staffing and the monthly window assessment."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
YEARS = validate.Range(min=2000, max=2100)
# A center's working day has a morning and an afternoon; four periods leave
# room for a split shift without letting a typo create dozens.
MAX_PERIODS = 4


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# --- staffing ------------------------------------------------------------------


class PeriodSchema(_Strict):
    """One period of working hours, in China time."""

    start = fields.Time(required=True, format="%H:%M")
    end = fields.Time(required=True, format="%H:%M")

    @validates_schema
    def _start_before_end(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["start"] >= data["end"]:
            raise ValidationError("must start before it ends", "end")


class WorkingHoursSchema(_Strict):
    """A center's working hours, the same on every working day."""

    periods = fields.List(
        fields.Nested(PeriodSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_PERIODS),
    )

    @validates_schema
    def _in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        periods = data["periods"]
        for earlier, later in zip(periods, periods[1:], strict=False):
            if later["start"] < earlier["end"]:
                raise ValidationError(
                    "periods must be in time order and must not overlap", "periods"
                )


class GapComputeSchema(_Strict):
    day = fields.Date(required=True)


class RosterQuerySchema(_Strict):
    # Today when missing.
    day = fields.Date()


class ShiftSchema(Schema):
    signed_in_at = fields.AwareDateTime(required=True)
    signed_out_at = fields.AwareDateTime(allow_none=True)


class ShiftOutSchema(ShiftSchema):
    """A clerk's shift, as returned after signing in or out."""

    id = fields.Integer()
    window_id = fields.Integer()
    window = fields.String()
    user_id = fields.Integer()
    username = fields.String()
    day = fields.Date()


class RosterClerkSchema(Schema):
    user_id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    present = fields.Boolean()
    shifts = fields.List(fields.Nested(ShiftSchema))


class RosterWindowSchema(Schema):
    window_id = fields.Integer()
    window = fields.String()
    department = fields.String()
    clerks = fields.List(fields.Nested(RosterClerkSchema))


class RosterSchema(Schema):
    day = fields.Date()
    working_day = fields.Boolean()
    working_hours = fields.Nested(WorkingHoursSchema)
    windows = fields.List(fields.Nested(RosterWindowSchema))


class GapSchema(Schema):
    id = fields.Integer()
    window_id = fields.Integer()
    window = fields.String()
    department = fields.String()
    user_id = fields.Integer()
    username = fields.String()
    day = fields.Date()
    minutes_missing = fields.Integer()


class GapComputeResultSchema(Schema):
    day = fields.Date()
    working_day = fields.Boolean()
    # Gaps recorded by this request; the others were recorded before.
    recorded = fields.Integer()
    gaps = fields.List(fields.Nested(GapSchema))


# --- assessment ----------------------------------------------------------------


def parse_month(value: str) -> tuple[dt.date, dt.date]:
    """Return the first and last day of a ``YYYY-MM`` month, or raise ``ValidationError``."""
    match = MONTH.match(value)
    if match is None:
        raise ValidationError("must be a month written YYYY-MM, such as 2026-11")
    year, month = int(match.group(1)), int(match.group(2))
    if year < YEARS.min or year > YEARS.max:  # type: ignore[operator]
        raise ValidationError(f"year must be from {YEARS.min} to {YEARS.max}")
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


class MonthSchema(_Strict):
    month = fields.String(required=True)

    @validates_schema
    def _valid_month(self, data: dict[str, Any], **kwargs: Any) -> None:
        try:
            parse_month(data["month"])
        except ValidationError as exc:
            raise ValidationError(exc.messages, "month") from exc


class YearSchema(_Strict):
    year = fields.Integer(required=True, validate=YEARS)


class DeductionSchema(Schema):
    rule = fields.String()
    points = fields.Integer()
    source_kind = fields.String()
    source_id = fields.String()


class WindowScoreSchema(Schema):
    window_id = fields.Integer()
    window = fields.String()
    department = fields.String()
    full_marks = fields.Integer()
    score = fields.Integer()
    red_flag = fields.Boolean()
    computed_at = fields.AwareDateTime()
    deductions = fields.List(fields.Nested(DeductionSchema))


class MonthScoresSchema(Schema):
    month = fields.String()
    windows = fields.List(fields.Nested(WindowScoreSchema))
    red_flag_windows = fields.List(fields.String())


class ComputeResultSchema(MonthScoresSchema):
    # Windows whose score or red flag changed, each announced by an event.
    changed = fields.List(fields.Integer())


class WindowYearSchema(Schema):
    window_id = fields.Integer()
    window = fields.String()
    department = fields.String()
    months_scored = fields.Integer()
    red_flag_months = fields.Integer()
    five_star = fields.Boolean()


class DepartmentYearSchema(Schema):
    department = fields.String()
    # Window-months scored in the year.
    scores = fields.Integer()
    average_score = fields.Float()
    component = fields.Float()


class YearSummarySchema(Schema):
    year = fields.Integer()
    five_star_min_red_flag_months = fields.Integer()
    component_points = fields.Integer()
    windows = fields.List(fields.Nested(WindowYearSchema))
    departments = fields.List(fields.Nested(DepartmentYearSchema))
