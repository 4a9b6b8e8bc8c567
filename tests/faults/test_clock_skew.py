"""A village whose clock runs 8 hours ahead of its parents'.

Order comes from sequence numbers only, so events dated in the future
must be accepted and applied in sequence order like any other.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time

import requests
from sqlalchemy import select

from common.context import get_context
from common.keys import event_text, sign, signing_text
from common.models import Event
from common.schemas.sync import PROTOCOL_VERSION
from sync.auth import (
    HEADER_CODE,
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
)
from sync.push import collect_batch
from tests.faults.harness import (
    BRANCH,
    CITY,
    TOWNSHIP,
    VILLAGE,
    events_held,
    file_applications,
    push_until_settled,
    start_branch,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation

AHEAD = dt.timedelta(hours=8)


def date_events_ahead(code: str) -> None:
    """Rewrite the node's own events as a clock 8 h ahead would have written and signed them."""
    context = get_context(code)
    with context.db.transaction() as session:
        for event in session.scalars(select(Event).where(Event.origin == code)):
            event.created_at += AHEAD
            fields = {c.key: getattr(event, c.key) for c in Event.__table__.columns}
            event.signature = sign(context.private_key, event_text(fields))


def test_events_dated_ahead_accepted(federation: Federation) -> None:
    start_branch(federation)
    village = federation.nodes[VILLAGE]
    file_applications(village, 6)
    date_events_ahead(VILLAGE)
    # The clock is set right again: the next events are dated 8 h earlier.
    file_applications(village, 6)
    push_until_settled(BRANCH)

    city = get_context(CITY)
    with city.db.transaction() as session:
        query = select(Event.seq).where(Event.origin == VILLAGE).order_by(Event.id)
        arrival = list(session.scalars(query))
    assert arrival == list(range(1, 13)), "the city stored them in sequence order"
    assert federation.nodes[TOWNSHIP].get("/api/sync").status_code == 200
    check_sync_invariant(BRANCH)


def signed_ahead(body: bytes) -> dict[str, str]:
    """Return the village's signed headers for a batch, with its clock 8 h ahead."""
    context = get_context(VILLAGE)
    timestamp = str(int(time.time() + AHEAD.total_seconds()))
    nonce = secrets.token_hex(16)
    message = signing_text("POST", "/sync/events", timestamp, nonce, body)
    return {
        "Content-Type": "application/json",
        "X-Sync-Protocol": str(PROTOCOL_VERSION),
        HEADER_CODE: VILLAGE,
        HEADER_KEY: context.key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(context.private_key, message),
    }


def test_request_from_clock_ahead_rejected(federation: Federation) -> None:
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 3)
    context = get_context(VILLAGE)
    with context.db.transaction() as session:
        batch = {"sender": VILLAGE, "events": collect_batch(context, session)}
    body = json.dumps(batch).encode()
    url = federation.nodes[TOWNSHIP].url + "/sync/events"

    response = requests.post(url, data=body, headers=signed_ahead(body), timeout=30)
    assert response.status_code == 401
    assert response.json()["error"]["details"]["skew_seconds"] >= 28000
    assert events_held(TOWNSHIP, VILLAGE) == 0


def test_village_clock_ahead_still_syncs(federation: Federation) -> None:
    start_branch(federation)
    village = get_context(VILLAGE)
    # The village signs as if its clock ran 8 h ahead. The township's first
    # refusal returns the township's time, and the village signs with it.
    village.clock_offset = AHEAD.total_seconds()
    file_applications(federation.nodes[VILLAGE], 3)
    push_until_settled(BRANCH)
    assert events_held(TOWNSHIP, VILLAGE) == 3
    assert abs(village.clock_offset) < 60
    check_sync_invariant(BRANCH)
