"""Hotline tickets at the node they are routed to, and the replies sent back.

The city sends a routed ticket down the feed as ``hotline.routed``, addressed
to the routed node, and a ``hotline.withdrawn`` to the previous node when it
re-routes the ticket. The routed node's staff reply with ``hotline.replied``,
which travels up to the city and sets the reply on the city's ticket. The city
operator then closes the ticket with the caller's rating and sends
``hotline.closed`` to the routed node, which takes no reply after that.

Personal data: the caller's name and phone stay at the city. The routed node
replies through the city, which calls the caller back, so it needs neither.
The subject and the caller's division go down, because the node needs
them to reply: what the call is about and where the caller lives.

Each handler is idempotent: the routing count orders the city's events about
one ticket, so a replayed or stale event changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.calendar import load_calendar
from common.clock import local_date, today, utcnow
from common.context import NodeContext
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.evaluation_models import HotlineTicket
from common.hotline_models import RoutedHotlineTicket
from common.models import Role, User
from sync.dispatch import on
from sync.outbox import emit

logger = logging.getLogger(__name__)

# Roles that list every ticket routed to their node. A department approver
# lists only the tickets of their own department, or all of them if they
# have no department, as for the other department-bound work.
ALL_TICKETS_ROLES = (Role.CENTER_ADMIN, Role.SUPERVISOR)
VIEWER_ROLES = (*ALL_TICKETS_ROLES, Role.DEPARTMENT_APPROVER)

# Tiers with a center whose staff can reply to a ticket. A village proxy point has none.
ROUTABLE_TIERS = ("city", "county", "township")


# --- at the city: sending, re-routing, receiving replies -----------------------------


def send_routed(
    context: NodeContext, session: Session, ticket: HotlineTicket, number: str
) -> None:
    """Emit ``hotline.routed`` for the ticket's current routing, in the caller's transaction."""
    payload = {
        "ticket_id": ticket.id,
        "number": number,
        "routing": ticket.routing,
        "kind": ticket.kind,
        "subject": ticket.subject,
        "department": ticket.department,
        "matter_code": ticket.matter_code,
        "case_id": ticket.case_id,
        "caller_division": ticket.caller_division,
        "routed_at": utcnow().isoformat(),
        "deadline": ticket.deadline.isoformat(),
        "deadline_provisional": ticket.deadline_provisional,
    }
    emit(context, session, "hotline.routed", payload, destination=ticket.routed_to)


def send_closed(
    context: NodeContext, session: Session, ticket: HotlineTicket, number: str
) -> None:
    """Emit ``hotline.closed`` to the routed node, in the transaction that closes the ticket."""
    assert ticket.closed_at is not None, "send_closed needs a closed ticket"
    payload = {
        "ticket_id": ticket.id,
        "number": number,
        "routing": ticket.routing,
        "closed_at": ticket.closed_at.isoformat(),
    }
    emit(context, session, "hotline.closed", payload, destination=ticket.routed_to)


def check_routable(context: NodeContext, node: str) -> None:
    """Raise ``InvalidInput`` unless ``node`` is a center that can reply to a ticket."""
    reason = None
    if node not in context.divisions:
        reason = f"{node} is not a Zhangzhou division code"
    elif context.divisions.get(node).tier.value not in ROUTABLE_TIERS:
        reason = f"{node} is a village proxy point; route to its township or county"
    if reason is not None:
        raise InvalidInput(f"routed_to: {reason}", {"fields": {"routed_to": [reason]}})


def reroute(
    context: NodeContext,
    session: Session,
    ticket: HotlineTicket,
    number: str,
    routed_to: str,
    department: str,
) -> None:
    """Route an open ticket to another node or department.

    The previous node gets ``hotline.withdrawn`` and the new one
    ``hotline.routed``; a reply already received is dropped, because it
    replied to the previous routing. Raises ``Conflict`` for a closed ticket
    or an unchanged routing.
    """
    if ticket.closed_at is not None:
        raise Conflict(
            f"hotline ticket {ticket.id} is closed and cannot be re-routed",
            {"ticket_id": ticket.id},
        )
    if (routed_to, department) == (ticket.routed_to, ticket.department):
        raise Conflict(
            f"hotline ticket {ticket.id} is routed to node {routed_to}, "
            f"department {department!r} already",
            {"ticket_id": ticket.id},
        )
    previous = ticket.routed_to
    if previous != routed_to:
        payload = {
            "ticket_id": ticket.id,
            "number": number,
            "routing": ticket.routing,
            "rerouted_to": routed_to,
            "withdrawn_at": utcnow().isoformat(),
        }
        emit(context, session, "hotline.withdrawn", payload, destination=previous)
    ticket.routing += 1
    ticket.routed_to = routed_to
    ticket.department = department
    ticket.reply = ticket.replied_at = ticket.reply_from = None
    send_routed(context, session, ticket, number)
    logger.info(
        "Hotline ticket %s re-routed from node %s to node %s, department %s",
        ticket.id,
        previous,
        routed_to,
        department,
    )


@on("hotline.replied")
def reply_received(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    """Set a routed node's reply on the city's ticket, unless it is stale or closed."""
    if not context.is_hub:
        return
    payload = event["payload"]
    ticket = session.get(HotlineTicket, payload["ticket_id"])
    if ticket is None or ticket.closed_at is not None:
        logger.warning(
            "Node %s: ignored reply to hotline ticket %s from %s: %s",
            context.code,
            payload["ticket_id"],
            event["origin"],
            "no such ticket" if ticket is None else "closed already",
        )
        return
    if (event["origin"], payload["routing"]) != (ticket.routed_to, ticket.routing):
        logger.warning(
            "Node %s: ignored stale reply to hotline ticket %s from %s, routing %s; "
            "it is routed to %s, routing %s",
            context.code,
            ticket.id,
            event["origin"],
            payload["routing"],
            ticket.routed_to,
            ticket.routing,
        )
        return
    ticket.reply = payload["reply"]
    ticket.replied_at = dt.datetime.fromisoformat(payload["replied_at"])
    ticket.reply_from = event["origin"]
    logger.info(
        "Node %s: hotline ticket %s replied by %s",
        context.code,
        ticket.id,
        event["origin"],
    )


# --- at the routed node: storing, withdrawing, replying ------------------------------


@on("hotline.routed")
def ticket_routed(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    """Store or update the routed ticket, unless a newer routing is stored already."""
    if event["destination"] != context.code:
        return
    payload = event["payload"]
    routed_ticket = session.get(RoutedHotlineTicket, payload["ticket_id"])
    if routed_ticket is not None and routed_ticket.routing >= payload["routing"]:
        return
    routed_ticket = routed_ticket or RoutedHotlineTicket(ticket_id=payload["ticket_id"])
    routed_ticket.number = payload["number"]
    routed_ticket.routing = payload["routing"]
    routed_ticket.kind = payload["kind"]
    routed_ticket.subject = payload["subject"]
    routed_ticket.department = payload["department"]
    routed_ticket.matter_code = payload["matter_code"]
    routed_ticket.case_id = payload["case_id"]
    routed_ticket.caller_division = payload["caller_division"]
    routed_ticket.routed_at = dt.datetime.fromisoformat(payload["routed_at"])
    routed_ticket.deadline = dt.date.fromisoformat(payload["deadline"])
    routed_ticket.deadline_provisional = payload["deadline_provisional"]
    routed_ticket.withdrawn_at = routed_ticket.reply = routed_ticket.replied_at = (
        routed_ticket.replied_by
    ) = routed_ticket.closed_at = None
    session.add(routed_ticket)
    logger.info(
        "Node %s: hotline ticket %s routed here, routing %s",
        context.code,
        routed_ticket.ticket_id,
        routed_ticket.routing,
    )


def held_routing(
    context: NodeContext, session: Session, payload: dict[str, Any], action: str
) -> RoutedHotlineTicket | None:
    """Return the routed ticket that ``payload`` names, or None if another routing is stored.

    A withdrawal or closing of an older routing, replayed or late, must not
    touch the routing stored here, so it is logged and ignored.
    """
    routed_ticket = session.get(RoutedHotlineTicket, payload["ticket_id"])
    if routed_ticket is None or routed_ticket.routing != payload["routing"]:
        logger.warning(
            "Node %s: ignored %s of hotline ticket %s, routing %s, "
            "which is not the routing stored here",
            context.code,
            action,
            payload["ticket_id"],
            payload["routing"],
        )
        return None
    return routed_ticket


@on("hotline.withdrawn")
def ticket_withdrawn(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    """Mark the routed ticket withdrawn, if the withdrawal names the routing stored here."""
    if event["destination"] != context.code:
        return
    payload = event["payload"]
    routed_ticket = held_routing(context, session, payload, "withdrawal")
    if routed_ticket is not None and routed_ticket.withdrawn_at is None:
        routed_ticket.withdrawn_at = dt.datetime.fromisoformat(payload["withdrawn_at"])
        logger.info(
            "Node %s: hotline ticket %s withdrawn, re-routed to %s",
            context.code,
            routed_ticket.ticket_id,
            payload["rerouted_to"],
        )


@on("hotline.closed")
def ticket_closed(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    """Mark the routed ticket closed, if the closing names the routing stored here."""
    if event["destination"] != context.code:
        return
    payload = event["payload"]
    routed_ticket = held_routing(context, session, payload, "closing")
    if routed_ticket is not None and routed_ticket.closed_at is None:
        routed_ticket.closed_at = dt.datetime.fromisoformat(payload["closed_at"])
        logger.info(
            "Node %s: hotline ticket %s closed by the city",
            context.code,
            routed_ticket.ticket_id,
        )


def sees_all_tickets(user: User) -> bool:
    return user.department is None or any(
        role in user.roles for role in ALL_TICKETS_ROLES
    )


def get_routed(session: Session, ticket_id: int, user: User) -> RoutedHotlineTicket:
    """Return a ticket routed here that ``user`` may see, or raise ``NotFound``.

    A department approver of another department gets ``Forbidden``.
    """
    routed_ticket = session.get(RoutedHotlineTicket, ticket_id)
    if routed_ticket is None or routed_ticket.withdrawn_at is not None:
        raise NotFound(
            f"no hotline ticket {ticket_id} is routed to this node; it may have "
            "been re-routed by the city",
            {"ticket_id": ticket_id},
        )
    if not sees_all_tickets(user) and routed_ticket.department != user.department:
        raise Forbidden(
            f"hotline ticket {ticket_id} is routed to department "
            f"{routed_ticket.department!r}, not to yours ({user.department!r})",
            {"ticket_id": ticket_id},
        )
    return routed_ticket


def send_reply(
    context: NodeContext,
    session: Session,
    ticket_id: int,
    reply: str,
    user: User,
) -> RoutedHotlineTicket:
    """Record the reply here and emit ``hotline.replied`` for the city, in one transaction.

    Raises ``Conflict`` if this routing of the ticket has a reply already,
    or if the city has closed the ticket, because the city would drop the reply.
    """
    routed_ticket = get_routed(session, ticket_id, user)
    if routed_ticket.closed_at is not None:
        raise Conflict(
            f"hotline ticket {ticket_id} was closed by the city on "
            f"{local_date(routed_ticket.closed_at)} and takes no more replies; "
            "call the city's hotline operator to add to the reply",
            {"ticket_id": ticket_id},
        )
    if routed_ticket.replied_at is not None:
        raise Conflict(
            f"hotline ticket {ticket_id} has a reply already; ask the city's "
            "hotline operator to change it",
            {"ticket_id": ticket_id},
        )
    routed_ticket.reply = reply.strip()
    routed_ticket.replied_at = utcnow()
    routed_ticket.replied_by = user.id
    payload = {
        "ticket_id": routed_ticket.ticket_id,
        "number": routed_ticket.number,
        "routing": routed_ticket.routing,
        "reply": routed_ticket.reply,
        "replied_at": routed_ticket.replied_at.isoformat(),
    }
    emit(context, session, "hotline.replied", payload)
    logger.info("Node %s: replied to hotline ticket %s", context.code, ticket_id)
    return routed_ticket


def list_routed(
    session: Session, user: User, status: str | None = None
) -> list[dict[str, Any]]:
    """Return the tickets routed here that ``user`` may see, the earliest deadline first.

    ``status`` "open" keeps those without a reply that the city has not
    closed, "replied" those with one. Withdrawn tickets are left out.
    """
    query = select(RoutedHotlineTicket).where(
        RoutedHotlineTicket.withdrawn_at.is_(None)
    )
    if not sees_all_tickets(user):
        query = query.where(RoutedHotlineTicket.department == user.department)
    if status == "open":
        query = query.where(
            RoutedHotlineTicket.replied_at.is_(None),
            RoutedHotlineTicket.closed_at.is_(None),
        )
    elif status == "replied":
        query = query.where(RoutedHotlineTicket.replied_at.is_not(None))
    query = query.order_by(RoutedHotlineTicket.deadline, RoutedHotlineTicket.ticket_id)
    calendar = load_calendar(session)
    return [
        routed_view(routed_ticket, calendar) for routed_ticket in session.scalars(query)
    ]


def routed_view(routed_ticket: RoutedHotlineTicket, calendar: Any) -> dict[str, Any]:
    """Return a routed ticket with its working days left, negative once overdue.

    The count stops when the ticket is replied here or closed at the city.
    """
    stopped_at = routed_ticket.replied_at or routed_ticket.closed_at
    day = local_date(stopped_at) if stopped_at else today()
    if day <= routed_ticket.deadline:
        left = calendar.working_days_between(day, routed_ticket.deadline)
    else:
        left = -calendar.working_days_between(routed_ticket.deadline, day)
    return {
        **{
            c.key: getattr(routed_ticket, c.key)
            for c in RoutedHotlineTicket.__table__.columns
        },
        "working_days_left": left,
        "overdue": day > routed_ticket.deadline,
    }
