"""The 96123 hotline at the city: tickets, routing, reply deadlines, case queries.

Tickets and the caller's personal data stay at the city. A ticket is routed
to a department and to the node that handles its matter or case, which gets
a copy without the caller's name or phone (see ``node.hotline_routing``).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.calendar import load_calendar
from common.catalog import (
    delegations_of,
    get_matter,
    handling_node,
    matter_names,
    policies,
)
from common.clock import local_date, today, utcnow
from common.context import NodeContext
from common.errors import Conflict, InvalidInput, NotFound
from common.evaluation_models import HotlineKind, HotlineTicket
from common.models import CaseStatus, User
from hub.models import HubCase
from hub.rollup_handlers import (
    hotline_ticket_opened,
    hotline_ticket_replied,
    hotline_ticket_rerouted,
)
from node.hotline_routing import check_routable, reroute, send_closed, send_routed
from sync.outbox import emit

logger = logging.getLogger(__name__)


def invalid(field: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{field}: {reason}", {"fields": {field: [reason]}})


def ticket_number(ticket: HotlineTicket) -> str:
    """Return the number read to the caller, ``96123-<day>-<id>``."""
    return f"96123-{local_date(ticket.created_at):%Y%m%d}-{ticket.id:05d}"


def is_overdue(ticket: HotlineTicket) -> bool:
    """Tell whether the reply came after the deadline, or is still due past it."""
    if ticket.closed_at is not None:
        return local_date(ticket.closed_at) > ticket.deadline
    return today() > ticket.deadline


# --- recording and routing ----------------------------------------------------------


def create_ticket(
    context: NodeContext,
    session: Session,
    data: dict[str, Any],
    operator: User | None,
) -> HotlineTicket:
    """Record a ticket, route it and set its reply deadline.

    ``operator`` is None for a ticket the caller files on the web form.
    Raises ``InvalidInput`` naming the field when the case, matter, division
    or department cannot be resolved; nothing is stored then.
    """
    division = data.get("caller_division") or context.code
    if division not in context.divisions:
        raise invalid("caller_division", f"{division} is not a Zhangzhou division")
    routed_to, department = route(context, session, data, division)
    department = data.get("department", "").strip() or department
    if not department:
        raise invalid("department", "name the department, a matter or a case")

    created_at = utcnow()
    days = policies(session)["hotline_reply_working_days"][data["kind"]]
    due = load_calendar(session).add_working_days(local_date(created_at), days)
    ticket = HotlineTicket(
        kind=data["kind"],
        channel=data["channel"],
        caller_name=data["caller_name"].strip(),
        caller_phone=data["caller_phone"],
        caller_division=division,
        subject=data["subject"].strip(),
        department=department,
        matter_code=data.get("matter_code"),
        case_id=data.get("case_id"),
        routed_to=routed_to,
        created_at=created_at,
        entered_by=operator.id if operator else None,
        deadline=due.date,
        deadline_provisional=due.provisional,
    )
    session.add(ticket)
    session.flush()
    # The hotline lives at the city, which is the hub: its rollups count the
    # ticket here, in the same transaction.
    hotline_ticket_opened(context, session, ticket.kind, routed_to, created_at)
    send_routed(context, session, ticket, ticket_number(ticket))
    logger.info(
        "Hotline ticket %s (%s) routed to node %s, department %s, due %s",
        ticket.id,
        ticket.kind,
        routed_to,
        department,
        ticket.deadline,
    )
    return ticket


def route(
    context: NodeContext, session: Session, data: dict[str, Any], division: str
) -> tuple[str, str]:
    """Return the node and department a ticket goes to: the case's, else the matter's.

    A ticket that names neither goes to the city itself, with no department.
    """
    if data.get("case_id"):
        case = session.get(HubCase, data["case_id"])
        if case is None:
            raise invalid("case_id", f"case {data['case_id']} not found at the city")
        return case.handler_code, case.department
    if data.get("matter_code"):
        try:
            matter = get_matter(session, data["matter_code"])
        except NotFound as exc:
            raise invalid("matter_code", exc.message) from exc
        try:
            node = handling_node(
                context.divisions, matter, delegations_of(session, matter), division
            )
        except InvalidInput as exc:
            raise invalid("caller_division", exc.message) from exc
        return node, matter.department
    return context.code, ""


# --- replying and verifying ---------------------------------------------------------


def get_ticket(session: Session, ticket_id: int) -> HotlineTicket:
    ticket = session.get(HotlineTicket, ticket_id)
    if ticket is None:
        raise NotFound(f"no hotline ticket {ticket_id}", {"ticket_id": ticket_id})
    return ticket


def close_ticket(
    context: NodeContext,
    session: Session,
    ticket_id: int,
    data: dict[str, Any],
    operator: User,
) -> HotlineTicket:
    """Close a ticket with the caller's rating of the reply.

    The reply is the one in ``data``, else the routed node's reply received
    earlier. ``InvalidInput`` names the field when there is neither.
    """
    ticket = get_ticket(session, ticket_id)
    if ticket.closed_at is not None:
        raise Conflict(
            f"hotline ticket {ticket_id} is closed already",
            {"ticket_id": ticket_id},
        )
    reply = (data.get("reply") or ticket.reply or "").strip()
    if not reply:
        raise invalid(
            "reply", "missing: give the reply, or wait for the routed node's reply"
        )
    ticket.reply = reply
    ticket.caller_rating = data["caller_rating"]
    ticket.closed_at = utcnow()
    ticket.closed_by = operator.id
    send_closed(context, session, ticket, ticket_number(ticket))
    hotline_ticket_replied(
        context,
        session,
        ticket.kind,
        ticket.routed_to,
        ticket.created_at,
        ticket.closed_at,
    )
    logger.info("Hotline ticket %s closed, overdue: %s", ticket.id, is_overdue(ticket))
    return ticket


def reroute_ticket(
    context: NodeContext,
    session: Session,
    ticket_id: int,
    data: dict[str, Any],
    operator: User,
) -> HotlineTicket:
    """Route an open ticket to another node and department, moving its rollup count.

    The department is kept when ``data`` names none.
    """
    ticket = get_ticket(session, ticket_id)
    check_routable(context, data["routed_to"])
    previous = ticket.routed_to
    department = (data.get("department") or ticket.department).strip()
    reroute(
        context, session, ticket, ticket_number(ticket), data["routed_to"], department
    )
    hotline_ticket_rerouted(
        context, session, ticket.kind, previous, ticket.routed_to, ticket.created_at
    )
    logger.info("Hotline ticket %s re-routed by user %s", ticket.id, operator.id)
    return ticket


def verify_complaint(
    context: NodeContext,
    session: Session,
    ticket_id: int,
    data: dict[str, Any],
    supervisor: User,
) -> HotlineTicket:
    """Mark a complaint found true; the event feeds the window assessment."""
    ticket = get_ticket(session, ticket_id)
    if ticket.kind != HotlineKind.COMPLAINT:
        raise Conflict(
            f"hotline ticket {ticket_id} is a {ticket.kind}, but only a complaint "
            "can be verified",
            {"ticket_id": ticket_id, "kind": ticket.kind},
        )
    if ticket.verified_at is not None:
        raise Conflict(
            f"the complaint of hotline ticket {ticket_id} is verified already",
            {"ticket_id": ticket_id},
        )
    ticket.verified_at = utcnow()
    ticket.verified_by = supervisor.id
    ticket.verification_note = data["note"].strip()
    payload = {
        "ticket": ticket_number(ticket),
        "department": ticket.department,
        "case_id": ticket.case_id,
        "handler": ticket.routed_to,
        "verified_at": ticket.verified_at.isoformat(),
    }
    # The event belongs to no case of this node, so it is emitted without a
    # case_id. The case that a complaint names travels inside the payload.
    emit(context, session, "hotline.complaint_verified", payload)
    logger.info("Hotline complaint %s verified", ticket.id)
    return ticket


# --- reading ------------------------------------------------------------------------


def ticket_view(ticket: HotlineTicket) -> dict[str, Any]:
    return {
        **{c.key: getattr(ticket, c.key) for c in HotlineTicket.__table__.columns},
        "number": ticket_number(ticket),
        "overdue": is_overdue(ticket),
    }


def list_tickets(session: Session, status: str | None = None) -> list[dict[str, Any]]:
    """Return tickets, the newest first: all, open, closed, or overdue only."""
    query = select(HotlineTicket).order_by(HotlineTicket.id.desc())
    if status == "open":
        query = query.where(HotlineTicket.closed_at.is_(None))
    elif status == "closed":
        query = query.where(HotlineTicket.closed_at.is_not(None))
    views = [ticket_view(ticket) for ticket in session.scalars(query)]
    if status == "overdue":
        views = [view for view in views if view["overdue"]]
    return views


def case_status(session: Session, case_id: str) -> dict[str, Any]:
    """Return a case's status as stored at the hub, for a caller's query."""
    case = session.get(HubCase, case_id)
    if case is None:
        raise NotFound(
            f"case {case_id} not found at the city; check the case number on "
            "the acceptance notice",
            {"case_id": case_id},
        )
    names = matter_names(session, {case.matter_code})
    status = CaseStatus(case.status)
    return {
        **{c.key: getattr(case, c.key) for c in HubCase.__table__.columns},
        "matter_name": names.get(case.matter_code),
        "status_label": status.label,
    }
