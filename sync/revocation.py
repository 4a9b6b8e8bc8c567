"""Key revocations that reach every ancestor of the revoking node.

A node that revokes a key of its subtree stores a revocation record signed
with its own key and sends it to its parent at once. Each ancestor checks
the signature against the revoking node's enrolled key, stores the record,
revokes the key and passes the record on, so the city rejects the key as
soon as the revoking node does. A record from above reaches the nodes
between the revoking node and the revoked one when they pull from their
parent. Each of them then issues its own record.

A record carries ``valid_through``: the highest sequence of the revoked
node that the revoking node held when it revoked the key. Events signed
with the key up to that sequence were accepted before the revocation and
stay valid, and later ones are rejected. The record of the node nearest to
the revoked node wins, because that node received the most of its events.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.clock import utcnow
from common.context import NodeContext
from common.divisions import is_within, tier_of_code
from common.errors import Forbidden, InvalidInput, NotFound
from common.keys import event_text, personal_text, sign, verify
from common.models import Event, KeyRevocation, NodeKey, OriginState
from common.schemas.sync import RevocationPageSchema, RevocationSchema

logger = logging.getLogger(__name__)

WIRE_FIELDS = (
    "code",
    "key_id",
    "revoked_by",
    "revoked_at",
    "valid_through",
    "signer_key_id",
    "signature",
)


class KeyRevoked(Forbidden):
    code = "key_revoked"


def revocation_text(record: dict[str, Any]) -> bytes:
    """Return the bytes a revocation's signature covers; ``revoked_at`` is aware."""
    revoked_at = record["revoked_at"].astimezone(dt.UTC)
    signed = {
        "code": record["code"],
        "key_id": record["key_id"],
        "revoked_by": record["revoked_by"],
        "revoked_at": revoked_at.isoformat(timespec="microseconds"),
        "valid_through": record["valid_through"],
    }
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def to_wire(record: KeyRevocation) -> dict[str, Any]:
    """Return a record's fields for ``RevocationSchema``, which serialises them."""
    return {name: getattr(record, name) for name in WIRE_FIELDS}


def held_seq(session: Session, code: str) -> int:
    state = session.get(OriginState, code)
    return state.held_seq if state else 0


def issue_revocation(
    context: NodeContext, session: Session, code: str, key_id: str
) -> KeyRevocation:
    """Store this node's signed revocation of one key of ``code``, to be sent up."""
    record = session.get(KeyRevocation, (code, key_id)) or KeyRevocation(
        code=code, key_id=key_id
    )
    record.revoked_by = context.code
    record.revoked_at = utcnow()
    record.valid_through = held_seq(session, code)
    record.signer_key_id = context.key_id
    record.signature = sign(context.private_key, revocation_text(to_wire(record)))
    record.sent_up_at = None
    session.add(record)
    return record


def revoke_node_keys(context: NodeContext, session: Session, code: str) -> list[str]:
    """Revoke every active key of ``code`` here, effective at once; return the key ids.

    Raises ``InvalidInput`` for a code that is no division of the city,
    ``Forbidden`` for a code outside this node's subtree and ``NotFound``
    when ``code`` has no active key here. Each key gets a signed revocation
    record that ``send_up`` delivers to the ancestors.
    """
    # Enrollment takes only codes of the division list, so no other code has a key.
    if code not in context.divisions:
        message = (
            f"{code} is not a division code of the city: give the code of a "
            "node below this one"
        )
        raise InvalidInput(message, {"fields": {"code": [message]}})
    if code == context.code or not is_within(code, context.code):
        message = f"node {context.code} can revoke keys of its own subtree only"
        raise Forbidden(message, {"fields": {"code": [message]}})
    query = select(NodeKey).where(NodeKey.code == code, NodeKey.revoked_at.is_(None))
    keys = list(session.scalars(query))
    if not keys:
        raise NotFound(f"node {code} has no active key here", {"code": code})
    for key in keys:
        key.revoked_at = utcnow()
        issue_revocation(context, session, code, key.key_id)
    key_ids = [key.key_id for key in keys]
    logger.warning(
        "Node %s: revoked keys %s of node %s", context.code, ", ".join(key_ids), code
    )
    return key_ids


