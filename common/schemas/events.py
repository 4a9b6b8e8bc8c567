"""Payload schemas of the event kinds that nodes act on.

A receiver checks each event of a known kind before storing it, so that a
malformed event is rejected with its field and reason instead of failing
the handler that acts on it. Unknown fields are allowed, so that a newer
origin can add some; unknown kinds are stored and relayed unchecked.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from common.schemas.events_hotline import HOTLINE_PAYLOAD_SCHEMAS
from common.schemas.events_sync import SYNC_PAYLOAD_SCHEMAS
from common.schemas.sync import DIVISION_CODE

CASE_ID = validate.Length(min=1, max=40)
WORKING_DAYS = validate.Range(min=0, max=3650)


class EventPayloadSchema(Schema):
    """Payload of an event about one case; the event's case_id must match it."""

    class Meta:
        unknown = INCLUDE

    case_id = fields.String(required=True, validate=CASE_ID)


class ApplicationFiledSchema(EventPayloadSchema):
    matter_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    release = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    filed_at = fields.String(required=True, validate=DIVISION_CODE)
    materials = fields.List(
        fields.String(validate=validate.Length(max=200)), required=True
    )
    applicant_pseudonym = fields.String(
        required=True, validate=validate.Length(equal=64)
    )


class PersonalSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    id_number = fields.String(required=True, validate=validate.Length(equal=18))
    phone = fields.String(required=True, validate=validate.Length(min=7, max=20))


class CaseReceivedSchema(EventPayloadSchema):
    matter_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    release = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    filed_at = fields.String(required=True, validate=DIVISION_CODE)
    handler = fields.String(required=True, validate=DIVISION_CODE)
    handler_tier = fields.String(
        required=True, validate=validate.OneOf(["city", "county", "township"])
    )
    promised_limit_working_days = fields.Integer(
        required=True, strict=True, validate=WORKING_DAYS
    )
    legal_limit_working_days = fields.Integer(
        strict=True, allow_none=True, validate=WORKING_DAYS
    )
    applicant_pseudonym = fields.String(
        required=True, validate=validate.Length(equal=64)
    )
    received_at = fields.AwareDateTime(required=True)
    department = fields.String(validate=validate.Length(max=100))
    kind = fields.String(validate=validate.OneOf(["immediate", "promised"]))
    joint = fields.Boolean()


class CaseAcceptedSchema(EventPayloadSchema):
    accepted_at = fields.AwareDateTime(required=True)
    release = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    promised_limit_working_days = fields.Integer(
        required=True, strict=True, validate=WORKING_DAYS
    )
    deadline = fields.Date(required=True)
    deadline_provisional = fields.Boolean(required=True)
    # Accepted by law: no supplement notice within 5 working days of intake.
    deemed = fields.Boolean()


class CaseRejectedSchema(EventPayloadSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    rejected_at = fields.AwareDateTime(required=True)


class CaseCompletedSchema(EventPayloadSchema):
    completed_at = fields.AwareDateTime(required=True)
    working_days_used = fields.Integer(
        required=True, strict=True, validate=WORKING_DAYS
    )
    on_time = fields.Boolean(required=True)
    result = fields.String(validate=validate.Length(max=2000))
    handover = fields.String(validate=validate.OneOf(["window", "post", "filing_node"]))


MISSING_MATERIAL = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
TEXT = validate.Length(max=2000)
DEPARTMENT = validate.Length(min=1, max=100)


class SupplementNoticeSchema(EventPayloadSchema):
    number = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    missing = fields.List(
        MISSING_MATERIAL, required=True, validate=validate.Length(min=1)
    )
    reason = fields.String(allow_none=True, validate=TEXT)
    issued_at = fields.AwareDateTime(required=True)


class SupplementReceivedSchema(EventPayloadSchema):
    number = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    resolved_at = fields.AwareDateTime(required=True)
    paused_working_days = fields.Integer(
        required=True, strict=True, validate=WORKING_DAYS
    )
    still_missing = fields.List(MISSING_MATERIAL, required=True)
    deadline = fields.Date()
    deadline_provisional = fields.Boolean()


class MaterialsCheckedSchema(EventPayloadSchema):
    materials = fields.List(MISSING_MATERIAL, required=True)


class DeadlineChangedSchema(EventPayloadSchema):
    deadline = fields.Date(required=True)
    deadline_provisional = fields.Boolean(required=True)


class StepStartedSchema(EventPayloadSchema):
    position = fields.Integer(required=True, strict=True, validate=WORKING_DAYS)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=validate.Length(min=1, max=40))
    department = fields.String(required=True, validate=validate.Length(max=100))
    limit_working_days = fields.Integer(
        required=True, strict=True, allow_none=True, validate=WORKING_DAYS
    )
    started_at = fields.AwareDateTime(required=True)
    deadline = fields.Date(required=True, allow_none=True)


