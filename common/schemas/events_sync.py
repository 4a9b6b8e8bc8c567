"""Payload schemas of the events that the sync layer itself emits."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

MANIFEST_KIND = "sync.manifest"
# Digests one manifest may list; origins write 100 (sync.manifests.SEGMENT).
MAX_MANIFEST_DIGESTS = 1000


class ManifestSchema(Schema):
    """Payload of ``sync.manifest``: the digests of an origin's events first..last."""

    class Meta:
        unknown = INCLUDE

    first = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    last = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    digests = fields.List(
        fields.String(
            validate=validate.Regexp(
                r"^[0-9a-f]{64}\Z", error="not a SHA-256 hex digest"
            )
        ),
        required=True,
        validate=validate.Length(min=1, max=MAX_MANIFEST_DIGESTS),
    )

    @validates_schema
    def check_count(self, data: dict[str, Any], **kwargs: Any) -> None:
        expected = data["last"] - data["first"] + 1
        if len(data["digests"]) != expected:
            raise ValidationError(
                f"must list one digest per event from first to last ({expected}), "
                f"not {len(data['digests'])}",
                "digests",
            )


SYNC_PAYLOAD_SCHEMAS: dict[str, Schema] = {MANIFEST_KIND: ManifestSchema()}
