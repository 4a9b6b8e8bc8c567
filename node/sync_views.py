"""Sync endpoints that children call, and sync status for people and tools."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, g, request

from common.context import NodeContext
from common.errors import AppError, Forbidden
from common.models import Role
from common.schemas.sync import (
    AckSchema,
    BatchSchema,
    EnrollmentAnswerSchema,
    EnrollmentSchema,
    FeedPageSchema,
    FeedRequestSchema,
    ReleaseQuerySchema,
)
from node.api import Blueprint, current_node
from node.auth import require_roles
from node.sync_status import sync_status
from sync.apply import apply_batch, check_child
from sync.auth import authenticate
from sync.enroll import accept_enrollment
from sync.feed import feed_page
from sync.jobs import enqueue_once, notify, push_up, sync_round
from sync.releases import release_to_wire, releases_after
from sync.state import touch_link
from sync.versions import check_protocol, record_peer_versions, version_headers

logger = logging.getLogger(__name__)

blp = Blueprint("sync", __name__, description="Node-to-node sync protocol")


@blp.before_request
def check_request() -> None:
    """Check the protocol version and the signature of every sync request.

    Enrollment is the one exception: the new node has no key yet, and its
    one-time token is checked by the city instead.
    """
    if not request.path.startswith("/sync/"):
        return
    context = current_node()
    check_protocol(context, request.headers)
    if request.path == "/sync/enroll":
        return
    path = request.path
    if request.query_string:
        path += "?" + request.query_string.decode("latin-1")
    with context.db.transaction() as session:
        g.sync_sender = authenticate(
            context,
            session,
            request.method,
            path,
            request.headers,
            request.get_data(cache=True),
        )
    check_child(context, g.sync_sender)
    record_peer_versions(context, g.sync_sender, "child", request.headers)


def announce_versions(response: Response) -> Response:
    """Send this node's versions on every sync response, refusals included.

    Registered on the app, so it covers the /sync/ routes of every blueprint.
    """
    if request.path.startswith("/sync/"):
        response.headers.update(version_headers())
    return response


def require_sender(claimed: str) -> None:
    """Raise ``Forbidden`` unless the body names the node that signed the request."""
    if claimed != g.sync_sender:
        raise Forbidden(
            f"the request is signed by node {g.sync_sender} but speaks for node {claimed}",
            {"sender": g.sync_sender, "claimed": claimed},
        )


@blp.route("/sync/events", methods=["POST"])
@blp.arguments(BatchSchema)
@blp.response(200, AckSchema)
def receive_events(batch: dict[str, Any]) -> dict[str, Any]:
    """Apply an upward batch from a child and acknowledge what is held.

    Idempotent: events already held are skipped. A batch with a gap is
    refused with 409 and the expected sequence; nothing of it is stored.
    """
    context = current_node()
    require_sender(batch["sender"])
    try:
        with context.db.transaction() as session:
            held, stored = apply_batch(
                context, session, batch["sender"], batch["events"], batch["heads"]
            )
    except AppError as exc:
        record_refusal(context, batch["sender"], exc)
        raise
    if stored and context.parent_code:
        notify(context, push_up)
    return {"held": held}


def record_refusal(context: NodeContext, sender: str, error: AppError) -> None:
    """Keep a refused batch's reason on the link of a known child, then log it."""
    logger.warning(
        "Node %s: rejected batch from %s: %s", context.code, sender, error.message
    )
    division = context.divisions.get(sender) if sender in context.divisions else None
    if division is None or division.parent_code != context.code:
        return
    with context.db.transaction() as session:
        touch_link(session, sender, "child", error=f"{error.code}: {error.message}")


@blp.route("/sync/feed", methods=["POST"])
@blp.arguments(FeedRequestSchema)
@blp.response(200, FeedPageSchema)
def feed(query: dict[str, Any]) -> dict[str, Any]:
    """Return events for a child's part of the tree, past its cursors."""
    context = current_node()
    require_sender(query["child"])
    with context.db.transaction() as session:
        events = feed_page(
            context, session, query["child"], query["cursors"], query["limit"]
        )
    return {"events": events}


@blp.route("/sync/releases", methods=["GET"])
@blp.arguments(ReleaseQuerySchema, location="query")
def releases(query: dict[str, Any]) -> dict[str, Any]:
    """Return the catalog releases after ``after``, oldest first."""
    with current_node().db.transaction() as session:
        found = releases_after(session, query["after"], query["limit"])
        return {"releases": [release_to_wire(r) for r in found]}


@blp.route("/sync/enroll", methods=["POST"])
@blp.arguments(EnrollmentSchema)
@blp.response(200, EnrollmentAnswerSchema)
def enroll(data: dict[str, Any]) -> dict[str, Any]:
    """Enroll a node's public key along the path from this node to the city."""
    key = accept_enrollment(
        current_node(), data["code"], data["public_key"], data["token"]
    )
    return {"code": data["code"], "key_id": key}


@blp.route("/api/sync", methods=["GET"])
def status() -> dict[str, Any]:
    """Show this node's sync health: per link and per origin."""
    require_roles(Role.CENTER_ADMIN, Role.SUPERVISOR)
    context = current_node()
    with context.db.transaction() as session:
        return sync_status(context, session)


@blp.route("/api/sync/run", methods=["POST"])
@blp.response(202)
def run() -> dict[str, Any]:
    """Ask the worker for a sync round now: catalog, outbox and feed."""
    require_roles(Role.CENTER_ADMIN)
    context = current_node()
    if context.parent_code is None:
        return {"queued": False}
    enqueue_once(context, sync_round)
    return {"queued": True}
