"""API schemas of local users and their tokens."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from common.models import Role

ROLE = validate.OneOf([r.value for r in Role])


class TokenRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=validate.Length(min=1, max=40))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    label = fields.String(load_default="", validate=validate.Length(max=100))


class TokenSchema(Schema):
    token = fields.String()
    username = fields.String()
    roles = fields.List(fields.String())


class UserInSchema(Schema):
    class Meta:
        unknown = RAISE

    username = fields.String(required=True, validate=validate.Length(min=1, max=40))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    roles = fields.List(
        fields.String(validate=ROLE),
        required=True,
        validate=validate.Length(min=1, max=len(Role)),
    )
    department = fields.String(validate=validate.Length(min=1, max=100))
    window_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31))


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    department = fields.String(allow_none=True)
    window_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
