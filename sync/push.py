"""Sending side of the upward stream: batches from the cursor, moved on ack."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.divisions import is_within, subtree_prefix
from common.models import Event, OriginState, utcnow
from sync.versions import software_version

logger = logging.getLogger(__name__)

WIRE_FIELDS = (
    "origin",
    "seq",
    "kind",
    "case_id",
    "destination",
    "created_at",
    "payload",
    "key_id",
    "signature",
)
# Read with Core, not as ORM objects: this is the hot path of every push.
WIRE_COLUMNS = [
    getattr(Event, name) for name in (*WIRE_FIELDS, "personal", "personal_signature")
]


def pending_origins(context: NodeContext, session: Session) -> list[OriginState]:
    """Return origins of this node's subtree holding events the parent has not acked."""
    query = select(OriginState).where(
        OriginState.origin.startswith(subtree_prefix(context.code), autoescape=True),
        OriginState.held_seq > OriginState.acked_seq,
    )
    return list(session.scalars(query.order_by(OriginState.origin)))


def unacked_count(context: NodeContext, session: Session) -> int:
    return sum(s.held_seq - s.acked_seq for s in pending_origins(context, session))


def to_wire(context: NodeContext, event: Row[Any]) -> dict[str, Any]:
    """Serialise an event row for the parent.

    Personal data goes along only while the parent is still on the way to
    the event's destination, that is while the destination is a proper
    ancestor of this node.
    """
    wire = {name: getattr(event, name) for name in WIRE_FIELDS}
    wire["created_at"] = event.created_at.isoformat()
    destination = event.destination
    if (
        destination
        and destination != context.code
        and is_within(context.code, destination)
    ):
        wire["personal"] = event.personal
        wire["personal_signature"] = event.personal_signature
    return wire


def collect_batch(context: NodeContext, session: Session) -> list[dict[str, Any]]:
    """Read up to ``batch_size`` unacknowledged events, in sequence order per origin."""
    limit = context.config.batch_size
    batch: list[dict[str, Any]] = []
    for state in pending_origins(context, session):
        query = (
            select(*WIRE_COLUMNS)
            .where(Event.origin == state.origin, Event.seq > state.acked_seq)
            .order_by(Event.seq)
            .limit(limit - len(batch))
        )
        batch.extend(to_wire(context, row) for row in session.execute(query))
        if len(batch) >= limit:
            break
    return batch


def collect_heads(context: NodeContext, session: Session) -> dict[str, dict[str, Any]]:
    """Report the highest sequence known and last contact of each origin below."""
    query = select(OriginState).where(
        OriginState.origin.startswith(subtree_prefix(context.code), autoescape=True)
    )
    heads = {}
    for state in session.scalars(query):
        own = state.origin == context.code
        contact = utcnow() if own else state.last_contact
        heads[state.origin] = {
            "seq": max(state.held_seq, state.reported_seq),
            "contact": contact.isoformat() if contact else None,
            "software": software_version() if own else state.software,
        }
    # A node that has emitted no event yet still reports its software.
    heads.setdefault(
        context.code,
        {"seq": 0, "contact": utcnow().isoformat(), "software": software_version()},
    )
    return heads


def record_ack(session: Session, held: dict[str, int]) -> int:
    """Move each origin's cursor to what the parent says it holds.

    The cursor moves back as well as forward: a parent restored from an
    older backup holds less, and the events it lost are then sent again.
    Events the parent holds no longer need their personal data here, so it
    is erased from them; the filing and handling nodes keep it in their
    application and case records. Returns the number of cursors that moved.
    """
    moved = 0
    for origin, seq in held.items():
        state = session.get(OriginState, origin)
        if state is None:
            continue
        cursor = min(seq, state.held_seq)
        if cursor == state.acked_seq:
            continue
        if cursor > state.acked_seq:
            forget_personal_data(session, origin, state.acked_seq, cursor)
        state.acked_seq = cursor
        moved += 1
    return moved


def forget_personal_data(session: Session, origin: str, after: int, up_to: int) -> None:
    """Erase personal data from the events ``after < seq <= up_to`` of an origin."""
    # NOTE: an event resent after a parent lost it goes without personal
    # data, so a handling node restored from an old backup cannot re-create
    # the case from it.
    session.execute(
        update(Event)
        .where(
            Event.origin == origin,
            Event.seq > after,
            Event.seq <= up_to,
            Event.personal.is_not(None),
        )
        .values(personal=None)
    )
