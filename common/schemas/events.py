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


class CaseAcceptedSchema(EventPayloadSchema):
    accepted_at = fields.AwareDateTime(required=True)
    release = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    promised_limit_working_days = fields.Integer(
        required=True, strict=True, validate=WORKING_DAYS
    )
    deadline = fields.Date(required=True)
    deadline_provisional = fields.Boolean(required=True)


class CaseRejectedSchema(EventPayloadSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    rejected_at = fields.AwareDateTime(required=True)


class CaseCompletedSchema(EventPayloadSchema):
    completed_at = fields.AwareDateTime(required=True)
    working_days_used = fields.Integer(
        required=True, strict=True, validate=WORKING_DAYS
    )
    on_time = fields.Boolean(required=True)


PAYLOAD_SCHEMAS: dict[str, Schema] = {
    "application.filed": ApplicationFiledSchema(),
    "case.received": CaseReceivedSchema(),
    "case.accepted": CaseAcceptedSchema(),
    "case.rejected": CaseRejectedSchema(),
    "case.completed": CaseCompletedSchema(),
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
    elif event["payload"]["case_id"] != event["case_id"]:
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
