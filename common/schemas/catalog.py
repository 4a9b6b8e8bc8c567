"""Schemas of the standards catalog: matters, delegations and releases."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from common.divisions import Tier

HANDLING_TIERS = [Tier.CITY.value, Tier.COUNTY.value, Tier.TOWNSHIP.value]
KINDS = ["immediate", "promised"]
WORKING_DAYS = validate.Range(min=0, max=3650)


class MaterialSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # None where the published guide did not say how many.
    originals = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 99)
    )
    copies = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 99)
    )
    required = fields.Boolean(load_default=True)


class StepSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(load_default=None, allow_none=True)
    limit_working_days = fields.Integer(
        load_default=None, allow_none=True, validate=WORKING_DAYS
    )


class JointSchema(Schema):
    lead = fields.String(required=True, validate=validate.Length(min=1))
    departments = fields.List(
        fields.String(validate=validate.Length(min=1)), required=True
    )


class MatterSchema(Schema):
    """One matter's standard, as imported and as carried in a release."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    department = fields.String(required=True, validate=validate.Length(min=1, max=100))
    handling_tier = fields.String(
        required=True, validate=validate.OneOf(HANDLING_TIERS)
    )
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    legal_limit_working_days = fields.Integer(
        load_default=None, allow_none=True, validate=WORKING_DAYS
    )
    promised_limit_working_days = fields.Integer(required=True, validate=WORKING_DAYS)
    materials = fields.List(fields.Nested(MaterialSchema), load_default=list)
    steps = fields.List(fields.Nested(StepSchema), load_default=list)
    fee = fields.String(load_default=None, allow_none=True)
    legal_basis = fields.List(fields.String(), load_default=list)
    joint = fields.Nested(JointSchema, load_default=None, allow_none=True)
    visits_required = fields.Integer(load_default=None, allow_none=True)
    assumed_fields = fields.List(fields.String(), load_default=list)
    based_on_guides = fields.List(fields.Integer(), load_default=list)
    # Taken in at the center's windows (进驻) rather than at the department's
    # own office. True unless stated: every approving department has a
    # window in the center.
    in_center = fields.Boolean(load_default=True)
    # The department has authorized its window to decide the matter there
    # (窗口授权). None when not stated, which counts an on-the-spot matter
    # as authorized, because it is finished at the window, and a promised
    # matter as not authorized.
    window_authorized = fields.Boolean(load_default=None, allow_none=True)

    @validates_schema
    def check_limits(self, data: dict[str, Any], **_: Any) -> None:
        legal = data.get("legal_limit_working_days")
        promised = data["promised_limit_working_days"]
        if legal is not None and promised > legal:
            raise ValidationError(
                f"the promised limit ({promised}) exceeds the legal limit ({legal})",
                "promised_limit_working_days",
            )
        if data["kind"] == "immediate" and promised != 0:
            raise ValidationError(
                "an immediate matter is finished at the window; its promised limit is 0",
                "promised_limit_working_days",
            )


class DelegationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    matter_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    region = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9]{6}([0-9]{3})?([0-9]{3})?\Z")
    )
    handled_by_tier = fields.String(
        required=True, validate=validate.OneOf(HANDLING_TIERS)
    )
    note = fields.String(load_default="")


def _whole(low: int, high: int, default: int) -> fields.Integer:
    return fields.Integer(
        load_default=default, strict=True, validate=validate.Range(min=low, max=high)
    )


class DeductionsSchema(Schema):
    """Points a window loses in its monthly assessment, per occurrence."""

    class Meta:
        unknown = RAISE

    # Per clerk absent from a staffed window during working hours; the window
    # also loses its red-flag eligibility for the month.
    staffing_gap_per_clerk = _whole(0, 100, 1)
    overdue_case = _whole(0, 100, 2)
    second_supplement_notice = _whole(0, 100, 1)
    verified_complaint = _whole(0, 100, 2)
    bad_review = _whole(0, 100, 1)


class PoliciesSchema(Schema):
    """Rules the city sets for every center, published with the catalog."""

    class Meta:
        unknown = RAISE

    # Working days to rectify a verified bad review; local rules range 5 to 15.
    bad_review_rectify_working_days = _whole(5, 15, 5)
    # A window's marks at the start of each month.
    window_full_marks = _whole(1, 1000, 100)
    deductions = fields.Nested(
        DeductionsSchema, load_default=lambda: DeductionsSchema().load({})
    )
    hotline_reply_working_days = fields.Nested(
        "HotlineDeadlinesSchema", load_default=lambda: HotlineDeadlinesSchema().load({})
    )


class HotlineDeadlinesSchema(Schema):
    """Working days to reply to a 96123 hotline ticket, by kind."""

    class Meta:
        unknown = RAISE

    consultation = _whole(0, 60, 1)
    query = _whole(0, 60, 1)
    complaint = _whole(0, 60, 5)
    report = _whole(0, 60, 10)


class CatalogContentSchema(Schema):
    matters = fields.List(fields.Nested(MatterSchema), required=True)
    delegations = fields.List(fields.Nested(DelegationSchema), load_default=list)
    policies = fields.Nested(
        PoliciesSchema, load_default=lambda: PoliciesSchema().load({})
    )


class ReleaseSchema(Schema):
    """A release as it travels from parent to child."""

    number = fields.Integer(required=True, validate=validate.Range(min=1))
    content_hash = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9a-f]{64}\Z")
    )
    published_at = fields.AwareDateTime(required=True)
    content = fields.Nested(CatalogContentSchema, required=True)


class MatterSummarySchema(Schema):
    code = fields.String()
    name = fields.String()
    department = fields.String()
    handling_tier = fields.String()
    kind = fields.String()
    legal_limit_working_days = fields.Integer(allow_none=True)
    promised_limit_working_days = fields.Integer()
    release = fields.Integer()


class ServiceGuideSchema(MatterSummarySchema):
    """A matter's full public standard (办事指南)."""

    materials = fields.List(fields.Nested(MaterialSchema))
    steps = fields.List(fields.Nested(StepSchema))
    fee = fields.String(allow_none=True)
    legal_basis = fields.List(fields.String())
    joint = fields.Nested(JointSchema, allow_none=True)
    visits_required = fields.Integer(allow_none=True)
    assumed_fields = fields.List(fields.String())
    delegations = fields.List(fields.Nested(DelegationSchema))


class ReleaseInfoSchema(Schema):
    number = fields.Integer(allow_none=True)
    content_hash = fields.String(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    matters = fields.Integer()
