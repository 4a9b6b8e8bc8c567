"""The downward feed: events that a child's part of the tree must act on.

A child asks its parent for events whose destination lies in the child's
subtree and whose origin lies outside it, passing the highest sequence it
already has of each origin. Each origin's events are read in sequence
order, so that per-origin cursor never skips one.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.divisions import is_within, subtree_prefix
from common.errors import Forbidden
from common.models import Event, FeedCursor, utcnow
from common.schemas.events import event_errors
from sync.quarantine import apply_received
from sync.state import touch_link

logger = logging.getLogger(__name__)


def feed_page(
    context: NodeContext,
    session: Session,
    child: str,
    cursors: dict[str, int],
    limit: int,
) -> list[dict[str, Any]]:
    """Return up to ``limit`` events for ``child``, past its cursors.

    Raises ``Forbidden`` if ``child`` is not a direct child of this node.
    Personal data never travels down the feed.
    """
    if (
        child not in context.divisions
        or context.divisions.get(child).parent_code != context.code
    ):
        raise Forbidden(
            f"node {child} is not a child of node {context.code}", {"child": child}
        )
    prefix = subtree_prefix(child)
    after_cursor = or_(
        not_(Event.origin.in_(cursors)) if cursors else True,
        *(and_(Event.origin == o, Event.seq > seq) for o, seq in cursors.items()),
    )
    query = (
        select(Event)
        .where(
            Event.destination.startswith(prefix, autoescape=True),
            not_(Event.origin.startswith(prefix, autoescape=True)),
            after_cursor,
        )
        .order_by(Event.origin, Event.seq)
        .limit(limit)
    )
    touch_link(session, child, "child")
    return [
        {
            "origin": e.origin,
            "seq": e.seq,
            "kind": e.kind,
            "case_id": e.case_id,
            "destination": e.destination,
            "created_at": e.created_at,
            "payload": e.payload,
            "key_id": e.key_id,
            "signature": e.signature,
        }
        for e in session.scalars(query)
    ]


def feed_cursors(session: Session) -> dict[str, int]:
    return {c.origin: c.seq for c in session.scalars(select(FeedCursor))}


def apply_feed_page(
    context: NodeContext, session: Session, events: list[dict[str, Any]]
) -> int:
    """Store and act on feed events in the caller's transaction; return how many were new.

    An event already held is skipped, so a page fetched twice changes
    nothing. An event whose payload is invalid or whose handlers fail is
    stored and quarantined, as a child's event would be, so that it does
    not stop the feed. Raises ``Forbidden`` for an event that does not
    belong to this node's part of the tree.
    """
    prefix = subtree_prefix(context.code)
    new: dict[str, list[dict[str, Any]]] = {}
    invalid: dict[str, dict[int, dict[str, Any]]] = {}
    for event in events:
        origin, seq = event["origin"], event["seq"]
        destination = event["destination"] or ""
        if not is_within(destination, context.code) or origin.startswith(prefix):
            raise Forbidden(
                f"feed event {origin}#{seq} is not for node {context.code}: its "
                f"destination is {destination or 'missing'}"
            )
        cursor = session.get(FeedCursor, origin) or FeedCursor(origin=origin, seq=0)
        cursor.seq = max(cursor.seq, seq)
        session.add(cursor)
        if _held(session, origin, seq):
            continue
        errors = event_errors(event)
        if errors:
            invalid.setdefault(origin, {})[seq] = errors
        event = dict(event, personal=None)
        session.add(Event(**event, received_at=utcnow()))
        new.setdefault(origin, []).append(event)
    session.flush()
    for origin, run in new.items():
        apply_received(context, session, origin, run, invalid.get(origin, {}))
    return sum(len(run) for run in new.values())


def _held(session: Session, origin: str, seq: int) -> bool:
    return bool(
        session.scalar(select(exists().where(Event.origin == origin, Event.seq == seq)))
    )
