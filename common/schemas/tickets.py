"""API schemas of service windows and queue tickets."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

# A center numbers each category's tickets with one letter, A to Z.
MAX_CATEGORIES = 26
CATEGORY = validate.Length(min=1, max=40)
CASE_ID = validate.Length(min=1, max=40)


def _strip(value: str) -> str:
    return value.strip()


class WindowInSchema(Schema):
    """A new window as a center administrator describes it."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    department = fields.String(required=True, validate=validate.Length(min=1, max=100))
    categories = fields.List(
        fields.String(validate=CATEGORY),
        required=True,
        validate=validate.Length(min=1, max=MAX_CATEGORIES),
    )

    @validates("name")
    def _name_not_blank(self, value: str, **kwargs: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")

    @validates("department")
    def _department_not_blank(self, value: str, **kwargs: Any) -> None:
        if not value.strip():
            raise ValidationError("must not be blank")

    @validates("categories")
    def _categories_distinct(self, value: list[str], **kwargs: Any) -> None:
        names = [_strip(name) for name in value]
        if any(not name for name in names):
            raise ValidationError("a category must not be blank")
        if len(set(names)) != len(names):
            raise ValidationError("list each category once")


class WindowSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    department = fields.String()
    categories = fields.List(fields.String())
    active = fields.Boolean()
    # Usernames of the clerks assigned to the window.
    clerks = fields.List(fields.String())


class AssignClerkSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=validate.Length(min=1, max=40))


class TicketInSchema(Schema):
    class Meta:
        unknown = RAISE

    category = fields.String(required=True, validate=CATEGORY)


class TicketFinishSchema(Schema):
    class Meta:
        unknown = RAISE

    # The case the ticket became, when the clerk took in an application.
    case_id = fields.String(validate=CASE_ID, allow_none=True, load_default=None)


class TicketSchema(Schema):
    id = fields.Integer()
    # "<node code>-<day>-<number>", unique across the city.
    ticket = fields.String()
    day = fields.Date()
    number = fields.String()
    category = fields.String()
    status = fields.String()
    taken_at = fields.AwareDateTime()
    called_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    window_id = fields.Integer(allow_none=True)
    window_name = fields.String(allow_none=True)
    case_id = fields.String(allow_none=True)
    # Tickets of the same category waiting before this one; 0 once called.
    waiting_ahead = fields.Integer()


class TicketReportQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    # Defaults to today in China.
    day = fields.Date()


class _TimesSchema(Schema):
    called = fields.Integer()
    served = fields.Integer()
    no_shows = fields.Integer()
    # Seconds from taking a ticket to its call, over every called ticket.
    average_wait_seconds = fields.Float(allow_none=True)
    max_wait_seconds = fields.Integer(allow_none=True)
    # Seconds from the call to the end of service, over served tickets only.
    average_service_seconds = fields.Float(allow_none=True)


class CategoryFiguresSchema(_TimesSchema):
    category = fields.String()
    taken = fields.Integer()
    # Tickets of the day still waiting when the report was made.
    waiting = fields.Integer()


class WindowFiguresSchema(_TimesSchema):
    window_id = fields.Integer()
    window_name = fields.String()
    department = fields.String()


class TicketReportSchema(Schema):
    day = fields.Date()
    categories = fields.List(fields.Nested(CategoryFiguresSchema))
    windows = fields.List(fields.Nested(WindowFiguresSchema))
    total = fields.Nested(CategoryFiguresSchema)
