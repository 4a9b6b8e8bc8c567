"""Wire schemas of the sync protocol between a node and its parent."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from common.schemas.wire import WireEventList

DIVISION_CODE = validate.Regexp(
    r"^[0-9]{6}([0-9]{3})?([0-9]{3})?\Z", error="not a division code"
)
# Upper bound of sequence numbers and cursors: far beyond any real count,
# and inside the 64-bit integers of SQLite and PostgreSQL.
MAX_SEQUENCE = 2**53
SEQUENCE = validate.Range(min=1, max=MAX_SEQUENCE)
# Feed cursors per request: one per node that addresses events to the
# child's part of the tree, which is a handful of handling nodes.
MAX_CURSORS = 200
# Events per upward batch; NODE_BATCH_SIZE may not exceed it.
MAX_BATCH = 5000

# Protocol version this code uses for its own requests; sent on every one.
PROTOCOL_VERSION = 1
# Protocol versions this code accepts from a peer.
SUPPORTED_PROTOCOLS = (1,)


class WireEventSchema(Schema):
    """One event as written by its origin.

    ``common.schemas.wire.load_event`` checks the same rules without
    marshmallow; change both together.
    """

    origin = fields.String(required=True, validate=DIVISION_CODE)
    seq = fields.Integer(required=True, strict=True, validate=SEQUENCE)
    kind = fields.String(
        required=True, validate=validate.Regexp(r"^[a-z]+(\.[a-z_]+)+\Z")
    )
    case_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=40)
    )
    destination = fields.String(
        load_default=None, allow_none=True, validate=DIVISION_CODE
    )
    created_at = fields.AwareDateTime(required=True)
    payload = fields.Dict(required=True)
    personal = fields.Dict(load_default=None, allow_none=True)
    key_id = fields.String(required=True, validate=validate.Length(equal=16))
    signature = fields.String(required=True, validate=validate.Length(max=100))
    personal_signature = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=100)
    )


class HeadSchema(Schema):
    seq = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=MAX_SEQUENCE)
    )
    contact = fields.AwareDateTime(load_default=None, allow_none=True)
    # The origin's software version as it last reported it.
    software = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=40)
    )


class BatchSchema(Schema):
    """An upward batch: events in sequence order per origin."""

    sender = fields.String(required=True, validate=DIVISION_CODE)
    # Checked by a compiled fast path first; see common.schemas.wire.
    events = WireEventList(
        fields.Nested(WireEventSchema),
        required=True,
        validate=validate.Length(
            max=MAX_BATCH,
            error=f"a batch holds at most {MAX_BATCH} events; send more batches",
        ),
    )
    # What the sender knows of each origin below it, for the lag figures.
    heads = fields.Dict(
        keys=fields.String(validate=DIVISION_CODE),
        values=fields.Nested(HeadSchema),
        load_default=dict,
    )


class AckSchema(Schema):
    held = fields.Dict(keys=fields.String(), values=fields.Integer())


class FeedRequestSchema(Schema):
    child = fields.String(required=True, validate=DIVISION_CODE)
    cursors = fields.Dict(
        keys=fields.String(validate=DIVISION_CODE),
        values=fields.Integer(
            strict=True, validate=validate.Range(min=0, max=MAX_SEQUENCE)
        ),
        load_default=dict,
        validate=validate.Length(max=MAX_CURSORS),
    )
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class FeedPageSchema(Schema):
    events = WireEventList(fields.Nested(WireEventSchema))


class ReleaseQuerySchema(Schema):
    after = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=MAX_SEQUENCE)
    )
    limit = fields.Integer(load_default=5, validate=validate.Range(min=1, max=20))


class EnrollmentSchema(Schema):
    code = fields.String(required=True, validate=DIVISION_CODE)
    public_key = fields.String(required=True, validate=validate.Length(min=40, max=64))
    token = fields.String(required=True, validate=validate.Length(min=16, max=128))


class EnrollmentAnswerSchema(Schema):
    code = fields.String()
    key_id = fields.String()


class RevocationSchema(Schema):
    """A key revocation as signed by the node that revoked the key."""

    code = fields.String(required=True, validate=DIVISION_CODE)
    key_id = fields.String(required=True, validate=validate.Length(equal=16))
    revoked_by = fields.String(required=True, validate=DIVISION_CODE)
    revoked_at = fields.AwareDateTime(required=True)
    valid_through = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=MAX_SEQUENCE)
    )
    signer_key_id = fields.String(required=True, validate=validate.Length(equal=16))
    signature = fields.String(required=True, validate=validate.Length(max=100))


class RevocationBatchSchema(Schema):
    revocations = fields.List(
        fields.Nested(RevocationSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_CURSORS),
    )


class RevocationAnswerSchema(Schema):
    # Codes of the nodes that hold the revocations now, nearest first.
    stored_at = fields.List(fields.String())


class RevocationPageSchema(Schema):
    revocations = fields.List(fields.Nested(RevocationSchema))


class RevokeKeysSchema(Schema):
    code = fields.String(required=True, validate=DIVISION_CODE)


class RevokedKeysSchema(Schema):
    code = fields.String()
    key_ids = fields.List(fields.String())
    # Nodes that held the revocation when the response was sent, this one first.
    stored_at = fields.List(fields.String())
    # Why the ancestors were not reached yet, or None; the sync round retries.
    error = fields.String(allow_none=True)
