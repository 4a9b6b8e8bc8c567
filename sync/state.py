"""Locked access to per-origin sync positions, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.models import Link, OriginState, utcnow


def lock_origin(session: Session, origin: str) -> OriginState:
    """Return the origin's state row, created if missing, locked for update.

    The lock serialises writers of one origin on PostgreSQL; on SQLite the
    whole transaction already holds the write lock.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(OriginState)
        .values(origin=origin, held_seq=0, acked_seq=0, reported_seq=0)
        .on_conflict_do_nothing()
    )
    query = select(OriginState).where(OriginState.origin == origin).with_for_update()
    return session.execute(query).scalar_one()


def touch_link(
    session: Session, peer: str, relation: str, error: str | None = None
) -> None:
    """Record contact with a peer, and the error if the contact failed."""
    link = session.get(Link, peer) or Link(peer=peer, relation=relation)
    now = utcnow()
    if error is None:
        link.last_contact = now
    else:
        link.last_error = error[:2000]
        link.last_error_at = now
    session.add(link)
