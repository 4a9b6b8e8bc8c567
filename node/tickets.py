"""Queue tickets (取号): taking, calling, finishing and the daily report.

Each function runs in the caller's transaction and writes its change and
the event announcing it together, through the outbox. Ticket events have
no case and no destination: only the hub reads them, for the queue metrics.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from statistics import mean
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.clock import local_date, today, utcnow
from common.context import NodeContext
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.models import (
    Application,
    Case,
    QueueTicket,
    ServiceWindow,
    TicketStatus,
    User,
)
from node.windows import category_letters, get_window, served_categories
from sync.outbox import emit
from sync.state import lock_origin

logger = logging.getLogger(__name__)


def ticket_key(context: NodeContext, ticket: QueueTicket) -> str:
    """Return the ticket's city-wide key, ``<node code>-<day>-<number>``."""
    return f"{context.code}-{ticket.day.isoformat()}-{ticket.number}"


def get_ticket(session: Session, ticket_id: int) -> QueueTicket:
    ticket = session.get(QueueTicket, ticket_id)
    if ticket is None:
        raise NotFound(
            f"no queue ticket {ticket_id} at this center", {"ticket_id": ticket_id}
        )
    return ticket


def waiting_ahead(session: Session, ticket: QueueTicket) -> int:
    """Count the tickets of the same day and category that will be called first."""
    if ticket.status != TicketStatus.WAITING:
        return 0
    query = select(func.count()).where(
        QueueTicket.day == ticket.day,
        QueueTicket.category == ticket.category,
        QueueTicket.status == TicketStatus.WAITING,
        QueueTicket.id < ticket.id,
    )
    return session.scalar(query) or 0


def now_to_the_second() -> dt.datetime:
    """Return the current time without its fraction: tickets are timed in seconds."""
    return utcnow().replace(microsecond=0)


def seconds_between(start: dt.datetime, end: dt.datetime) -> int:
    """Return the whole seconds from ``start`` to ``end``, rounded.

    A clock set back between the two moments gives 0, never a negative time.
    """
    return max(0, round((end - start).total_seconds()))


# --- taking a ticket ----------------------------------------------------------


def take_ticket(context: NodeContext, session: Session, category: str) -> QueueTicket:
    """Issue the next ticket of ``category`` for today at this center.

    Raises ``InvalidInput`` on field ``category`` unless an active window
    serves it. Numbers are a letter per category and three digits (A007),
    taken under the node's origin row lock so that two kiosks at once get
    different numbers on every database.
    """
    category = category.strip()
    served = served_categories(session)
    if category not in served:
        raise InvalidInput(
            f"no open window serves the category {category!r}",
            {
                "fields": {"category": [unserved_reason(served)]},
                "categories": served,
            },
        )

    lock_origin(session, context.code)
    taken_at = now_to_the_second()
    day = local_date(taken_at)
    letter = category_letters(session)[category]
    ticket = QueueTicket(
        day=day,
        number=f"{letter}{next_ticket_sequence(session, day, letter):03d}",
        category=category,
        status=TicketStatus.WAITING,
        taken_at=taken_at,
    )
    session.add(ticket)
    session.flush()
    emit(context, session, "ticket.taken", ticket_payload(context, ticket))
    logger.info("Node %s: ticket %s taken", context.code, ticket.number)
    return ticket


def unserved_reason(served: list[str]) -> str:
    if not served:
        return "no window is open for tickets at this center"
    return f"choose a category that an open window serves: {', '.join(served)}"


def next_ticket_sequence(session: Session, day: dt.date, letter: str) -> int:
    """Return the next number of the day for ``letter``.

    The caller must hold the origin row lock, so that no other ticket takes it.
    """
    numbers = session.scalars(
        select(QueueTicket.number).where(
            QueueTicket.day == day, QueueTicket.number.startswith(letter)
        )
    )
    return max((int(n[1:]) for n in numbers), default=0) + 1


# --- at the window ------------------------------------------------------------


def clerk_window(session: Session, clerk: User) -> ServiceWindow:
    """Return the clerk's active window; raise if none is assigned or it is closed."""
    user = session.get(User, clerk.id)
    if user is None or user.window_id is None:
        raise Forbidden(
            f"user {clerk.username} is not assigned to a window; "
            "ask a center administrator to assign one",
            {"username": clerk.username},
        )
    window = get_window(session, user.window_id)
    if not window.active:
        raise Conflict(
            f"window {window.name} is deactivated and calls no tickets",
            {"window_id": window.id},
        )
    return window


def current_ticket(session: Session, clerk: User) -> QueueTicket | None:
    """Return the ticket the clerk called and has not finished, of any day."""
    query = (
        select(QueueTicket)
        .where(
            QueueTicket.clerk_id == clerk.id,
            QueueTicket.status == TicketStatus.CALLED,
        )
        .order_by(QueueTicket.called_at)
    )
    return session.scalars(query).first()


