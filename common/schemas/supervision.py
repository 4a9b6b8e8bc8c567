"""API schemas of electronic supervision: the warning threshold, accountability
records and the worklists."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

THRESHOLD_KINDS = ("working_days", "share")
# A warning further ahead than this would turn most open cases yellow.
MAX_THRESHOLD_WORKING_DAYS = 30
DECISIONS = ("excused", "deducted")
MAX_POINTS = 100


class ThresholdSchema(Schema):
    """When an item turns yellow: at or below ``value`` working days left
    (``working_days``), or at or below that share of its limit (``share``)."""

    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(THRESHOLD_KINDS))
    value = fields.Float(required=True, allow_nan=False)

    @validates_schema
    def check_value(self, data: dict[str, Any], **kwargs: Any) -> None:
        value = data.get("value")
        if value is None or isinstance(value, bool):
            return
        if data.get("kind") == "working_days":
            whole = float(value).is_integer()
            if not whole or not 0 <= value <= MAX_THRESHOLD_WORKING_DAYS:
                raise ValidationError(
                    "give a whole number of working days from 0 to "
                    f"{MAX_THRESHOLD_WORKING_DAYS}, got {value}",
                    "value",
                )
            data["value"] = int(value)
        elif data.get("kind") == "share" and not 0 < value <= 1:
            raise ValidationError(
                f"give a share above 0 and at most 1 (0.2 is 20 %), got {value}",
                "value",
            )


class DecisionSchema(Schema):
    """A supervisor's decision on an accountability record."""

    class Meta:
        unknown = RAISE

    explanation = fields.String(
        required=True, validate=validate.Length(min=1, max=2000)
    )
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    # Points deducted from the window's assessment; only with "deducted".
    points = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=MAX_POINTS)
    )

    @validates_schema
    def check_points(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("explanation", "x").strip():
            raise ValidationError(
                "write the explanation, not only spaces", "explanation"
            )
        points = data.get("points")
        if data.get("decision") == "deducted" and points is None:
            raise ValidationError(
                f"a deduction needs its points, from 1 to {MAX_POINTS}", "points"
            )
        if data.get("decision") == "excused" and points is not None:
            raise ValidationError(
                "leave points out: an excused record deducts none", "points"
            )


class RecordQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    # True lists only undecided records, False only decided ones, absent all.
    open = fields.Boolean()
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class RecordSchema(Schema):
    id = fields.Integer()
    case_id = fields.String()
    breach = fields.String()
    breach_label = fields.String()
    subject = fields.String()
    department = fields.String()
    user_id = fields.Integer(allow_none=True)
    user_name = fields.String(allow_none=True)
    deadline = fields.Date(allow_none=True)
    working_days_late = fields.Integer()
    opened_at = fields.AwareDateTime()
    explanation = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    points = fields.Integer(allow_none=True)
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)


class StepRefSchema(Schema):
    position = fields.Integer()
    name = fields.String()


class ClerkItemSchema(Schema):
    """An open case on a window clerk's worklist."""

    case_id = fields.String()
    matter_code = fields.String()
    matter_name = fields.String()
    status = fields.String()
    status_label = fields.String()
    light = fields.String()
    light_label = fields.String()
    deadline = fields.Date(allow_none=True)
    deadline_provisional = fields.Boolean()
    received_at = fields.AwareDateTime()
    current_step = fields.Nested(StepRefSchema, allow_none=True)
    supplement_open = fields.Boolean()
    possible_duplicates = fields.List(fields.String())


class WatchedItemSchema(Schema):
    """A case, an active step or a pending joint opinion under supervision."""

    # case, step or opinion
    item = fields.String()
    case_id = fields.String()
    matter_code = fields.String()
    matter_name = fields.String()
    # "" for a case, the step position, or the opinion's department
    subject = fields.String()
    name = fields.String()
    department = fields.String()
    light = fields.String()
    light_label = fields.String()
    deadline = fields.Date(allow_none=True)
    deadline_provisional = fields.Boolean()


class SupervisorWorklistSchema(Schema):
    warnings = fields.List(fields.Nested(WatchedItemSchema))
    overdue = fields.List(fields.Nested(WatchedItemSchema))
    records = fields.List(fields.Nested(RecordSchema))
