"""API schemas of applications (filing side) and cases (handling side)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from common.validation import (
    validate_id_number,
    validate_person_name,
    validate_phone,
)


class ApplicantSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), validate_person_name],
    )
    id_number = fields.String(required=True, validate=validate_id_number)
    phone = fields.String(required=True, validate=validate_phone)


class ApplicationInSchema(Schema):
    """A proxy application as a village agent or a clerk files it."""

    class Meta:
        unknown = RAISE

    matter_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    applicant = fields.Nested(ApplicantSchema, required=True)
    # Names of the materials handed in, as the matter's service guide lists them.
    materials = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=validate.Length(max=50),
    )


class ApplicationSchema(Schema):
    id = fields.String()
    matter_code = fields.String()
    release = fields.Integer()
    handler_code = fields.String()
    handler_name = fields.String()
    status = fields.String()
    status_label = fields.String()
    filed_at = fields.AwareDateTime()
    status_changed_at = fields.AwareDateTime()
    deadline = fields.Date(allow_none=True)
    deadline_provisional = fields.Boolean()
    reason = fields.String(allow_none=True)
    materials = fields.List(fields.String())


class CaseSchema(Schema):
    id = fields.String()
    matter_code = fields.String()
    release = fields.Integer()
    filed_at_code = fields.String()
    status = fields.String()
    status_label = fields.String()
    applicant_name = fields.String()
    materials = fields.List(fields.String())
    received_at = fields.AwareDateTime()
    accepted_at = fields.AwareDateTime(allow_none=True)
    deadline = fields.Date(allow_none=True)
    deadline_provisional = fields.Boolean()
    completed_at = fields.AwareDateTime(allow_none=True)
    working_days_used = fields.Integer(allow_none=True)
    on_time = fields.Boolean(allow_none=True)
    reason = fields.String(allow_none=True)
    result = fields.String(allow_none=True)


class CompleteSchema(Schema):
    class Meta:
        unknown = RAISE

    result = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RejectSchema(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CaseQuerySchema(Schema):
    status = fields.String(
        validate=validate.OneOf(["received", "accepted", "rejected", "completed"])
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
