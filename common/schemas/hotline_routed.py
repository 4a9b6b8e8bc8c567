"""API schemas of hotline tickets at the node they are routed to."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

REPLY_MAX_LENGTH = 2000


class RoutedQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(["open", "replied"]))


class RoutedReplySchema(Schema):
    """The reply of the routed node's staff, which the city reads to the caller."""

    class Meta:
        unknown = RAISE

    reply = fields.String(
        required=True, validate=validate.Length(min=1, max=REPLY_MAX_LENGTH)
    )

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
    # Working days from today, or from the day of the reply or of the closing,
    # to the reply deadline. Negative once the deadline has passed.
    working_days_left = fields.Integer()
    # Replied or closed after the deadline, or still open past it.
    overdue = fields.Boolean()
    reply = fields.String(allow_none=True)
    replied_at = fields.AwareDateTime(allow_none=True)
    # Time the city closed the ticket. A closed ticket takes no more replies.
    closed_at = fields.AwareDateTime(allow_none=True)
