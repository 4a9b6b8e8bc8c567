"""Wire schemas of catalog release downloads in pieces."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from common.config import MAX_PIECE_SIZE, MIN_PIECE_SIZE
from common.schemas.sync import MAX_SEQUENCE

SHA256_HEX = validate.Regexp(r"^[0-9a-f]{64}\Z", error="not a SHA-256 hex digest")
PIECE_SIZE = validate.Range(min=MIN_PIECE_SIZE, max=MAX_PIECE_SIZE)
NUMBER = validate.Range(min=1, max=MAX_SEQUENCE)


class PieceQuerySchema(Schema):
    """The piece size a child downloads a release in, in bytes."""

    piece_size = fields.Integer(required=True, validate=PIECE_SIZE)


class ManifestSchema(Schema):
    """The size, content hash and piece hashes of a release, cut at ``piece_size``.

    The body is the canonical JSON of the release's content in UTF-8, so
    its SHA-256 is the release's ``content_hash``.
    """

    number = fields.Integer(required=True, strict=True, validate=NUMBER)
    content_hash = fields.String(required=True, validate=SHA256_HEX)
    published_at = fields.String(required=True, validate=validate.Length(max=40))
    size = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=2**40)
    )
    piece_size = fields.Integer(required=True, strict=True, validate=PIECE_SIZE)
    pieces = fields.List(
        fields.String(validate=SHA256_HEX),
        required=True,
        validate=validate.Length(min=1),
    )


class PieceSchema(Schema):
    """One piece of a release's body, base64-encoded, with its SHA-256."""

    number = fields.Integer(required=True, strict=True, validate=NUMBER)
    index = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=2**31 - 1)
    )
    piece_hash = fields.String(required=True, validate=SHA256_HEX)
    data = fields.String(required=True)
