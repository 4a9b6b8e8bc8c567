"""Daily metric snapshots: a handling node's own counts of one finished day, sent up.

The hub compares each snapshot with what it counts from the events it holds
(see ``hub.reconciliation``), so a lost or mangled event shows as a
difference for that node and day.

Idempotence: the node keeps no table of its own for snapshots. It looks up
the ``metrics.snapshot`` events it emitted, which stay in its ``sync_event``
table, and emits again only when no snapshot of that day was sent or when
the counts differ from the last one sent. The hub keeps the latest snapshot
of each node and day, so a resent one replaces the earlier one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from common.clock import CHINA, today
from common.context import NodeContext
from common.divisions import Tier
from common.errors import InvalidInput
from common.models import Case, Event, SupplementNotice
from sync.jobs import notify, push_up, start_job
from sync.outbox import emit

logger = logging.getLogger(__name__)

SNAPSHOT_KIND = "metrics.snapshot"
# Counted figures, in the order the hub lists them.
FIGURES = ("received", "accepted", "completed", "rejected", "supplement_notices")
# Finished days that the daily job snapshots, counting back from yesterday.
LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class Snapshot:
    """The counts of one node and day, and whether this call emitted them."""

    node: str
    day: dt.date
    counts: dict[str, int]
    sent: bool


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Return the start of ``day`` in China and the start of the next day, as aware values."""
    start = dt.datetime.combine(day, dt.time(0), CHINA)
    return start, start + dt.timedelta(days=1)


def within(column: Any, day: dt.date) -> ColumnElement[bool]:
    """Return the condition that a timestamp column falls on ``day`` in China."""
    start, end = day_bounds(day)
    return (column >= start) & (column < end)


def count_events(session: Session, origin: str, kind: str, day: dt.date) -> int:
    """Count the events of ``kind`` from ``origin`` created on ``day`` (China date)."""
    query = select(func.count()).where(
        Event.origin == origin, Event.kind == kind, within(Event.created_at, day)
    )
    return session.scalar(query) or 0


def _count(session: Session, *conditions: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).where(*conditions)) or 0


def count_day(context: NodeContext, session: Session, day: dt.date) -> dict[str, int]:
    """Count this node's cases of one day (China date) as their handling node.

    Only the handling node keeps a ``case`` row, so every row counts.
    """
    return {
        "received": _count(session, within(Case.received_at, day)),
        "accepted": _count(session, within(Case.accepted_at, day)),
        "completed": _count(session, within(Case.completed_at, day)),
        # A case keeps no time of its rejection, so rejections are counted
        # from the node's own case.rejected events.
        "rejected": count_events(session, context.code, "case.rejected", day),
        # NOTE: the hub counts the notice's event by its creation time, which
        # follows issued_at by a moment. A notice issued within that moment of
        # midnight would count on two different days.
        "supplement_notices": _count(session, within(SupplementNotice.issued_at, day)),
    }


def last_sent_counts(
    context: NodeContext, session: Session, day: dt.date
) -> dict[str, int] | None:
    """Return the counts of the last snapshot of ``day`` this node emitted, or None."""
    # A snapshot of a day is taken only once the day is over.
    _, end = day_bounds(day)
    query = (
        select(Event.payload)
        .where(
            Event.origin == context.code,
            Event.kind == SNAPSHOT_KIND,
            Event.created_at >= end,
        )
        .order_by(Event.seq.desc())
    )
    for payload in session.scalars(query):
        if payload.get("day") == day.isoformat():
            return dict(payload["counts"])
    return None


def check_finished(day: dt.date) -> None:
    """Raise ``InvalidInput`` unless ``day`` is over in China."""
    if day >= today():
        message = (
            f"day {day.isoformat()} is not over yet: snapshot a day before "
            f"{today().isoformat()}"
        )
        raise InvalidInput(message, {"fields": {"day": [message]}})


def take_snapshot(context: NodeContext, session: Session, day: dt.date) -> Snapshot:
    """Count one finished day and emit ``metrics.snapshot`` unless the same counts were sent.

    Raises ``InvalidInput`` for a day that is not over yet. Runs in the
    caller's transaction.
    """
    check_finished(day)
    counts = count_day(context, session, day)
    if last_sent_counts(context, session, day) == counts:
        return Snapshot(context.code, day, counts, sent=False)
    payload = {"node": context.code, "day": day.isoformat(), "counts": counts}
    emit(context, session, SNAPSHOT_KIND, payload)
    logger.info("Node %s: snapshot of %s sent: %s", context.code, day, counts)
    return Snapshot(context.code, day, counts, sent=True)


def send_snapshots(code: str) -> int:
    """Snapshot each of the last week's finished days and return how many were sent.

    An RQ job: safe to run any number of times, because a day whose counts
    were already sent unchanged is not sent again. A village proxy point
    handles no case, so it sends nothing.
    """
    context = start_job(code, send_snapshots)
    if context.tier == Tier.VILLAGE:
        return 0
    sent = 0
    for back in range(LOOKBACK_DAYS, 0, -1):
        with context.db.transaction() as session:
            day = today() - dt.timedelta(days=back)
            sent += int(take_snapshot(context, session, day).sent)
    if sent:
        notify(context, push_up)
    logger.info("Node %s: %d daily snapshots sent", code, sent)
    return sent