class StepFinishedSchema(EventPayloadSchema):
    position = fields.Integer(required=True, strict=True, validate=WORKING_DAYS)
    outcome = fields.String(
        required=True, validate=validate.OneOf(["approved", "returned"])
    )
    finished_at = fields.AwareDateTime(required=True)
    on_time = fields.Boolean(required=True)


class JointOpenedSchema(EventPayloadSchema):
    lead = fields.String(required=True, validate=DEPARTMENT)
    departments = fields.List(fields.String(validate=DEPARTMENT), required=True)
    opinions_due = fields.Date(required=True)


class InspectionScheduledSchema(EventPayloadSchema):
    on = fields.Date(required=True)
    departments = fields.List(fields.String(validate=DEPARTMENT), required=True)
    note = fields.String(required=True, validate=TEXT)


class OpinionGivenSchema(EventPayloadSchema):
    department = fields.String(required=True, validate=DEPARTMENT)
    decision = fields.String(
        required=True, validate=validate.OneOf(["agree", "conditional", "disagree"])
    )
    given_at = fields.AwareDateTime(required=True)
    on_time = fields.Boolean(required=True)


class MeetingHeldSchema(EventPayloadSchema):
    on = fields.Date(required=True)
    outcome = fields.String(required=True, validate=TEXT)


class MinutesRecordedSchema(EventPayloadSchema):
    minutes_at = fields.AwareDateTime(required=True)


PAYLOAD_SCHEMAS: dict[str, Schema] = {
    "application.filed": ApplicationFiledSchema(),
    "case.received": CaseReceivedSchema(),
    "case.accepted": CaseAcceptedSchema(),
    "case.rejected": CaseRejectedSchema(),
    "case.completed": CaseCompletedSchema(),
    "case.supplement_notice": SupplementNoticeSchema(),
    "case.supplement_received": SupplementReceivedSchema(),
    "case.deadline_changed": DeadlineChangedSchema(),
    "case.materials_checked": MaterialsCheckedSchema(),
    "case.step_started": StepStartedSchema(),
    "case.step_finished": StepFinishedSchema(),
    "joint.opened": JointOpenedSchema(),
    "joint.inspection_scheduled": InspectionScheduledSchema(),
    "joint.opinion_given": OpinionGivenSchema(),
    "joint.meeting_held": MeetingHeldSchema(),
    "joint.minutes_recorded": MinutesRecordedSchema(),
}


def event_errors(event: dict[str, Any]) -> dict[str, Any]:
    """Return the problems of one event of a known kind, by field; empty if none."""
    schema = PAYLOAD_SCHEMAS.get(event["kind"])
    if schema is None:
        return {}
    errors: dict[str, Any] = {}
    payload_errors = schema.validate(event["payload"])
    if payload_errors:
        errors["payload"] = payload_errors
    elif "case_id" in schema.fields and event["payload"]["case_id"] != event["case_id"]:
        errors["case_id"] = ["must equal payload.case_id"]
    if event["kind"] == "application.filed":
        if event["payload"].get("filed_at") != event["origin"]:
            errors["payload.filed_at"] = [
                "must be the origin: applications are filed where they start"
            ]
        if not event["destination"]:
            errors["destination"] = ["an application names its handling node"]
    elif (
        event["kind"] == "case.received"
        and event["payload"].get("handler") != event["origin"]
    ):
        errors["payload.handler"] = [
            "must be the origin: only the handling node receives a case"
        ]
    if event.get("personal") is not None:
        personal_errors = PersonalSchema().validate(event["personal"])
        if personal_errors:
            errors["personal"] = personal_errors
    return errors


# --- queue tickets -------------------------------------------------------------
# Ticket events belong to no case: they are emitted with case_id None, so their
# schemas do not extend EventPayloadSchema, which requires one.

TICKET_STATUSES = ["waiting", "called", "done", "no_show"]
SECONDS = validate.Range(min=0, max=10**7)


class TicketEventSchema(Schema):
    """Payload of a queue ticket event, keyed by ``<node code>-<day>-<number>``."""

    class Meta:
        unknown = INCLUDE

    ticket = fields.String(required=True, validate=validate.Length(min=1, max=60))
    day = fields.Date(required=True)
    number = fields.String(required=True, validate=validate.Length(min=1, max=10))
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    status = fields.String(required=True, validate=validate.OneOf(TICKET_STATUSES))
    taken_at = fields.AwareDateTime(required=True)


