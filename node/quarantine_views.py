"""Quarantined events of this node: list them, replay or discard one.

Supervisors and center administrators see the list; only a center
administrator replays or discards an event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from common.errors import AppError
from common.models import QuarantinedEvent, Role, User
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import current_user, has_role, require_roles, roles_required
from sync.quarantine import discard, list_quarantined, replay

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "quarantine",
    __name__,
    url_prefix="/api/sync/quarantine",
    description="Received events that this node could not apply",
)
pages = Blueprint("quarantine_pages", __name__)

# Resolved events shown under the open ones on the page.
RECENT_RESOLVED = 50


class QuarantineQuerySchema(Schema):
    state = fields.String(
        load_default="open", validate=validate.OneOf(["open", "resolved", "all"])
    )
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class DiscardSchema(Schema):
    reason = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=500),
            validate.Regexp(r"(?s).*\S", error="give the reason for discarding"),
        ],
    )


class QuarantinedEventSchema(Schema):
    id = fields.Integer()
    origin = fields.String()
    seq = fields.Integer()
    kind = fields.String()
    case_id = fields.String(allow_none=True)
    reason = fields.String()
    transient = fields.Boolean()
    blocked_by = fields.String(allow_none=True)
    quarantined_at = fields.AwareDateTime()
    attempts = fields.Integer()
    last_attempt_at = fields.AwareDateTime(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


def row_view(session: Session, row: QuarantinedEvent) -> dict[str, Any]:
    """Return the row as shown: the resolving user by username, no personal data."""
    view = {
        name: getattr(row, name)
        for name in QuarantinedEventSchema().fields
        if name != "resolved_by"
    }
    view["resolved_by"] = (
        session.scalar(select(User.username).where(User.id == row.resolved_by))
        if row.resolved_by is not None
        else None
    )
    return view


# --- API ----------------------------------------------------------------------


@api.route("", methods=["GET"])
@api.arguments(QuarantineQuerySchema, location="query")
@api.response(200, QuarantinedEventSchema(many=True))
def list_events(query: dict[str, Any]) -> list[dict[str, Any]]:
    """List quarantined events by origin and sequence; open ones by default."""
    require_roles(Role.CENTER_ADMIN, Role.SUPERVISOR)
    with current_node().db.transaction() as session:
        rows = list_quarantined(session, query["state"], query["limit"])
        return [row_view(session, row) for row in rows]


@api.route("/<int:quarantine_id>/replay", methods=["POST"])
@api.response(200, QuarantinedEventSchema)
def replay_event(quarantine_id: int) -> dict[str, Any]:
    """Run the event's handlers again now; it stays open with the new reason if they fail."""
    user = require_roles(Role.CENTER_ADMIN)
    context = current_node()
    with context.db.transaction() as session:
        return row_view(session, replay(context, session, quarantine_id, user))


@api.route("/<int:quarantine_id>/discard", methods=["POST"])
@api.arguments(DiscardSchema)
@api.response(200, QuarantinedEventSchema)
def discard_event(data: dict[str, Any], quarantine_id: int) -> dict[str, Any]:
    """Give up on the event with a reason; the record of it is kept."""
    user = require_roles(Role.CENTER_ADMIN)
    context = current_node()
    with context.db.transaction() as session:
        row = discard(context, session, quarantine_id, user, data["reason"].strip())
        return row_view(session, row)


# --- page ---------------------------------------------------------------------


@pages.get("/sync-status/quarantine")
@roles_required(Role.CENTER_ADMIN, Role.SUPERVISOR)
def quarantine_page() -> str:
    """Show the open quarantined events with replay and discard forms, then recent decisions."""
    return render_quarantine([])


@pages.post("/sync-status/quarantine/<int:quarantine_id>/replay")
@roles_required(Role.CENTER_ADMIN)
def replay_page(quarantine_id: int) -> Response | tuple[str, int]:
    def run(session: Session, user: User) -> str:
        context = current_node()
        row = replay(context, session, quarantine_id, user)
        where = f"{row.origin}#{row.seq}"
        if row.resolved_at is None:
            return f"事件 {where} 重新处理仍未成功：{row.reason}"
        return f"事件 {where} 已重新处理成功，同一办件排队的事件已依次处理。"

    return act_or_show_errors(run)


@pages.post("/sync-status/quarantine/<int:quarantine_id>/discard")
@roles_required(Role.CENTER_ADMIN)
def discard_page(quarantine_id: int) -> Response | tuple[str, int]:
    form = {"reason": request.form.get("reason", "")}

    def run(session: Session, user: User) -> str:
        reason = DiscardSchema().load(form)["reason"].strip()
        row = discard(current_node(), session, quarantine_id, user, reason)
        return f"事件 {row.origin}#{row.seq} 已放弃处理，原因已记录。"

    return act_or_show_errors(run)


def act_or_show_errors(
    action: Callable[[Session, User], str],
) -> Response | tuple[str, int]:
    """Run ``action`` in one transaction as the signed-in user, then redirect.

    An invalid form or a refused action shows the page again with the reason.
    """
    user = current_user()
    assert user is not None  # roles_required let the request in
    try:
        with current_node().db.transaction() as session:
            message = action(session, user)
    except ValidationError as exc:
        reasons = exc.normalized_messages().get("reason", [])
        return render_quarantine([f"放弃原因：{'；'.join(reasons)}"]), 400
    except AppError as exc:
        logger.info("Quarantine form rejected: %s", exc.message)
        return render_quarantine([exc.message]), exc.status
    flash(message)
    return redirect(url_for(".quarantine_page"), 303)


def render_quarantine(errors: list[str]) -> str:
    with current_node().db.transaction() as session:
        open_rows = [row_view(session, r) for r in list_quarantined(session, "open")]
        resolved = list_quarantined(session, "resolved", RECENT_RESOLVED)
        recent = [row_view(session, r) for r in resolved]
    return render_template(
        "quarantine.html",
        open_rows=open_rows,
        resolved=recent,
        errors=errors,
        may_act=has_role(current_user(), Role.CENTER_ADMIN),
    )