def check_scope(sender: str, record: dict[str, Any]) -> None:
    """Raise ``Forbidden`` unless the record's revoking node may revoke its key.

    The revoking node must be the sender or below it, and the revoked node
    must lie below the revoking node.
    """
    code, revoked_by = record["code"], record["revoked_by"]
    if (
        code == revoked_by
        or not is_within(code, revoked_by)
        or not is_within(revoked_by, sender)
    ):
        raise Forbidden(
            f"node {sender} cannot pass on a revocation by node {revoked_by} of a key "
            f"of node {code}: a node revokes keys of its own subtree only",
            {"code": code, "revoked_by": revoked_by, "sender": sender},
        )


def check_signature(session: Session, record: dict[str, Any]) -> None:
    """Raise ``Forbidden`` unless the revoking node's active key signed the record."""
    signer = session.get(NodeKey, (record["revoked_by"], record["signer_key_id"]))
    if signer is None or signer.revoked_at is not None:
        raise Forbidden(
            f"the revocation by node {record['revoked_by']} is signed with key "
            f"{record['signer_key_id']}, which is not an active key of that node here",
            {"revoked_by": record["revoked_by"]},
        )
    if not verify(signer.public_key, record["signature"], revocation_text(record)):
        raise Forbidden(
            f"invalid signature on the revocation by node {record['revoked_by']} "
            f"of key {record['key_id']} of node {record['code']}",
            {"revoked_by": record["revoked_by"]},
        )


def revoke_key_row(session: Session, code: str, key_id: str) -> None:
    session.execute(
        update(NodeKey)
        .where(
            NodeKey.code == code, NodeKey.key_id == key_id, NodeKey.revoked_at.is_(None)
        )
        .values(revoked_at=utcnow())
    )


def depth(code: str) -> int:
    return tier_of_code(code).rank


def supersedes(record: dict[str, Any], existing: KeyRevocation | None) -> bool:
    """Tell whether ``record`` replaces ``existing``, because it comes from nearer the key."""
    return existing is None or depth(record["revoked_by"]) > depth(existing.revoked_by)


def store_from_child(
    context: NodeContext, session: Session, sender: str, records: list[dict[str, Any]]
) -> int:
    """Check and store revocations sent up by a child; return how many are new.

    Runs in the caller's transaction and raises before storing anything if
    one record is out of the sender's scope or badly signed.
    """
    for record in records:
        check_scope(sender, record)
        check_signature(session, record)
    stored = 0
    for record in records:
        revoke_key_row(session, record["code"], record["key_id"])
        existing = session.get(KeyRevocation, (record["code"], record["key_id"]))
        if not supersedes(record, existing):
            continue
        if existing is None:
            existing = KeyRevocation(code=record["code"], key_id=record["key_id"])
        for name in WIRE_FIELDS[2:]:
            setattr(existing, name, record[name])
        existing.sent_up_at = None
        session.add(existing)
        stored += 1
    logger.warning(
        "Node %s: stored %d of %d key revocations from child %s",
        context.code,
        stored,
        len(records),
        sender,
    )
    return stored


def store_from_parent(
    context: NodeContext, session: Session, records: list[dict[str, Any]]
) -> int:
    """Apply revocations pulled from the parent; return how many keys were new here.

    The parent's response is trusted as its catalog releases are. For each key
    without a record from this node or nearer to the key, this node issues
    its own record, so the ancestors learn what this node had accepted.
    """
    issued = 0
    for record in records:
        code = record["code"]
        if code == context.code or not is_within(code, context.code):
            continue
        revoke_key_row(session, code, record["key_id"])
        existing = session.get(KeyRevocation, (code, record["key_id"]))
        if existing is not None and depth(existing.revoked_by) >= depth(context.code):
            continue
        issue_revocation(context, session, code, record["key_id"])
        issued += 1
    if issued:
        logger.warning(
            "Node %s: applied %d key revocations from the parent", context.code, issued
        )
    return issued


def revocations_for(session: Session, child: str) -> list[dict[str, Any]]:
    """Return the revocations of keys below ``child``, for the child to apply."""
    query = select(KeyRevocation).where(
        KeyRevocation.code.startswith(child, autoescape=True),
        KeyRevocation.code != child,
    )
    return [to_wire(r) for r in session.scalars(query.order_by(KeyRevocation.code))]