def call_next(context: NodeContext, session: Session, clerk: User) -> QueueTicket:
    """Call today's oldest waiting ticket of the categories the clerk's window serves.

    Raises ``Conflict`` while the clerk still has a called ticket, and
    ``NotFound`` when no ticket is waiting.
    """
    lock_origin(session, context.code)
    window = clerk_window(session, clerk)
    unfinished = current_ticket(session, clerk)
    if unfinished is not None:
        raise Conflict(
            f"finish ticket {unfinished.number} or mark it as a no-show "
            "before calling the next one",
            {"ticket_id": unfinished.id, "number": unfinished.number},
        )

    query = (
        select(QueueTicket)
        .where(
            QueueTicket.day == today(),
            QueueTicket.status == TicketStatus.WAITING,
            QueueTicket.category.in_(window.categories),
        )
        .order_by(QueueTicket.taken_at, QueueTicket.id)
    )
    ticket = session.scalars(query).first()
    if ticket is None:
        raise NotFound(
            f"no ticket is waiting for window {window.name} "
            f"({', '.join(window.categories)})",
            {"window_id": window.id, "categories": window.categories},
        )

    ticket.status = TicketStatus.CALLED
    called_at = ticket.called_at = now_to_the_second()
    ticket.window_id = window.id
    ticket.clerk_id = clerk.id
    payload = ticket_payload(context, ticket, window)
    payload["waited_seconds"] = seconds_between(ticket.taken_at, called_at)
    emit(context, session, "ticket.called", payload)
    logger.info(
        "Node %s: ticket %s called to window %s",
        context.code,
        ticket.number,
        window.id,
    )
    return ticket


def called_by(session: Session, ticket_id: int, clerk: User) -> QueueTicket:
    """Return a ticket that ``clerk`` called and has not finished, or raise."""
    ticket = get_ticket(session, ticket_id)
    if ticket.clerk_id != clerk.id:
        raise Forbidden(
            f"ticket {ticket.number} was not called by {clerk.username}; "
            "only the clerk who called it may finish it",
            {"ticket_id": ticket_id},
        )
    if ticket.status != TicketStatus.CALLED:
        raise Conflict(
            f"ticket {ticket.number} is {ticket.status} already",
            {"ticket_id": ticket_id, "status": ticket.status},
        )
    return ticket


def finish_ticket(
    context: NodeContext,
    session: Session,
    ticket_id: int,
    clerk: User,
    case_id: str | None = None,
) -> QueueTicket:
    """Mark a called ticket as served, linking the case it became if given.

    Raises ``InvalidInput`` on field ``case_id`` for a case unknown here or
    a ticket linked to another case.
    """
    ticket = called_by(session, ticket_id, clerk)
    if case_id is not None and case_id != ticket.case_id:
        check_case_link(session, ticket, case_id)
        ticket.case_id = case_id
    return close_ticket(context, session, ticket, TicketStatus.DONE)


def mark_no_show(
    context: NodeContext, session: Session, ticket_id: int, clerk: User
) -> QueueTicket:
    """Close a called ticket whose holder did not come to the window."""
    ticket = called_by(session, ticket_id, clerk)
    return close_ticket(context, session, ticket, TicketStatus.NO_SHOW)


def check_case_link(session: Session, ticket: QueueTicket, case_id: str) -> None:
    if ticket.case_id is not None:
        reason = f"ticket {ticket.number} is linked to case {ticket.case_id} already"
        raise InvalidInput(reason, {"fields": {"case_id": [reason]}})
    known = session.get(Case, case_id) or session.get(Application, case_id)
    if known is None:
        reason = f"no case or application {case_id} at this center"
        raise InvalidInput(reason, {"fields": {"case_id": [reason]}})
    if isinstance(known, Case) and known.intake_by != ticket.clerk_id:
        reason = f"case {case_id} was taken in by another clerk, not at this ticket"
        raise InvalidInput(reason, {"fields": {"case_id": [reason]}})
    taken = session.scalar(
        select(QueueTicket.number).where(
            QueueTicket.case_id == case_id, QueueTicket.id != ticket.id
        )
    )
    if taken is not None:
        reason = f"case {case_id} belongs to ticket {taken} already"
        raise InvalidInput(reason, {"fields": {"case_id": [reason]}})


def close_ticket(
    context: NodeContext, session: Session, ticket: QueueTicket, status: TicketStatus
) -> QueueTicket:
    called_at = ticket.called_at
    assert called_at is not None, "only a called ticket is closed"
    ticket.status = status
    ticket.finished_at = now_to_the_second()
    window = session.get(ServiceWindow, ticket.window_id)
    payload = ticket_payload(context, ticket, window)
    payload["waited_seconds"] = seconds_between(ticket.taken_at, called_at)
    # Only a served ticket has a service time: a no-show was never served.
    payload["service_seconds"] = (
        seconds_between(called_at, ticket.finished_at)
        if status == TicketStatus.DONE
        else None
    )
    if ticket.case_id is not None:
        payload["case_id"] = ticket.case_id
    emit(context, session, "ticket.finished", payload)
    logger.info("Node %s: ticket %s %s", context.code, ticket.number, status.value)
    return ticket


