"""Receiving side of the upward stream: apply a child's batch, each event once.

Events are stored once per (origin, seq) by a unique constraint, and a
resent event is skipped after its signature is compared with the stored one.
An event that is stored but cannot be acted on is quarantined (see
``sync.quarantine``) instead of failing the batch.
"""

from __future__ import annotations

import logging
from itertools import groupby
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.divisions import is_within
from common.errors import Conflict, Forbidden, InvalidInput, SequenceGap
from common.keys import event_text, personal_text, verify
from common.models import Event, NodeKey, utcnow
from common.schemas.events import event_errors
from sync.manifests import still_to_prove
from sync.quarantine import apply_received
from sync.revocation import check_event_keys
from sync.state import lock_origin, touch_link

logger = logging.getLogger(__name__)

# Event fields outside the payload whose errors reject the whole batch. An
# event with any other error is stored and quarantined, once its origin's
# signature over it is checked.
ENVELOPE_FIELDS = frozenset({"destination"})


def check_child(context: NodeContext, sender: str) -> None:
    """Raise ``Forbidden`` unless ``sender`` is a direct child of this node."""
    if (
        sender not in context.divisions
        or context.divisions.get(sender).parent_code != context.code
    ):
        raise Forbidden(
            f"node {sender} is not a child of node {context.code}; "
            "send to the parent of the sending node",
            {"sender": sender},
        )


