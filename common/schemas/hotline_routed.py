"""API schemas of hotline tickets at the node they are routed to."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates


class RoutedQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(["open", "replied"]))


class RoutedReplySchema(Schema):
    """The reply of the routed node's staff, which the city reads to the caller."""

    class Meta:
        unknown = RAISE

    reply = fields.String(required=True, validate=validate.Length(min=1, max=2000))

    @validates("reply")
    def _reply_not_blank(self, value: str, **kwargs: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")


class RoutedTicketSchema(Schema):
    """A ticket routed to this node; it carries no caller name or phone."""

    ticket_id = fields.Integer()
    number = fields.String()
    routing = fields.Integer()
    kind = fields.String()
    subject = fields.String()
    department = fields.String()
    matter_code = fields.String(allow_none=True)
    case_id = fields.String(allow_none=True)
    caller_division = fields.String()
    routed_at = fields.AwareDateTime()
    deadline = fields.Date()
    deadline_provisional = fields.Boolean()
    # Working days from today to the reply deadline, negative once it has passed.
    working_days_left = fields.Integer()
    # Replied after the deadline, or still without a reply past it.
    overdue = fields.Boolean()
    reply = fields.String(allow_none=True)
    replied_at = fields.AwareDateTime(allow_none=True)
