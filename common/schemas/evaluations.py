"""API schemas of evaluations (好差评), bad-review follow-ups and published results."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from common.evaluation_models import Channel, Level

LEVELS = validate.OneOf([level.value for level in Level])
CASE_ID = validate.Length(min=1, max=40)
NOTE = validate.Length(min=1, max=2000)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


class ApplicantRatingSchema(Schema):
    """A rating the applicant gives alone, at the window device or on the web."""

    class Meta:
        unknown = RAISE

    case_id = fields.String(required=True, validate=CASE_ID)
    level = fields.String(required=True, validate=LEVELS)
    channel = fields.String(
        required=True, validate=validate.OneOf([Channel.DEVICE, Channel.WEB])
    )
    # The last 4 digits of the applicant's phone, which show the case is theirs.
    phone_last4 = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}\Z"))
    comment = fields.String(validate=validate.Length(max=500))


class EnteredRatingSchema(Schema):
    """A rating that staff enter for the applicant: a paper slip or a hotline call."""

    class Meta:
        unknown = RAISE

    case_id = fields.String(required=True, validate=CASE_ID)
    level = fields.String(required=True, validate=LEVELS)
    channel = fields.String(
        required=True, validate=validate.OneOf([Channel.SLIP, Channel.HOTLINE])
    )
    slip_number = fields.String(validate=validate.Length(min=1, max=40))
    comment = fields.String(validate=validate.Length(max=500))

    @validates_schema
    def _slip_needs_number(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("channel") == Channel.SLIP and not data.get("slip_number"):
            raise ValidationError("give the number printed on the slip", "slip_number")


class EvaluationSchema(Schema):
    id = fields.Integer()
    case_id = fields.String()
    level = fields.String()
    bad = fields.Boolean()
    channel = fields.String()
    slip_number = fields.String(allow_none=True)
    department = fields.String()
    window = fields.String(allow_none=True)
    rated_at = fields.AwareDateTime()
    excluded = fields.Boolean()
    # The follow-up that a bad review opened, or None for a good one.
    follow_up_id = fields.Integer(allow_none=True)


class VerifySchema(Schema):
    """The outcome of calling the applicant back about a bad review."""

    class Meta:
        unknown = RAISE

    verified = fields.Boolean(required=True)
    note = fields.String(required=True, validate=NOTE)

    @validates("note")
    def _note_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)


class RectifySchema(Schema):
    class Meta:
        unknown = RAISE

    note = fields.String(required=True, validate=NOTE)

    @validates("note")
    def _note_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)


class ExcludeSchema(Schema):
    """An appeal's finding that a bad review is mistaken or malicious."""

    class Meta:
        unknown = RAISE

    reason = fields.String(
        required=True, validate=validate.OneOf(["mistaken", "malicious"])
    )
    note = fields.String(required=True, validate=NOTE)

    @validates("note")
    def _note_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)


class FollowUpQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(
        validate=validate.OneOf(["open", "verified", "rectified", "excluded"])
    )


class FollowUpSchema(Schema):
    id = fields.Integer()
    evaluation_id = fields.Integer()
    case_id = fields.String()
    department = fields.String()
    window = fields.String(allow_none=True)
    level = fields.String()
    status = fields.String()
    opened_at = fields.AwareDateTime()
    deadline = fields.Date()
    deadline_provisional = fields.Boolean()
    verified = fields.Boolean(allow_none=True)
    verification_note = fields.String(allow_none=True)
    rectification_note = fields.String(allow_none=True)
    on_time = fields.Boolean(allow_none=True)
    exclusion_reason = fields.String(allow_none=True)
    exclusion_note = fields.String(allow_none=True)


class ResultSchema(Schema):
    """Counts of one department or window. The rate leaves out excluded reviews."""

    department = fields.String()
    window = fields.String(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    counted = fields.Integer()
    bad = fields.Integer()
    excluded = fields.Integer()
    # (counted - bad) / counted, or None while nothing is counted.
    satisfaction_rate = fields.Float(allow_none=True)
    follow_ups_open = fields.Integer()
    rectified = fields.Integer()
    rectified_late = fields.Integer()


class SummarySchema(Schema):
    total = fields.Nested(ResultSchema)
    departments = fields.List(fields.Nested(ResultSchema))
    windows = fields.List(fields.Nested(ResultSchema))