def group_runs(
    context: NodeContext, sender: str, events: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Split a batch into one run per origin and check each run's shape.

    Raises ``Forbidden`` for an origin outside the sender's subtree and
    ``InvalidInput`` for a run whose sequences are not consecutive.
    """
    runs: dict[str, list[dict[str, Any]]] = {}
    for origin, run in groupby(events, key=lambda e: e["origin"]):
        if origin in runs:
            raise InvalidInput(
                f"events of origin {origin} must be contiguous in the batch",
                {"events": [f"origin {origin} appears in more than one run"]},
            )
        if origin not in context.divisions:
            raise Forbidden(
                f"origin {origin} is not a Zhangzhou division code",
                {"origin": origin, "sender": sender},
            )
        if not is_within(origin, sender):
            raise Forbidden(
                f"node {sender} cannot send events of origin {origin}, which is not "
                "in its part of the tree",
                {"origin": origin, "sender": sender},
            )
        runs[origin] = list(run)
        seqs = [e["seq"] for e in runs[origin]]
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            raise InvalidInput(
                f"events of origin {origin} must have consecutive sequence numbers",
                {
                    "events": [
                        f"origin {origin}: sequences {seqs[0]}..{seqs[-1]} have a gap"
                    ]
                },
            )
    return runs


def check_event_contents(
    context: NodeContext, events: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Return the errors of each event whose payload is invalid, by sequence.

    Raises ``InvalidInput`` naming the event and field of the first event
    whose envelope is invalid, for example an unknown destination.
    """
    invalid = {}
    for event in events:
        errors = event_errors(event)
        destination = event["destination"]
        if destination is not None and destination not in context.divisions:
            errors["destination"] = [f"{destination} is not a Zhangzhou division code"]
        if ENVELOPE_FIELDS.intersection(errors):
            where = f"{event['origin']}#{event['seq']}"
            raise InvalidInput(
                f"event {where} ({event['kind']}) is invalid; fix it at its origin",
                {"fields": {f"events.{where}": errors}},
            )
        if errors:
            invalid[event["seq"]] = errors
    return invalid


class EventDiverged(Conflict):
    code = "event_diverged"


def check_duplicates(
    session: Session, origin: str, duplicates: list[dict[str, Any]]
) -> None:
    """Raise ``EventDiverged`` unless each resent event equals the one held.

    A resent event is skipped only once its signature matches the stored
    one; another event under a held sequence number means the origin
    reused numbers, for example after a restore from an old backup, and
    must not be dropped silently.
    """
    if not duplicates:
        return
    query = select(Event.seq, Event.signature).where(
        Event.origin == origin,
        Event.seq >= duplicates[0]["seq"],
        Event.seq <= duplicates[-1]["seq"],
    )
    held = dict(session.execute(query).all())
    for event in duplicates:
        if held.get(event["seq"]) != event["signature"]:
            raise EventDiverged(
                f"event {origin}#{event['seq']} differs from the one held here under the "
                f"same number; node {origin} reused sequence numbers and must be repaired",
                {"origin": origin, "seq": event["seq"]},
            )


def events_to_prove(
    context: NodeContext,
    sender: str,
    origin: str,
    events: list[dict[str, Any]],
    invalid: dict[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Return the events whose origin signature this node must check.

    The request's own signature already proves the sender's events. Of the
    events it relays, the hub checks all, and any other node those it acts
    on; a relay passes the rest on unchecked, because checking costs about
    0.1 ms an event and the hub rejects a forged one with its origin named.
    An event with an ``invalid`` payload is always checked, because it is
    quarantined instead of rejected only when its origin signed it.
    """
    if context.is_hub and origin != sender:
        return events
    return [
        e
        for e in events
        if e["seq"] in invalid
        or (origin != sender and e["destination"] == context.code)
    ]


def check_origin_signatures(
    session: Session, origin: str, events: list[dict[str, Any]]
) -> None:
    """Raise ``Forbidden`` unless the origin itself signed every event.

    Keys enrolled for a node reach every ancestor, so a relay cannot make
    up or change an event of a node below it. A revoked key still proves
    the events up to its revocation's cutoff (see ``sync.revocation``).
    """
    keys: dict[str, NodeKey | None] = {}
    for event in events:
        if event["key_id"] not in keys:
            keys[event["key_id"]] = session.get(NodeKey, (origin, event["key_id"]))
        key = keys[event["key_id"]]
        where = f"event {origin}#{event['seq']}"
        if key is None:
            raise Forbidden(
                f"{where} is signed with key {event['key_id']}, which is not enrolled for node {origin} here",
                {"origin": origin, "seq": event["seq"]},
            )
        if not verify(key.public_key, event["signature"], event_text(event)):
            raise Forbidden(
                f"{where} does not carry a valid signature of node {origin}",
                {"origin": origin, "seq": event["seq"]},
            )
        personal_ok = event["personal"] is None or (
            event["personal_signature"] is not None
            and verify(
                key.public_key, event["personal_signature"], personal_text(event)
            )
        )
        if not personal_ok:
            raise Forbidden(
                f"the personal data of {where} is not signed by node {origin}",
                {"origin": origin, "seq": event["seq"]},
            )


def apply_run(
    context: NodeContext,
    session: Session,
    sender: str,
    origin: str,
    run: list[dict[str, Any]],
) -> tuple[int, int]:
    """Store the events of one origin that are new here; return (held, stored).

    Runs in the caller's transaction. Events at or below the held sequence
    are skipped; a run that starts above ``held + 1`` raises ``SequenceGap``
    naming the expected sequence, and nothing of it is stored. Every new
    event is stored and counts in ``held``, including one whose payload is
    invalid or whose handlers fail: that one is quarantined.
    """
    state = lock_origin(session, origin)
    expected = state.held_seq + 1
    if run[0]["seq"] > expected:
        raise SequenceGap(origin, expected, run[0]["seq"])

    check_duplicates(session, origin, [e for e in run if e["seq"] < expected])
    fresh = [dict(e, received_at=utcnow()) for e in run if e["seq"] >= expected]
    invalid = check_event_contents(context, fresh)
    check_event_keys(session, origin, fresh)
    to_prove = events_to_prove(context, sender, origin, fresh, invalid)
    check_origin_signatures(session, origin, still_to_prove(to_prove, fresh, invalid))
    if fresh:
        # A Core insert of the table, not the ORM's bulk insert: it is the
        # hot path of every batch.
        session.execute(Event.__table__.insert(), fresh)
        state.held_seq = fresh[-1]["seq"]
        apply_received(context, session, origin, fresh, invalid)
    return state.held_seq, len(fresh)


def record_heads(
    session: Session, sender: str, heads: dict[str, dict[str, Any]]
) -> None:
    """Keep what the sender reports about origins below it, for lag figures."""
    for origin, head in heads.items():
        if not is_within(origin, sender):
            continue
        state = lock_origin(session, origin)
        state.reported_seq = max(state.reported_seq, head["seq"])
        contact = head.get("contact")
        if contact and (state.last_contact is None or contact > state.last_contact):
            state.last_contact = contact
        if head.get("software"):
            state.software = head["software"]


def apply_batch(
    context: NodeContext,
    session: Session,
    sender: str,
    events: list[dict[str, Any]],
    heads: dict[str, dict[str, Any]],
) -> tuple[dict[str, int], int]:
    """Apply an upward batch from a child in the caller's transaction.

    Returns the highest gapless sequence held per origin of the batch (the
    acknowledgement) and the number of events newly stored. Raises before
    anything is stored if the sender is not a child, an origin lies outside
    its subtree, or an origin's run has a gap; the caller rolls back.
    """
    check_child(context, sender)
    runs = group_runs(context, sender, events)
    held: dict[str, int] = {}
    stored = 0
    for origin, run in runs.items():
        held[origin], count = apply_run(context, session, sender, origin, run)
        stored += count
    record_heads(session, sender, heads)
    lock_origin(session, sender).last_contact = utcnow()
    touch_link(session, sender, "child")
    logger.info(
        "Node %s: applied batch from %s: %d events, %d new, held %s",
        context.code,
        sender,
        len(events),
        stored,
        held,
    )
    return held, stored
