"""Payload schemas of the event kinds that nodes act on.

A receiver checks each event of a known kind before storing it, so that a
malformed event is rejected with its field and reason instead of failing
the handler that acts on it. Unknown fields are allowed, so that a newer
origin can add some; unknown kinds are stored and relayed unchecked.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

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


MISSING_MATERIAL = fields.Dict(keys=fields.String(), values=fields.Raw())
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