class TicketTakenSchema(TicketEventSchema):
    status = fields.String(required=True, validate=validate.Equal("waiting"))


class TicketCalledSchema(TicketEventSchema):
    status = fields.String(required=True, validate=validate.Equal("called"))
    window = fields.String(required=True, validate=validate.Length(min=1, max=40))
    department = fields.String(required=True, validate=validate.Length(min=1, max=100))
    called_at = fields.AwareDateTime(required=True)
    waited_seconds = fields.Integer(required=True, strict=True, validate=SECONDS)


class TicketFinishedSchema(TicketCalledSchema):
    status = fields.String(required=True, validate=validate.OneOf(["done", "no_show"]))
    finished_at = fields.AwareDateTime(required=True)
    # None for a no-show, who was never served.
    service_seconds = fields.Integer(strict=True, allow_none=True, validate=SECONDS)
    # The payload's case_id is read under another attribute name, because
    # event_errors compares a schema field named case_id with the event's
    # case_id, which ticket events leave None.
    linked_case_id = fields.String(data_key="case_id", validate=CASE_ID)


PAYLOAD_SCHEMAS.update(
    {
        "ticket.taken": TicketTakenSchema(),
        "ticket.called": TicketCalledSchema(),
        "ticket.finished": TicketFinishedSchema(),
    }
)


# --- electronic supervision ----------------------------------------------------

LIGHTS = validate.OneOf(["green", "yellow", "red", "paused"])
BREACHES = validate.OneOf(
    ["case_overdue", "step_overdue", "opinion_overdue", "second_notice"]
)
SUBJECT = validate.Length(max=100)
RECORD_ID = validate.Range(min=1)


class LightChangedSchema(EventPayloadSchema):
    item = fields.String(
        required=True, validate=validate.OneOf(["case", "step", "opinion"])
    )
    # "" for the case, the step position, or the opinion's department
    subject = fields.String(required=True, validate=SUBJECT)
    light = fields.String(required=True, validate=LIGHTS)
    deadline = fields.Date(required=True, allow_none=True)
    changed_at = fields.AwareDateTime(required=True)


class AccountabilityOpenedSchema(EventPayloadSchema):
    record_id = fields.Integer(required=True, strict=True, validate=RECORD_ID)
    breach = fields.String(required=True, validate=BREACHES)
    subject = fields.String(required=True, validate=SUBJECT)
    department = fields.String(required=True, validate=validate.Length(max=100))
    user_id = fields.Integer(required=True, strict=True, allow_none=True)
    deadline = fields.Date(required=True, allow_none=True)
    working_days_late = fields.Integer(
        required=True, strict=True, validate=WORKING_DAYS
    )
    opened_at = fields.AwareDateTime(required=True)


class AccountabilityDecidedSchema(EventPayloadSchema):
    record_id = fields.Integer(required=True, strict=True, validate=RECORD_ID)
    decision = fields.String(
        required=True, validate=validate.OneOf(["excused", "deducted"])
    )
    # None when excused; 1 to 100 points deducted otherwise.
    points = fields.Integer(
        required=True,
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=100),
    )
    decided_at = fields.AwareDateTime(required=True)


PAYLOAD_SCHEMAS.update(
    {
        "case.light_changed": LightChangedSchema(),
        "accountability.opened": AccountabilityOpenedSchema(),
        "accountability.decided": AccountabilityDecidedSchema(),
    }
)


# --- evaluations and the 96123 hotline -------------------------------------------
# Written at the handling node (evaluations) or the city (hotline). None of
# them carries personal data.

EVALUATION_LEVELS = validate.OneOf(
    [
        "very_satisfied",
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
        "very_dissatisfied",
    ]
)


class EvaluationRecordedSchema(EventPayloadSchema):
    level = fields.String(required=True, validate=EVALUATION_LEVELS)
    bad = fields.Boolean(required=True)
    channel = fields.String(
        required=True, validate=validate.OneOf(["device", "web", "hotline", "slip"])
    )
    department = fields.String(required=True, validate=validate.Length(max=100))
    window = fields.String(required=True, allow_none=True, validate=SUBJECT)
    rated_at = fields.AwareDateTime(required=True)


