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
    # The queue ticket of an applicant served at this node's window.
    ticket_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31))


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
    result = fields.String(allow_none=True)
    handover = fields.String(allow_none=True)
    supplement = fields.List(fields.Dict(), allow_none=True)


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
    department = fields.String()
    kind = fields.String()
    joint = fields.Boolean()
    light = fields.String()
    light_label = fields.String()
    deemed_accepted = fields.Boolean()
    supplement_notices = fields.Integer()
    clock_stopped_at = fields.AwareDateTime(allow_none=True)
    paused_working_days = fields.Integer()
    materials_checked = fields.List(fields.Dict(), allow_none=True)
    handover = fields.String(allow_none=True)
    ticket_id = fields.Integer(allow_none=True)
    # Set when the applicant had another open case of the same matter here;
    # the clerk decides whether it is a duplicate.
    possible_duplicate = fields.Boolean()
    possible_duplicates = fields.List(fields.String())


class CaseStepSchema(Schema):
    position = fields.Integer()
    name = fields.String()
    role = fields.String()
    role_text = fields.String()
    department = fields.String()
    limit_working_days = fields.Integer(allow_none=True)
    status = fields.String()
    started_at = fields.AwareDateTime(allow_none=True)
    deadline = fields.Date(allow_none=True)
    deadline_provisional = fields.Boolean()
    finished_at = fields.AwareDateTime(allow_none=True)
    opinion = fields.String(allow_none=True)
    light = fields.String()


class SupplementNoticeOutSchema(Schema):
    number = fields.Integer()
    missing = fields.List(fields.Dict())
    reason = fields.String(allow_none=True)
    issued_at = fields.AwareDateTime()
    resolved_at = fields.AwareDateTime(allow_none=True)
    paused_working_days = fields.Integer(allow_none=True)


class JointOpinionSchema(Schema):
    department = fields.String()
    deadline = fields.Date(allow_none=True)
    deadline_provisional = fields.Boolean()
    decision = fields.String(allow_none=True)
    opinion = fields.String(allow_none=True)
    given_at = fields.AwareDateTime(allow_none=True)
    light = fields.String()


class JointReviewSchema(Schema):
    lead = fields.String()
    departments = fields.List(fields.String())
    inspection_on = fields.Date(allow_none=True)
    inspection_note = fields.String(allow_none=True)
    meeting_on = fields.Date(allow_none=True)
    meeting_outcome = fields.String(allow_none=True)
    minutes = fields.String(allow_none=True)
    minutes_at = fields.AwareDateTime(allow_none=True)
    opinions = fields.List(fields.Nested(JointOpinionSchema))


class TimelineEntrySchema(Schema):
    seq = fields.Integer()
    kind = fields.String()
    at = fields.AwareDateTime()
    payload = fields.Dict()


class CaseDetailSchema(CaseSchema):
    steps = fields.List(fields.Nested(CaseStepSchema))
    notices = fields.List(fields.Nested(SupplementNoticeOutSchema))
    joint_review = fields.Nested(JointReviewSchema, allow_none=True)
    timeline = fields.List(fields.Nested(TimelineEntrySchema))


TEXT = validate.Length(min=1, max=2000)
COUNT = validate.Range(min=0, max=99)


class HandedInSchema(Schema):
    """One material as handed in: its name and how many originals and copies."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    originals = fields.Integer(load_default=0, strict=True, validate=COUNT)
    copies = fields.Integer(load_default=0, strict=True, validate=COUNT)


class IntakeSchema(Schema):
    class Meta:
        unknown = RAISE

    materials = fields.List(
        fields.Nested(HandedInSchema), required=True, validate=validate.Length(max=50)
    )


class NoticeInSchema(Schema):
    class Meta:
        unknown = RAISE

    # Required for a second notice: why the first one missed a material.
    reason = fields.String(validate=TEXT)


class StepActionSchema(Schema):
    class Meta:
        unknown = RAISE

    opinion = fields.String(required=True, validate=TEXT)


class CompleteSchema(Schema):
    class Meta:
        unknown = RAISE

    result = fields.String(required=True, validate=TEXT)
    handover = fields.String(
        load_default="window",
        validate=validate.OneOf(["window", "post", "filing_node"]),
    )


class InspectionSchema(Schema):
    class Meta:
        unknown = RAISE

    on = fields.Date(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class OpinionInSchema(Schema):
    class Meta:
        unknown = RAISE

    department = fields.String(required=True, validate=validate.Length(min=1, max=100))
    decision = fields.String(
        required=True, validate=validate.OneOf(["agree", "conditional", "disagree"])
    )
    opinion = fields.String(required=True, validate=TEXT)


class MeetingSchema(Schema):
    class Meta:
        unknown = RAISE

    on = fields.Date(required=True)
    outcome = fields.String(required=True, validate=TEXT)


class MinutesSchema(Schema):
    class Meta:
        unknown = RAISE

    minutes = fields.String(required=True, validate=TEXT)
    handover = fields.String(
        load_default="window",
        validate=validate.OneOf(["window", "post", "filing_node"]),
    )


class RejectSchema(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CaseQuerySchema(Schema):
    status = fields.String(
        validate=validate.OneOf(["received", "accepted", "rejected", "completed"])
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
