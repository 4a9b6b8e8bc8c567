"""The check every fault test ends with.

For every origin, each node above it (the city included) stores exactly
the events in the origin's outbox: each (origin, seq) once, the same set
and the same contents. Every application filed reached its handling node
once, and no other node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from common.context import get_context
from common.db import Database
from common.divisions import is_within
from common.models import Application, Case, Event

# What must be equal in every copy of an event, its sequence first. Personal
# data is left out: it is erased from a copy once the parent has acked it.
CONTENT = (
    Event.seq,
    Event.kind,
    Event.case_id,
    Event.destination,
    Event.created_at,
    Event.payload,
)


def events_of(db: Database, origin: str) -> list[tuple[Any, ...]]:
    """Return the ``CONTENT`` of each event of ``origin`` in ``db``, by sequence."""
    query = select(*CONTENT).where(Event.origin == origin).order_by(Event.seq, Event.id)
    with db.transaction() as session:
        return [tuple(row) for row in session.execute(query)]


def sequences(events: list[tuple[Any, ...]]) -> list[int]:
    return [event[0] for event in events]


def check_sync_invariant(codes: Iterable[str]) -> None:
    """Assert the invariant over the nodes ``codes``, all registered in this process."""
    databases = {code: get_context(code).db for code in codes}
    check_events(databases)
    check_applications(databases)


def check_events(databases: dict[str, Database]) -> None:
    outboxes = {code: events_of(db, code) for code, db in databases.items()}
    gapped = [
        code
        for code, events in outboxes.items()
        if sequences(events) != list(range(1, len(events) + 1))
    ]
    assert not gapped, f"outboxes whose sequences are not 1, 2, 3, …: {gapped}"

    duplicated, different_sets, changed = [], [], []
    for origin, outbox in outboxes.items():
        by_seq = {event[0]: event for event in outbox}
        holders = [c for c in databases if c != origin and is_within(origin, c)]
        for holder in holders:
            copy = events_of(databases[holder], origin)
            stored = sequences(copy)
            if len(stored) != len(set(stored)):
                duplicated.append((holder, origin))
            if set(stored) != set(by_seq):
                different_sets.append((holder, origin, len(set(stored)), len(by_seq)))
            changed += [
                (holder, origin, event[0])
                for event in copy
                if by_seq.get(event[0], event) != event
            ]
    assert not duplicated, (
        f"(holder, origin) pairs storing a sequence twice: {duplicated}"
    )
    assert not different_sets, (
        "(holder, origin, sequences stored, sequences in the outbox) that differ: "
        f"{different_sets}"
    )
    assert not changed, f"(holder, origin, seq) whose copy differs: {changed[:20]}"


def check_applications(databases: dict[str, Database]) -> None:
    handler_of: dict[str, str] = {}
    case_nodes: dict[str, set[str]] = {}
    received: Counter[tuple[str, str]] = Counter()
    for code, db in databases.items():
        with db.transaction() as session:
            query = select(Application.id, Application.handler_code)
            for case_id, handler in session.execute(query):
                handler_of[case_id] = handler
            for case_id in session.scalars(select(Case.id)):
                case_nodes.setdefault(case_id, set()).add(code)
            query = select(Event.case_id).where(
                Event.origin == code, Event.kind == "case.received"
            )
            received.update((code, case_id) for case_id in session.scalars(query))

    lost = [
        case_id
        for case_id, handler in handler_of.items()
        if handler not in case_nodes.get(case_id, set())
    ]
    assert not lost, f"applications that never reached their handling node: {lost}"
    misplaced = [
        case_id
        for case_id, handler in handler_of.items()
        if case_nodes.get(case_id, {handler}) != {handler}
    ]
    assert not misplaced, (
        f"applications stored as a case off their handler: {misplaced}"
    )
    repeated = [
        case_id
        for case_id, handler in handler_of.items()
        if received[handler, case_id] != 1
    ]
    assert not repeated, f"applications not received exactly once: {repeated}"
