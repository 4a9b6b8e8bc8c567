"""API and pages of queue tickets: the kiosk, the window and the daily report."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from common.clock import today
from common.errors import (
    AppError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
)
from common.models import QueueTicket, Role, ServiceWindow, TicketStatus, User
from common.schemas.tickets import (
    TicketFinishSchema,
    TicketInSchema,
    TicketReportQuerySchema,
    TicketReportSchema,
    TicketSchema,
)
from node import rate_limits, tickets
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import require_roles, roles_required
from node.windows import category_letters, served_categories
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "tickets",
    __name__,
    url_prefix="/api/tickets",
    description="Queue tickets: take, call, finish, report",
)
pages = Blueprint("tickets_pages", __name__)

REPORT_ROLES = (Role.SUPERVISOR, Role.CENTER_ADMIN)

STATUS_LABELS = {
    TicketStatus.WAITING: "等候中",
    TicketStatus.CALLED: "办理中",
    TicketStatus.DONE: "已办结",
    TicketStatus.NO_SHOW: "过号",
}


def ticket_view(session: Session, ticket: QueueTicket) -> dict[str, Any]:
    window = session.get(ServiceWindow, ticket.window_id) if ticket.window_id else None
    return {
        **{c: getattr(ticket, c) for c in TicketSchema().fields if hasattr(ticket, c)},
        "ticket": tickets.ticket_key(current_node(), ticket),
        "window_name": window.name if window else None,
        "waiting_ahead": tickets.waiting_ahead(session, ticket),
    }


def act_as_clerk(action: Callable[..., QueueTicket], *args: Any) -> dict[str, Any]:
    """Run a clerk's ticket action in one transaction, then wake the upward push."""
    clerk = require_roles(Role.WINDOW_CLERK)
    context = current_node()
    with context.db.transaction() as session:
        view = ticket_view(session, action(context, session, *args, clerk))
    notify(context, push_up)
    return view


# --- API ----------------------------------------------------------------------