def link_case(
    context: NodeContext,
    session: Session,
    ticket_id: int,
    case_id: str,
    clerk: User,
) -> QueueTicket:
    """Link the case a clerk files at the window to the ticket they called.

    Raises ``InvalidInput`` on field ``ticket_id`` unless the ticket exists,
    was called by ``clerk``, is still being served and is not linked yet.
    The link travels to the hub with the ``ticket.finished`` event.
    """
    ticket = session.get(QueueTicket, ticket_id)
    if ticket is None:
        raise invalid_ticket_id(f"no queue ticket {ticket_id} at this center")
    if ticket.clerk_id != clerk.id or ticket.status != TicketStatus.CALLED:
        raise invalid_ticket_id(
            f"ticket {ticket.number} is not being served by {clerk.username}"
        )
    if ticket.case_id is not None:
        raise invalid_ticket_id(
            f"ticket {ticket.number} is linked to case {ticket.case_id} already"
        )

    ticket.case_id = case_id
    logger.info(
        "Node %s: ticket %s linked to case %s", context.code, ticket.number, case_id
    )
    return ticket


def invalid_ticket_id(reason: str) -> InvalidInput:
    return InvalidInput(reason, {"fields": {"ticket_id": [reason]}})


def ticket_payload(
    context: NodeContext, ticket: QueueTicket, window: ServiceWindow | None = None
) -> dict[str, Any]:
    """Build the part of a ticket event that every ticket kind carries."""
    payload: dict[str, Any] = {
        "ticket": ticket_key(context, ticket),
        "day": ticket.day.isoformat(),
        "number": ticket.number,
        "category": ticket.category,
        "status": TicketStatus(ticket.status).value,
        "taken_at": ticket.taken_at.isoformat(),
    }
    if window is not None:
        payload["window"] = window.name
        payload["department"] = window.department
    if ticket.called_at is not None:
        payload["called_at"] = ticket.called_at.isoformat()
    if ticket.finished_at is not None:
        payload["finished_at"] = ticket.finished_at.isoformat()
    return payload


# --- queue and report ---------------------------------------------------------


def waiting_tickets(session: Session, day: dt.date) -> list[QueueTicket]:
    """List the day's waiting tickets in the order they will be called."""
    query = (
        select(QueueTicket)
        .where(QueueTicket.day == day, QueueTicket.status == TicketStatus.WAITING)
        .order_by(QueueTicket.taken_at, QueueTicket.id)
    )
    return list(session.scalars(query))


def daily_report(session: Session, day: dt.date) -> dict[str, Any]:
    """Count the day's tickets and time their waiting and service, in seconds.

    Figures are given per category, per window that called tickets, and in
    total. ``waiting`` counts the tickets still waiting now.
    """
    tickets = list(session.scalars(select(QueueTicket).where(QueueTicket.day == day)))
    windows = {w.id: w for w in session.scalars(select(ServiceWindow))}

    by_category: dict[str, list[QueueTicket]] = {}
    by_window: dict[int, list[QueueTicket]] = {}
    for ticket in tickets:
        by_category.setdefault(ticket.category, []).append(ticket)
        if ticket.window_id is not None:
            by_window.setdefault(ticket.window_id, []).append(ticket)

    categories = [
        {"category": name, **category_figures(rows)}
        for name, rows in sorted(by_category.items())
    ]
    window_rows = [
        {
            "window_id": window_id,
            "window_name": windows[window_id].name,
            "department": windows[window_id].department,
            **time_figures(rows),
        }
        for window_id, rows in sorted(by_window.items())
    ]
    return {
        "day": day,
        "categories": categories,
        "windows": window_rows,
        "total": {"category": "", **category_figures(tickets)},
    }


def category_figures(tickets: list[QueueTicket]) -> dict[str, Any]:
    waiting = [t for t in tickets if t.status == TicketStatus.WAITING]
    return {"taken": len(tickets), "waiting": len(waiting), **time_figures(tickets)}


def time_figures(tickets: Iterable[QueueTicket]) -> dict[str, Any]:
    """Count called, served and no-show tickets and time their wait and service."""
    called = [t for t in tickets if t.called_at is not None]
    served = [t for t in called if t.status == TicketStatus.DONE]
    waits = [seconds_between(t.taken_at, t.called_at) for t in called]  # type: ignore[arg-type]
    services = [
        seconds_between(t.called_at, t.finished_at)  # type: ignore[arg-type]
        for t in served
    ]
    return {
        "called": len(called),
        "served": len(served),
        "no_shows": sum(1 for t in called if t.status == TicketStatus.NO_SHOW),
        "average_wait_seconds": round(mean(waits), 1) if waits else None,
        "max_wait_seconds": max(waits) if waits else None,
        "average_service_seconds": round(mean(services), 1) if services else None,
    }
