"""API schemas of 96123 hotline tickets and of case queries by case number."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from common.evaluation_models import HotlineKind, Level
from common.schemas.sync import DIVISION_CODE
from common.validation import validate_phone

KINDS = validate.OneOf([kind.value for kind in HotlineKind])
LEVELS = validate.OneOf([level.value for level in Level])
TEXT = validate.Length(min=1, max=2000)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


class HotlineTicketInSchema(Schema):
    """A call or web message as the operator records it.

    The department may be left out when a matter or a case names it.
    ``caller_division`` picks the matter's handling node and defaults to the city.
    """

    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=KINDS)
    channel = fields.String(required=True, validate=validate.OneOf(["phone", "web"]))
    caller_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    caller_phone = fields.String(required=True, validate=validate_phone)
    caller_division = fields.String(validate=DIVISION_CODE)
    subject = fields.String(required=True, validate=TEXT)
    department = fields.String(validate=validate.Length(min=1, max=100))
    matter_code = fields.String(validate=validate.Length(min=1, max=64))
    case_id = fields.String(validate=validate.Length(min=1, max=40))

    @validates("caller_name")
    def _name_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)

    @validates("subject")
    def _subject_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)

    @validates("department")
    def _department_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)


class HotlineCloseSchema(Schema):
    """The reply given to the caller and the caller's rating of it.

    The reply may be left out once the routed node has sent one.
    """

    class Meta:
        unknown = RAISE

    reply = fields.String(validate=TEXT)
    caller_rating = fields.String(required=True, validate=LEVELS)

    @validates("reply")
    def _reply_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)


class ComplaintVerifySchema(Schema):
    class Meta:
        unknown = RAISE

    note = fields.String(required=True, validate=TEXT)

    @validates("note")
    def _note_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)


class HotlineRouteSchema(Schema):
    """A new routing of an open ticket; the department is kept when left out."""

    class Meta:
        unknown = RAISE

    routed_to = fields.String(required=True, validate=DIVISION_CODE)
    department = fields.String(validate=validate.Length(min=1, max=100))

    @validates("department")
    def _department_not_blank(self, value: str, **kwargs: Any) -> None:
        _not_blank(value)


class HotlineQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(["open", "closed", "overdue"]))


class HotlineTicketSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    kind = fields.String()
    channel = fields.String()
    caller_name = fields.String()
    caller_phone = fields.String()
    caller_division = fields.String()
    subject = fields.String()
    department = fields.String()
    matter_code = fields.String(allow_none=True)
    case_id = fields.String(allow_none=True)
    routed_to = fields.String()
    routing = fields.Integer()
    created_at = fields.AwareDateTime()
    deadline = fields.Date()
    deadline_provisional = fields.Boolean()
    closed_at = fields.AwareDateTime(allow_none=True)
    reply = fields.String(allow_none=True)
    # The routed node's reply, received before the ticket is closed.
    replied_at = fields.AwareDateTime(allow_none=True)
    reply_from = fields.String(allow_none=True)
    caller_rating = fields.String(allow_none=True)
    verified_at = fields.AwareDateTime(allow_none=True)
    verification_note = fields.String(allow_none=True)
    # Closed after the deadline, or still open past it.
    overdue = fields.Boolean()


class CaseStatusSchema(Schema):
    """A case's status as stored at the hub, which has no personal data."""

    case_id = fields.String()
    matter_code = fields.String()
    matter_name = fields.String(allow_none=True)
    status = fields.String()
    status_label = fields.String()
    handler_code = fields.String()
    department = fields.String()
    received_at = fields.AwareDateTime()
    deadline = fields.Date(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    on_time = fields.Boolean(allow_none=True)
    light = fields.String()
