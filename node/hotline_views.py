"""API and pages of the 96123 hotline, which exist at the city node only."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from common.divisions import CITY_CODE
from common.errors import AppError, InvalidInput, NotFound, TooManyRequests
from common.evaluation_models import (
    HOTLINE_KIND_LABELS,
    LEVEL_LABELS,
    HotlineKind,
    Level,
)
from common.models import Role
from common.schemas.hotline import (
    CaseStatusSchema,
    ComplaintVerifySchema,
    HotlineCloseSchema,
    HotlineQuerySchema,
    HotlineRouteSchema,
    HotlineTicketInSchema,
    HotlineTicketSchema,
)
from node import hotline, rate_limits
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import require_roles, roles_required
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "hotline",
    __name__,
    url_prefix="/api/hotline",
    description="96123 hotline tickets and case queries, at the city only",
)
pages = Blueprint("hotline_pages", __name__)

OPERATORS = (Role.SUPERVISOR, Role.CENTER_ADMIN)


def require_city() -> None:
    """Raise ``NotFound`` unless this node is the city, which runs the hotline."""
    context = current_node()
    if not context.is_hub:
        raise NotFound(
            f"the 96123 hotline runs at the city node {CITY_CODE}, not at "
            f"{context.tier.value} node {context.code}",
            {"node": context.code, "hub": CITY_CODE},
        )


api.before_request(require_city)
pages.before_request(require_city)


def record(data: dict[str, Any], operator: Any) -> dict[str, Any]:
    context = current_node()
    with context.db.transaction() as session:
        return hotline.ticket_view(
            hotline.create_ticket(context, session, data, operator)
        )


# --- API ----------------------------------------------------------------------


@api.route("/tickets", methods=["POST"])
@roles_required(*OPERATORS)
@api.arguments(HotlineTicketInSchema)
@api.response(201, HotlineTicketSchema)
def create(data: dict[str, Any]) -> dict[str, Any]:
    """Record a ticket, route it and set its reply deadline."""
    return record(data, require_roles(*OPERATORS))


@api.route("/tickets", methods=["GET"])
@roles_required(*OPERATORS)
@api.arguments(HotlineQuerySchema, location="query")
@api.response(200, HotlineTicketSchema(many=True))
def tickets(query: dict[str, Any]) -> list[dict[str, Any]]:
    """List tickets, the newest first, optionally only open, closed or overdue."""
    with current_node().db.transaction() as session:
        return hotline.list_tickets(session, query.get("status"))


@api.route("/tickets/<int:ticket_id>", methods=["GET"])
@roles_required(*OPERATORS)
@api.response(200, HotlineTicketSchema)
def ticket(ticket_id: int) -> dict[str, Any]:
    with current_node().db.transaction() as session:
        return hotline.ticket_view(hotline.get_ticket(session, ticket_id))


@api.route("/tickets/<int:ticket_id>/close", methods=["POST"])
@roles_required(*OPERATORS)
@api.arguments(HotlineCloseSchema)
@api.response(200, HotlineTicketSchema)
def close(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """Close a ticket with the reply and the caller's rating."""
    operator = require_roles(*OPERATORS)
    with current_node().db.transaction() as session:
        return hotline.ticket_view(
            hotline.close_ticket(current_node(), session, ticket_id, data, operator)
        )


