"""Key revocation: the admin API, and the sync endpoints that carry revocations."""

from __future__ import annotations

import logging
from typing import Any

from flask import g

from common.context import NodeContext
from common.errors import AppError
from common.models import Role
from common.schemas.sync import (
    RevocationAnswerSchema,
    RevocationBatchSchema,
    RevocationPageSchema,
    RevokedKeysSchema,
    RevokeKeysSchema,
)
from node.api import Blueprint, current_node
from node.auth import require_roles
from node.sync_views import check_request
from sync.revocation import (
    revocations_for,
    revoke_node_keys,
    send_up,
    store_from_child,
)

logger = logging.getLogger(__name__)

blp = Blueprint("revocations", __name__, description="Key revocations")
# Signature, protocol version and child checks on the /sync/ routes.
blp.before_request(check_request)


def relay_up(context: NodeContext) -> tuple[list[str], str | None]:
    """Send unsent revocations to the parent now; return where they are held.

    A failure is returned, not raised: the revocation is already in effect
    here, and the next sync round sends it again.
    """
    try:
        return [context.code, *send_up(context)], None
    except AppError as exc:
        logger.warning(
            "Node %s: key revocation not yet sent to the parent: %s",
            context.code,
            exc.message,
        )
        return [context.code], exc.message


@blp.route("/sync/revocations", methods=["POST"])
@blp.arguments(RevocationBatchSchema)
@blp.response(200, RevocationAnswerSchema)
def receive_revocations(batch: dict[str, Any]) -> dict[str, Any]:
    """Store key revocations from a child, then pass them to the parent at once."""
    context = current_node()
    with context.db.transaction() as session:
        store_from_child(context, session, g.sync_sender, batch["revocations"])
    stored_at, _ = relay_up(context)
    return {"stored_at": stored_at}


@blp.route("/sync/revocations", methods=["GET"])
@blp.response(200, RevocationPageSchema)
def revocations_below() -> dict[str, Any]:
    """Return the revocations of keys below the child that sent the request."""
    with current_node().db.transaction() as session:
        return {"revocations": revocations_for(session, g.sync_sender)}


@blp.route("/api/sync/revocations", methods=["POST"])
@blp.arguments(RevokeKeysSchema)
@blp.response(200, RevokedKeysSchema)
def revoke(data: dict[str, Any]) -> dict[str, Any]:
    """Revoke a node's keys here at once, then send the revocation to the ancestors."""
    require_roles(Role.CENTER_ADMIN)
    context = current_node()
    with context.db.transaction() as session:
        key_ids = revoke_node_keys(context, session, data["code"])
    stored_at, error = relay_up(context)
    return {
        "code": data["code"],
        "key_ids": key_ids,
        "stored_at": stored_at,
        "error": error,
    }
