"""Sync endpoints that serve a catalog release to a child in pieces."""

from __future__ import annotations

from typing import Any

from common.errors import InvalidInput
from common.schemas.release_pieces import ManifestSchema, PieceQuerySchema, PieceSchema
from node.api import Blueprint, current_node
from node.sync_views import check_request
from sync.pieces import manifest as release_manifest
from sync.pieces import piece as release_piece

blp = Blueprint(
    "release_pieces", __name__, description="Catalog releases downloaded in pieces"
)
blp.before_request(check_request)

# Release numbers and piece indexes are stored as 32-bit integers.
LARGEST_PATH_NUMBER = 2**31 - 1


def path_number(name: str, text: str, lowest: int) -> int:
    """Read a whole number from the path, raising ``InvalidInput`` naming ``name``.

    The segment is matched as text, so that ``-1`` or ``abc`` gets this
    message and not a bare 404 from the router.
    """
    digits = text.isascii() and text.isdigit() and len(text) <= 10
    if not digits or not lowest <= int(text) <= LARGEST_PATH_NUMBER:
        message = (
            f"{name} {text!r} is not a whole number from {lowest} "
            f"to {LARGEST_PATH_NUMBER}"
        )
        raise InvalidInput(message, {"fields": {name: [message]}})
    return int(text)


@blp.route("/sync/releases/<number>/manifest", methods=["GET"])
@blp.arguments(PieceQuerySchema, location="query")
@blp.response(200, ManifestSchema)
def manifest(query: dict[str, Any], number: str) -> dict[str, Any]:
    """Return the size, content hash and piece hashes of a release."""
    release = path_number("number", number, 1)
    context = current_node()
    with context.db.transaction() as session:
        return release_manifest(context, session, release, query["piece_size"])


@blp.route("/sync/releases/<number>/pieces/<index>", methods=["GET"])
@blp.arguments(PieceQuerySchema, location="query")
@blp.response(200, PieceSchema)
def piece(query: dict[str, Any], number: str, index: str) -> dict[str, Any]:
    """Return one piece of a release's canonical body, base64-encoded."""
    release = path_number("number", number, 1)
    position = path_number("index", index, 0)
    context = current_node()
    with context.db.transaction() as session:
        return release_piece(context, session, release, position, query["piece_size"])
