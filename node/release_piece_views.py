"""Sync endpoints that serve a catalog release to a child in pieces."""

from __future__ import annotations

from typing import Any

from common.schemas.release_pieces import ManifestSchema, PieceQuerySchema, PieceSchema
from node.api import Blueprint, current_node
from node.sync_views import check_request
from sync.pieces import manifest as release_manifest
from sync.pieces import piece as release_piece

blp = Blueprint(
    "release_pieces", __name__, description="Catalog releases downloaded in pieces"
)
blp.before_request(check_request)


@blp.route("/sync/releases/<int:number>/manifest", methods=["GET"])
@blp.arguments(PieceQuerySchema, location="query")
@blp.response(200, ManifestSchema)
def manifest(query: dict[str, Any], number: int) -> dict[str, Any]:
    """Return the size, content hash and piece hashes of a release."""
    context = current_node()
    with context.db.transaction() as session:
        return release_manifest(context, session, number, query["piece_size"])


@blp.route("/sync/releases/<int:number>/pieces/<int:index>", methods=["GET"])
@blp.arguments(PieceQuerySchema, location="query")
@blp.response(200, PieceSchema)
def piece(query: dict[str, Any], number: int, index: int) -> dict[str, Any]:
    """Return one piece of a release's canonical body, base64-encoded."""
    context = current_node()
    with context.db.transaction() as session:
        return release_piece(context, session, number, index, query["piece_size"])
