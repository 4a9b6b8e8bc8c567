"""Sync health of one node: its links and what each origin still has to send."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.catalog import current_release_number
from common.context import NodeContext
from common.models import Event, Link, OriginState
from sync.push import pending_origins
from sync.quarantine import open_count
from sync.versions import protocols_text, software_version


def queue_health(context: NodeContext) -> str:
    """Return "ok" when the node's Redis replies to a ping, else the error."""
    try:
        context.redis.ping()
    except RedisError as exc:
        return f"unavailable: {exc}"
    return "ok"


def sync_status(context: NodeContext, session: Session) -> dict[str, Any]:
    own = session.get(OriginState, context.code)
    unacked = []
    if context.parent_code:
        for state in pending_origins(context, session):
            oldest = session.scalar(
                select(Event.created_at).where(
                    Event.origin == state.origin, Event.seq == state.acked_seq + 1
                )
            )
            unacked.append(
                {
                    "origin": state.origin,
                    "unacknowledged": state.held_seq - state.acked_seq,
                    "oldest_created_at": oldest.isoformat() if oldest else None,
                }
            )
    links = [
        {
            "peer": link.peer,
            "relation": link.relation,
            "last_contact": link.last_contact.isoformat()
            if link.last_contact
            else None,
            "last_error": link.last_error,
            # True while the last attempt failed; an older error stays shown.
            "failing": link.last_error_at is not None
            and (link.last_contact is None or link.last_error_at > link.last_contact),
            "last_error_at": link.last_error_at.isoformat()
            if link.last_error_at
            else None,
            "peer_software": link.peer_software,
            "peer_protocols": link.peer_protocols,
        }
        for link in session.scalars(select(Link).order_by(Link.relation, Link.peer))
    ]
    return {
        "queue": queue_health(context),
        "node": context.code,
        "name": context.division.name,
        "tier": context.tier.value,
        "parent": context.parent_code,
        "software": software_version(),
        "protocols": protocols_text(),
        "release": current_release_number(session),
        "own_events": own.held_seq if own else 0,
        "unacknowledged": unacked,
        # Received events held unapplied here (see /sync-status/quarantine).
        "quarantined": open_count(session),
        "links": links,
    }