@api.route("")
class Tickets(MethodView):
    @api.arguments(TicketInSchema)
    @api.response(201, TicketSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Take a ticket of a category. Anyone may, as at the kiosk.

        Returns 429 with Retry-After when one client address takes too many.
        """
        context = current_node()
        rate_limits.check_kiosk_allowed(context, request.remote_addr or "unknown")
        with context.db.transaction() as session:
            view = ticket_view(
                session, tickets.take_ticket(context, session, data["category"])
            )
        notify(context, push_up)
        return view


@api.route("/<int:ticket_id>")
@api.response(200, TicketSchema)
def show(ticket_id: int) -> dict[str, Any]:
    """Show a ticket and how many are waiting ahead of it. Anyone may."""
    with current_node().db.transaction() as session:
        return ticket_view(session, tickets.get_ticket(session, ticket_id))


@api.route("/call-next", methods=["POST"])
@roles_required(Role.WINDOW_CLERK)
@api.response(200, TicketSchema)
def call_next() -> dict[str, Any]:
    """Call the oldest waiting ticket that the clerk's window serves."""
    return act_as_clerk(tickets.call_next)


@api.route("/<int:ticket_id>/finish", methods=["POST"])
@roles_required(Role.WINDOW_CLERK)
@api.arguments(TicketFinishSchema)
@api.response(200, TicketSchema)
def finish(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """Finish serving a ticket, linking the case it became if given."""
    return act_as_clerk(
        partial(tickets.finish_ticket, case_id=data["case_id"]), ticket_id
    )


@api.route("/<int:ticket_id>/no-show", methods=["POST"])
@roles_required(Role.WINDOW_CLERK)
@api.response(200, TicketSchema)
def no_show(ticket_id: int) -> dict[str, Any]:
    """Close a called ticket whose holder did not come."""
    return act_as_clerk(tickets.mark_no_show, ticket_id)


@api.route("/report")
@roles_required(*REPORT_ROLES)
@api.arguments(TicketReportQuerySchema, location="query")
@api.response(200, TicketReportSchema)
def report(query: dict[str, Any]) -> dict[str, Any]:
    """Report a day's tickets, waiting and service times per category and window."""
    with current_node().db.transaction() as session:
        return tickets.daily_report(session, query.get("day") or today())


# --- kiosk --------------------------------------------------------------------


@pages.get("/tickets/take")
def take_page() -> str:
    """Show the kiosk: one button per category that an open window serves."""
    return render_kiosk(error=None)


@pages.post("/tickets/take")
def take_ticket_page() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Take a ticket from the kiosk, then show it ready to print."""
    context = current_node()
    try:
        rate_limits.check_kiosk_allowed(context, request.remote_addr or "unknown")
    except TooManyRequests as exc:
        logger.info("Kiosk ticket rejected: %s", exc.message)
        error = "取号过于频繁，请稍后再试或到咨询台求助。"
        return render_kiosk(error=error), 429, {"Retry-After": str(exc.retry_after)}
    try:
        data = TicketInSchema().load({"category": request.form.get("category", "")})
        with context.db.transaction() as session:
            ticket_id = tickets.take_ticket(context, session, data["category"]).id
    except (ValidationError, InvalidInput) as exc:
        logger.info("Kiosk ticket rejected: %s", exc)
        return render_kiosk(error="请选择下列业务类别之一后取号。"), 400
    notify(context, push_up)
    return redirect(url_for(".ticket_page", ticket_id=ticket_id), 303)


@pages.get("/tickets/take/<int:ticket_id>")
def ticket_page(ticket_id: int) -> str:
    """Show one ticket large, laid out for the kiosk's printer."""
    with current_node().db.transaction() as session:
        ticket = ticket_view(session, tickets.get_ticket(session, ticket_id))
    return render_template("tickets_ticket.html", ticket=ticket)


def render_kiosk(error: str | None) -> str:
    with current_node().db.transaction() as session:
        letters = category_letters(session)
        waiting = waiting_counts(session)
        categories = [
            {"name": name, "letter": letters[name], "waiting": waiting.get(name, 0)}
            for name in served_categories(session)
        ]
    return render_template("tickets_take.html", categories=categories, error=error)


def waiting_counts(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ticket in tickets.waiting_tickets(session, today()):
        counts[ticket.category] = counts.get(ticket.category, 0) + 1
    return counts


# --- the clerk's window -------------------------------------------------------


@pages.get("/tickets")
def window_page() -> str:
    """Show the clerk's window, their current ticket and the waiting queue."""
    clerk = require_roles(Role.WINDOW_CLERK)
    with current_node().db.transaction() as session:
        window_id = session.scalar(select(User.window_id).where(User.id == clerk.id))
        window = session.get(ServiceWindow, window_id) if window_id else None
        current = tickets.current_ticket(session, clerk)
        queue = queue_of(session, window)
        current_view = ticket_view(session, current) if current else None
        session.expunge_all()
    return render_template(
        "tickets.html",
        window=window,
        current=current_view,
        queue=queue,
        status_labels=STATUS_LABELS,
    )


def queue_of(session: Session, window: ServiceWindow | None) -> dict[str, list[str]]:
    """Return the numbers waiting today, per category the window serves."""
    if window is None:
        return {}
    queue: dict[str, list[str]] = {c: [] for c in window.categories}
    for ticket in tickets.waiting_tickets(session, today()):
        if ticket.category in queue:
            queue[ticket.category].append(ticket.number)
    return queue


@pages.post("/tickets/call-next")
@roles_required(Role.WINDOW_CLERK)
def call_next_page() -> Response:
    try:
        view = act_as_clerk(tickets.call_next)
    except AppError as exc:
        flash(f"未能叫号：{failure_message(exc)}")
    else:
        flash(f"请 {view['number']} 号到{view['window_name']}办理。")
    return redirect(url_for(".window_page"), 303)


@pages.post("/tickets/<int:ticket_id>/finish")
@roles_required(Role.WINDOW_CLERK)
def finish_page(ticket_id: int) -> Response:
    """Finish the ticket, with the case number the clerk typed in, if any."""
    case_id = request.form.get("case_id", "").strip() or None
    try:
        TicketFinishSchema().load({"case_id": case_id})
        view = act_as_clerk(partial(tickets.finish_ticket, case_id=case_id), ticket_id)
    except ValidationError:
        logger.info("Ticket %s not finished, invalid case id", ticket_id)
        flash("办件编号应为 1 至 40 个字符，未做任何更改。")
    except AppError as exc:
        flash(f"未能办结：{failure_message(exc)}")
    else:
        flash(f"{view['number']} 号已办结。")
    return redirect(url_for(".window_page"), 303)


@pages.post("/tickets/<int:ticket_id>/no-show")
@roles_required(Role.WINDOW_CLERK)
def no_show_page(ticket_id: int) -> Response:
    try:
        view = act_as_clerk(tickets.mark_no_show, ticket_id)
    except AppError as exc:
        flash(f"未能标记过号：{failure_message(exc)}")
    else:
        flash(f"{view['number']} 号已标记为过号。")
    return redirect(url_for(".window_page"), 303)


def failure_message(error: AppError) -> str:
    """Log a clerk's failed ticket action and return why it failed, in Chinese.

    The English message follows in brackets. Errors without a known reason
    are raised again, for the error page.
    """
    logger.info("Ticket action at the window failed: %s", error.message)
    if isinstance(error, NotFound) and "categories" in error.details:
        reason = "当前没有等候本窗口业务的号"
    elif isinstance(error, NotFound):
        reason = "没有这个号"
    elif isinstance(error, Forbidden) and "username" in error.details:
        reason = "您尚未分配窗口，请联系中心管理员"
    elif isinstance(error, Forbidden):
        reason = "只有叫号的工作人员可以办结此号"
    elif isinstance(error, Conflict) and "number" in error.details:
        reason = f"请先办结或标记过号 {error.details['number']}，再叫下一号"
    elif isinstance(error, Conflict) and "window_id" in error.details:
        reason = "您的窗口已停用"
    elif isinstance(error, Conflict):
        reason = "此号已办结或已过号，请刷新页面"
    elif isinstance(error, InvalidInput):
        reason = "办件编号有误"
    else:
        raise error
    return f"{reason}。({error.message})"


# --- report -------------------------------------------------------------------


@pages.get("/tickets/report")
@roles_required(*REPORT_ROLES)
def report_page() -> str | tuple[str, int]:
    """Show a day's queue figures, of the day in the form or else of today."""
    try:
        query = TicketReportQuerySchema().load(
            {"day": request.args["day"]} if request.args.get("day") else {}
        )
    except ValidationError:
        query, error = {}, "日期格式应为 YYYY-MM-DD，下面是今天的数据。"
    else:
        error = None
    day: dt.date = query.get("day") or today()
    with current_node().db.transaction() as session:
        figures = tickets.daily_report(session, day)
    page = render_template("tickets_report.html", report=figures, error=error)
    return (page, 400) if error else page
