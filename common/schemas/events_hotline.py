"""Payload schemas of the events that carry a hotline ticket to its routed node.

These events belong to no case, so they are emitted with case_id None. A
case that a ticket names travels inside the payload under ``case_id``, read
under another attribute name because ``event_errors`` compares a schema
field named case_id with the event's own case_id.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from common.schemas.sync import DIVISION_CODE

TICKET_ID = validate.Range(min=1)
ROUTING = validate.Range(min=1)
NUMBER = validate.Length(min=1, max=40)
TEXT = validate.Length(min=1, max=2000)


class HotlineEventSchema(Schema):
    class Meta:
        unknown = INCLUDE

    ticket_id = fields.Integer(required=True, strict=True, validate=TICKET_ID)
    number = fields.String(required=True, validate=NUMBER)
    routing = fields.Integer(required=True, strict=True, validate=ROUTING)


class HotlineRoutedSchema(HotlineEventSchema):
    """A ticket sent to the node it is routed to, without the caller's name or phone."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(["consultation", "query", "complaint", "report"]),
    )
    subject = fields.String(required=True, validate=TEXT)
    # "" for a ticket routed to the city with no department named.
    department = fields.String(required=True, validate=validate.Length(max=100))
    matter_code = fields.String(
        required=True, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    ticket_case_id = fields.String(
        data_key="case_id",
        required=True,
        allow_none=True,
        validate=validate.Length(min=1, max=40),
    )
    caller_division = fields.String(required=True, validate=DIVISION_CODE)
    routed_at = fields.AwareDateTime(required=True)
    deadline = fields.Date(required=True)
    deadline_provisional = fields.Boolean(required=True)


class HotlineWithdrawnSchema(HotlineEventSchema):
    """A ticket taken back from the node it was routed to, because it was re-routed."""

    rerouted_to = fields.String(required=True, validate=DIVISION_CODE)
    withdrawn_at = fields.AwareDateTime(required=True)


class HotlineClosedSchema(HotlineEventSchema):
    """A ticket the city closed, sent to the node it is routed to."""

    closed_at = fields.AwareDateTime(required=True)


class HotlineRepliedSchema(HotlineEventSchema):
    """The routed node's reply, sent up to the city."""

    reply = fields.String(required=True, validate=TEXT)
    replied_at = fields.AwareDateTime(required=True)


HOTLINE_PAYLOAD_SCHEMAS: dict[str, Schema] = {
    "hotline.routed": HotlineRoutedSchema(),
    "hotline.withdrawn": HotlineWithdrawnSchema(),
    "hotline.replied": HotlineRepliedSchema(),
    "hotline.closed": HotlineClosedSchema(),
}