class EvaluationFollowUpSchema(EventPayloadSchema):
    action = fields.String(
        required=True,
        validate=validate.OneOf(["opened", "verified", "rectified", "excluded"]),
    )
    department = fields.String(required=True, validate=validate.Length(max=100))
    window = fields.String(required=True, allow_none=True, validate=SUBJECT)
    # The rectification deadline.
    deadline = fields.Date(required=True)
    # Set by the call-back, the rectification and the exclusion, in that order.
    verified = fields.Boolean(required=True, allow_none=True)
    on_time = fields.Boolean(required=True, allow_none=True)
    exclusion_reason = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(["mistaken", "malicious"]),
    )
    at = fields.AwareDateTime(required=True)


class ComplaintVerifiedSchema(Schema):
    """A hotline complaint found true, in an event that belongs to no case."""

    class Meta:
        unknown = INCLUDE

    ticket = fields.String(required=True, validate=validate.Length(min=1, max=40))
    department = fields.String(required=True, validate=DEPARTMENT)
    # Read under another attribute name for the reason given at TicketFinishedSchema.
    complaint_case_id = fields.String(
        data_key="case_id", required=True, allow_none=True, validate=CASE_ID
    )
    handler = fields.String(required=True, validate=DIVISION_CODE)
    verified_at = fields.AwareDateTime(required=True)


PAYLOAD_SCHEMAS.update(
    {
        "evaluation.recorded": EvaluationRecordedSchema(),
        "evaluation.follow_up": EvaluationFollowUpSchema(),
        "hotline.complaint_verified": ComplaintVerifiedSchema(),
    }
)
PAYLOAD_SCHEMAS.update(HOTLINE_PAYLOAD_SCHEMAS)
PAYLOAD_SCHEMAS.update(SYNC_PAYLOAD_SCHEMAS)


# --- window staffing and assessment ----------------------------------------------
# These events belong to no case: like ticket events they are emitted with
# case_id None, so their schemas do not extend EventPayloadSchema.

WINDOW_NAME = validate.Length(min=1, max=40)
DEPARTMENT_NAME = validate.Length(min=1, max=100)
ROW_ID = validate.Range(min=1)


class StaffingEventSchema(Schema):
    """Payload of a staffing event: one clerk at one window on one day."""

    class Meta:
        unknown = INCLUDE

    window_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
    window = fields.String(required=True, validate=WINDOW_NAME)
    department = fields.String(required=True, validate=DEPARTMENT_NAME)
    user_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
    day = fields.Date(required=True)


class StaffingShiftSchema(StaffingEventSchema):
    signed_in_at = fields.AwareDateTime(required=True)
    # None while the clerk is still signed in.
    signed_out_at = fields.AwareDateTime(required=True, allow_none=True)


class StaffingGapSchema(StaffingEventSchema):
    gap_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
    # At most a whole day.
    minutes_missing = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=1440)
    )


class AssessmentMonthSchema(Schema):
    """Payload of a window's score of one month, sent when it changes."""

    class Meta:
        unknown = INCLUDE

    month = fields.String(
        required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$")
    )
    window_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
    window = fields.String(required=True, validate=WINDOW_NAME)
    department = fields.String(required=True, validate=DEPARTMENT_NAME)
    full_marks = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=1000)
    )
    score = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=1000)
    )
    red_flag = fields.Boolean(required=True)


PAYLOAD_SCHEMAS.update(
    {
        "staffing.signed_in": StaffingShiftSchema(),
        "staffing.signed_out": StaffingShiftSchema(),
        "staffing.gap": StaffingGapSchema(),
        "assessment.month": AssessmentMonthSchema(),
    }
)


# --- daily metric snapshots --------------------------------------------------

SNAPSHOT_COUNT = validate.Range(min=0, max=1_000_000)


class SnapshotCountsSchema(Schema):
    """A handling node's own counts of one day; a newer node may add figures."""

    class Meta:
        unknown = INCLUDE

    received = fields.Integer(required=True, strict=True, validate=SNAPSHOT_COUNT)
    accepted = fields.Integer(required=True, strict=True, validate=SNAPSHOT_COUNT)
    completed = fields.Integer(required=True, strict=True, validate=SNAPSHOT_COUNT)
    rejected = fields.Integer(required=True, strict=True, validate=SNAPSHOT_COUNT)
    supplement_notices = fields.Integer(
        required=True, strict=True, validate=SNAPSHOT_COUNT
    )


class MetricsSnapshotSchema(Schema):
    """Payload of ``metrics.snapshot``: one node's counts of one finished day (China date)."""

    class Meta:
        unknown = INCLUDE

    node = fields.String(required=True, validate=DIVISION_CODE)
    day = fields.Date(required=True)
    counts = fields.Nested(SnapshotCountsSchema, required=True)


PAYLOAD_SCHEMAS.update({"metrics.snapshot": MetricsSnapshotSchema()})