def send_up(context: NodeContext) -> list[str]:
    """Send the revocations the parent lacks; return the nodes that now hold them.

    Returns an empty list when there is nothing to send or this node is
    the city. Raises the transport's error when the parent cannot be
    reached or rejects the records; they stay unsent and the next sync
    round sends them again.
    """
    if context.parent_code is None:
        return []
    with context.db.transaction() as session:
        query = select(KeyRevocation).where(KeyRevocation.sent_up_at.is_(None))
        records = [to_wire(r) for r in session.scalars(query)]
    if not records:
        return []
    body = RevocationSchema(many=True).dump(records)

    from sync.transport import ParentClient

    client = ParentClient(context)
    try:
        stored_at = client.send_revocations(body)
    finally:
        client.close()
    with context.db.transaction() as session:
        for record in records:
            sent = session.get(KeyRevocation, (record["code"], record["key_id"]))
            # A record replaced meanwhile by one from nearer the key stays unsent.
            if sent is not None and sent.signature == record["signature"]:
                sent.sent_up_at = utcnow()
    logger.info(
        "Node %s: sent %d key revocations up, now held at %s",
        context.code,
        len(records),
        ", ".join(stored_at),
    )
    return stored_at


def check_event_keys(
    session: Session, origin: str, events: list[dict[str, Any]]
) -> None:
    """Raise ``KeyRevoked`` for an event signed with a revoked key after its cutoff.

    Runs on every node for every received run of events, so the check does
    not depend on which signatures a relay verifies. Keys replaced by a new
    enrollment have no record and stay valid for the events signed with
    them before the rotation.
    """
    query = select(KeyRevocation.key_id, KeyRevocation.valid_through).where(
        KeyRevocation.code == origin
    )
    cutoffs = {key_id: cutoff for key_id, cutoff in session.execute(query)}
    if not cutoffs:
        return
    for event in events:
        cutoff = cutoffs.get(event["key_id"])
        if cutoff is not None and event["seq"] > cutoff:
            raise KeyRevoked(
                f"event {origin}#{event['seq']} is signed with key {event['key_id']}, "
                f"which was revoked after event #{cutoff}; node {origin} must enroll "
                "a new key, which signs its unsent events again",
                {"origin": origin, "seq": event["seq"], "key_id": event["key_id"]},
            )


def resign_unsent_events(context: NodeContext, session: Session) -> int:
    """Sign this node's events that the parent has not acknowledged with its current key.

    Run after a new key is enrolled: the parent rejects events signed with
    a revoked key past the revocation's cutoff. Returns how many events
    were signed again.
    """
    state = session.get(OriginState, context.code)
    if state is None:
        return 0
    query = select(Event).where(
        Event.origin == context.code,
        Event.seq > state.acked_seq,
        Event.key_id != context.key_id,
    )
    count = 0
    for event in session.scalars(query):
        wire = {name: getattr(event, name) for name in ("origin", "seq", "personal")}
        wire.update(
            kind=event.kind,
            case_id=event.case_id,
            destination=event.destination,
            created_at=event.created_at,
            payload=event.payload,
        )
        event.key_id = context.key_id
        event.signature = sign(context.private_key, event_text(wire))
        if event.personal is not None:
            event.personal_signature = sign(context.private_key, personal_text(wire))
        count += 1
    if count:
        logger.warning(
            "Node %s: signed %d unsent events again with key %s",
            context.code,
            count,
            context.key_id,
        )
    return count


def exchange_revocations(code: str) -> int:
    """Send this node's unsent revocations up, then apply the parent's.

    An RQ job of the sync round. Returns the number of revocations from
    the parent that were new here; those are sent up again under this
    node's signature in the same job.
    """
    from sync.jobs import record_error, start_job
    from sync.transport import ParentClient

    context = start_job(code, exchange_revocations)
    if context.parent_code is None:
        return 0
    client = ParentClient(context)
    try:
        send_up(context)
        page = {"revocations": client.fetch_revocations()}
        records = RevocationPageSchema().load(page)["revocations"]
    except Exception as exc:
        record_error(context, exc)
        raise
    finally:
        client.close()
    with context.db.transaction() as session:
        issued = store_from_parent(context, session, records)
    if issued:
        send_up(context)
    return issued