@api.route("/tickets/<int:ticket_id>/route", methods=["POST"])
@roles_required(*OPERATORS)
@api.arguments(HotlineRouteSchema)
@api.response(200, HotlineTicketSchema)
def route(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """Route an open ticket to another node or department, withdrawing it from the previous node."""
    operator = require_roles(*OPERATORS)
    context = current_node()
    with context.db.transaction() as session:
        return hotline.ticket_view(
            hotline.reroute_ticket(context, session, ticket_id, data, operator)
        )


@api.route("/tickets/<int:ticket_id>/verify", methods=["POST"])
@roles_required(Role.SUPERVISOR)
@api.arguments(ComplaintVerifySchema)
@api.response(200, HotlineTicketSchema)
def verify(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """Mark a complaint verified, which feeds the window assessment."""
    supervisor = require_roles(Role.SUPERVISOR)
    context = current_node()
    with context.db.transaction() as session:
        view = hotline.ticket_view(
            hotline.verify_complaint(context, session, ticket_id, data, supervisor)
        )
    notify(context, push_up)
    return view


@api.route("/cases/<case_id>", methods=["GET"])
@roles_required(*OPERATORS)
@api.response(200, CaseStatusSchema)
def case_status(case_id: str) -> dict[str, Any]:
    """Return a case's status from the hub, for a caller's query by case number."""
    with current_node().db.transaction() as session:
        return hotline.case_status(session, case_id)


# --- operator pages -----------------------------------------------------------


@pages.get("/hotline")
@roles_required(*OPERATORS)
def hotline_page() -> str:
    """List tickets, with the new-ticket form and a query by case number."""
    case_id = request.args.get("case_id", "").strip()
    with current_node().db.transaction() as session:
        rows = hotline.list_tickets(session, None)
        found, problem = look_up_case(session, case_id)
    return render_template(
        "hotline.html",
        tickets=rows,
        case_id=case_id,
        case=found,
        problem=problem,
        kinds=list(HotlineKind),
        kind_labels=HOTLINE_KIND_LABELS,
        levels=list(Level),
        level_labels=LEVEL_LABELS,
    )


def look_up_case(
    session: Any, case_id: str
) -> tuple[dict[str, Any] | None, str | None]:
    if not case_id:
        return None, None
    try:
        return hotline.case_status(session, case_id), None
    except NotFound:
        return None, f"市级平台没有办件 {case_id}，请核对办件编号。"


@pages.post("/hotline/tickets")
@roles_required(*OPERATORS)
def create_page() -> Response:
    operator = require_roles(*OPERATORS)
    try:
        view = record(HotlineTicketInSchema().load(ticket_form()), operator)
    except (ValidationError, InvalidInput) as exc:
        logger.info("Hotline ticket not recorded: %s", exc)
        flash(f"工单未登记，请检查：{problem_fields(exc)}")
    else:
        flash(f"工单 {view['number']} 已登记，答复期限 {view['deadline']}。")
    return redirect(url_for(".hotline_page"), 303)


@pages.post("/hotline/tickets/<int:ticket_id>/close")
@roles_required(*OPERATORS)
def close_page(ticket_id: int) -> Response:
    operator = require_roles(*OPERATORS)
    form = {"caller_rating": request.form.get("caller_rating", "")}
    # A blank reply keeps the routed node's reply, if one has arrived.
    if request.form.get("reply", "").strip():
        form["reply"] = request.form["reply"]
    try:
        data = HotlineCloseSchema().load(form)
        with current_node().db.transaction() as session:
            hotline.close_ticket(current_node(), session, ticket_id, data, operator)
    except ValidationError as exc:
        flash(f"工单未办结，请检查：{problem_fields(exc)}")
    except AppError as exc:
        flash(f"工单未办结：{exc.message}")
    else:
        flash(f"工单 {ticket_id} 已办结。")
    return redirect(url_for(".hotline_page"), 303)


@pages.post("/hotline/tickets/<int:ticket_id>/route")
@roles_required(*OPERATORS)
def route_page(ticket_id: int) -> Response:
    operator = require_roles(*OPERATORS)
    context = current_node()
    form = {
        name: request.form[name].strip()
        for name in ("routed_to", "department")
        if request.form.get(name, "").strip()
    }
    try:
        data = HotlineRouteSchema().load(form)
        with context.db.transaction() as session:
            hotline.reroute_ticket(context, session, ticket_id, data, operator)
    except ValidationError as exc:
        flash(f"工单未改派，请检查：{problem_fields(exc)}")
    except AppError as exc:
        flash(f"工单未改派：{exc.message}")
    else:
        flash(f"工单 {ticket_id} 已改派至 {data['routed_to']}。")
    return redirect(url_for(".hotline_page"), 303)


@pages.post("/hotline/tickets/<int:ticket_id>/verify")
@roles_required(Role.SUPERVISOR)
def verify_page(ticket_id: int) -> Response:
    supervisor = require_roles(Role.SUPERVISOR)
    context = current_node()
    try:
        data = ComplaintVerifySchema().load({"note": request.form.get("note", "")})
        with context.db.transaction() as session:
            hotline.verify_complaint(context, session, ticket_id, data, supervisor)
    except ValidationError as exc:
        flash(f"投诉未核实，请检查：{problem_fields(exc)}")
    except AppError as exc:
        flash(f"投诉未核实：{exc.message}")
    else:
        notify(context, push_up)
        flash(f"工单 {ticket_id} 的投诉已核实属实。")
    return redirect(url_for(".hotline_page"), 303)


def ticket_form() -> dict[str, Any]:
    """Return the ticket form's non-empty fields, so optional ones may be left blank."""
    names = HotlineTicketInSchema().fields
    return {
        name: request.form[name].strip()
        for name in names
        if request.form.get(name, "").strip()
    }


def problem_fields(error: ValidationError | InvalidInput) -> str:
    if isinstance(error, ValidationError):
        fields = error.messages
    else:
        fields = error.details.get("fields", {})
    return "；".join(f"{name}: {reasons}" for name, reasons in fields.items())  # type: ignore[union-attr]


# --- the public web form ------------------------------------------------------


@pages.get("/hotline/new")
def web_form_page() -> str:
    """Show the public web form of the hotline, which needs no login."""
    return render_template(
        "hotline_new.html", kinds=list(HotlineKind), error=None, number=None
    )


@pages.post("/hotline/new")
def submit_web_form_page() -> str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    try:
        rate_limits.check_web_hotline_allowed(
            current_node(), request.remote_addr or "unknown"
        )
    except TooManyRequests as exc:
        logger.info("Web hotline ticket rejected: %s", exc.message)
        page = render_template(
            "hotline_new.html",
            kinds=list(HotlineKind),
            error="提交过于频繁，请稍后再试，或拨打 96123 热线。",
            number=None,
        )
        return page, 429, {"Retry-After": str(exc.retry_after)}
    form = {**ticket_form(), "channel": "web"}
    try:
        view = record(HotlineTicketInSchema().load(form), None)
    except (ValidationError, InvalidInput) as exc:
        logger.info("Web hotline ticket rejected: %s", exc)
        page = render_template(
            "hotline_new.html",
            kinds=list(HotlineKind),
            error=f"提交未成功，请检查：{problem_fields(exc)}",
            number=None,
        )
        return page, 400
    return render_template(
        "hotline_new.html", kinds=list(HotlineKind), error=None, number=view["number"]
    )
