"""The transactional outbox: a change and its event commit together."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.keys import event_text, personal_text, sign
from common.models import Event, utcnow
from sync.dispatch import dispatch
from sync.manifests import MANIFEST_KIND, manifest_due, manifest_payload
from sync.state import lock_origin

logger = logging.getLogger(__name__)


def emit(
    context: NodeContext,
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    case_id: str | None = None,
    destination: str | None = None,
    personal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write an event of this node in the caller's transaction and return it.

    The next sequence number is taken under the origin's row lock, so the
    numbers of one origin are 1, 2, 3, … with no gap even when two
    transactions emit at once: the second waits for the first to commit.
    An event that completes a segment is followed by a manifest event in
    the same transaction (see ``sync.manifests``).
    """
    state = lock_origin(session, context.code)
    state.held_seq += 1
    now = utcnow()
    event = {
        "origin": context.code,
        "seq": state.held_seq,
        "kind": kind,
        "case_id": case_id,
        "destination": destination,
        "created_at": now,
        "received_at": now,
        "payload": payload,
        "personal": personal,
    }
    event["key_id"] = context.key_id
    event["signature"] = sign(context.private_key, event_text(event))
    event["personal_signature"] = (
        sign(context.private_key, personal_text(event))
        if personal is not None
        else None
    )
    session.execute(insert(Event), [event])
    logger.debug(
        "Node %s: emitted %s #%d for case %s",
        context.code,
        kind,
        state.held_seq,
        case_id,
    )
    dispatch(context, session, event)
    if kind != MANIFEST_KIND and manifest_due(state.held_seq):
        payload = manifest_payload(session, context.code, state.held_seq)
        emit(context, session, MANIFEST_KIND, payload)
    return event
