"""API and page of the hotline tickets routed to this node, at every center."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from common.calendar import load_calendar
from common.errors import AppError
from common.evaluation_models import HOTLINE_KIND_LABELS
from common.schemas.hotline_routed import (
    REPLY_MAX_LENGTH,
    RoutedQuerySchema,
    RoutedReplySchema,
    RoutedTicketSchema,
)
from node import hotline_routing
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import require_roles, roles_required
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "hotline_routed",
    __name__,
    url_prefix="/api/hotline-routed",
    description="96123 hotline tickets routed to this node, and their replies",
)
pages = Blueprint("hotline_routed_pages", __name__)

VIEWERS = hotline_routing.VIEWER_ROLES


def send_reply(ticket_id: int, reply: str) -> dict[str, Any]:
    """Store the reply and its event in one transaction, then wake the upward push."""
    user = require_roles(*VIEWERS)
    context = current_node()
    with context.db.transaction() as session:
        routed_ticket = hotline_routing.send_reply(
            context, session, ticket_id, reply, user
        )
        view = hotline_routing.routed_view(routed_ticket, load_calendar(session))
    notify(context, push_up)
    return view


# --- API ----------------------------------------------------------------------


@api.route("/tickets", methods=["GET"])
@roles_required(*VIEWERS)
@api.arguments(RoutedQuerySchema, location="query")
@api.response(200, RoutedTicketSchema(many=True))
def tickets(query: dict[str, Any]) -> list[dict[str, Any]]:
    """List the tickets routed here, the earliest reply deadline first.

    A department approver gets only the tickets of their department.
    """
    user = require_roles(*VIEWERS)
    with current_node().db.transaction() as session:
        return hotline_routing.list_routed(session, user, query.get("status"))


@api.route("/tickets/<int:ticket_id>/reply", methods=["POST"])
@roles_required(*VIEWERS)
@api.arguments(RoutedReplySchema)
@api.response(201, RoutedTicketSchema)
def reply(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """Reply to a ticket routed here; the reply travels up to the city."""
    return send_reply(ticket_id, data["reply"])


# --- page ---------------------------------------------------------------------


def reply_problem(reply: str) -> str:
    """Return, in Chinese, why the reply form was rejected: blank or too long."""
    if reply.strip():
        return f"答复内容过长，最多 {REPLY_MAX_LENGTH} 个字。"
    return "请填写答复内容。"


@pages.get("/hotline/routed")
@roles_required(*VIEWERS)
def routed_page() -> str:
    """List the tickets routed here with their reply deadlines and a reply form."""
    user = require_roles(*VIEWERS)
    with current_node().db.transaction() as session:
        rows = hotline_routing.list_routed(session, user)
    return render_template(
        "hotline_routed.html", tickets=rows, kind_labels=HOTLINE_KIND_LABELS
    )


@pages.post("/hotline/routed/<int:ticket_id>/reply")
@roles_required(*VIEWERS)
def reply_page(ticket_id: int) -> Response:
    try:
        data = RoutedReplySchema().load({"reply": request.form.get("reply", "")})
        send_reply(ticket_id, data["reply"])
    except ValidationError as exc:
        logger.info("Reply to hotline ticket %s rejected: %s", ticket_id, exc.messages)
        flash(f"答复未发送：{reply_problem(request.form.get('reply', ''))}")
    except AppError as exc:
        logger.info("Reply to hotline ticket %s rejected: %s", ticket_id, exc.message)
        flash(f"答复未发送：{exc.message}")
    else:
        flash(f"工单 {ticket_id} 的答复已发送至市热线。")
    return redirect(url_for(".routed_page"), 303)
