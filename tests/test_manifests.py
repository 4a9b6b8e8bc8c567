"""Manifest events: emitted after each segment, and proof of origin at the hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from common.config import NodeConfig
from common.context import NodeContext
from common.keys import event_text, sign
from common.models import Event
from common.schemas.events import event_errors
from sync.manifests import MANIFEST_KIND, SEGMENT, event_digest
from sync.outbox import emit
from tests.federation import RunningNode, signed_post, stand_in

CITY, COUNTY, VILLAGE = "350600", "350623", "350623100207"
CREATED_AT = "2025-03-03T01:30:00.123456+00:00"


def filler(seq: int) -> dict[str, Any]:
    return {
        "origin": VILLAGE,
        "seq": seq,
        "kind": "test.filler",
        "case_id": None,
        "destination": None,
        "created_at": CREATED_AT,
        "payload": {"n": seq},
    }


def signed_run(city: RunningNode) -> list[dict[str, Any]]:
    """Return events 1..SEGMENT of the village and their manifest, all signed."""
    signer = stand_in(city, VILLAGE)
    events = []
    for seq in range(1, SEGMENT + 2):
        event = filler(seq)
        if seq == SEGMENT + 1:
            digests = [event_digest(e) for e in events]
            event["kind"] = MANIFEST_KIND
            event["payload"] = {"first": 1, "last": SEGMENT, "digests": digests}
        event["key_id"] = signer.key_id
        event["signature"] = sign(signer.private_key, event_text(event))
        events.append(event)
    return events


def relay(city: RunningNode, events: list[dict[str, Any]]) -> Any:
    return signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )


def stored(node: RunningNode) -> int:
    with node.context.db.transaction() as session:
        query = select(func.count()).select_from(Event).where(Event.origin == VILLAGE)
        return session.scalar(query) or 0


def test_manifest_follows_segment(tmp_path: Path) -> None:
    context = NodeContext(NodeConfig(code=VILLAGE, data_dir=tmp_path))
    context.migrate()
    with context.db.transaction() as session:
        for n in range(SEGMENT):
            emit(context, session, "test.filler", {"n": n})
    with context.db.transaction() as session:
        rows = session.scalars(select(Event).order_by(Event.seq)).all()
    context.close()
    manifest = rows[-1]
    assert manifest.kind == MANIFEST_KIND
    assert manifest.seq == SEGMENT + 1
    expected = [event_digest(row.__dict__) for row in rows[:-1]]
    assert manifest.payload == {"first": 1, "last": SEGMENT, "digests": expected}


def test_manifest_payload_valid() -> None:
    payload = {"first": 1, "last": 2, "digests": ["0" * 64, "f" * 64]}
    event = dict(filler(3), kind=MANIFEST_KIND, payload=payload)
    assert event_errors(event) == {}


def test_manifest_digest_count_checked() -> None:
    payload = {"first": 1, "last": 3, "digests": ["0" * 64]}
    event = dict(filler(4), kind=MANIFEST_KIND, payload=payload)
    assert "digests" in event_errors(event)["payload"]


def test_hub_accepts_run_with_manifest(city: RunningNode) -> None:
    response = relay(city, signed_run(city))
    assert response.status_code == 200, response.text
    assert stored(city) == SEGMENT + 1


def test_manifest_does_not_cover_changed_event(city: RunningNode) -> None:
    events = signed_run(city)
    events[4]["payload"] = {"n": 999}
    response = relay(city, events)
    assert response.status_code == 403
    assert f"{VILLAGE}#5" in response.json()["error"]["message"]
    assert stored(city) == 0


def test_manifest_does_not_cover_other_signature(city: RunningNode) -> None:
    events = signed_run(city)
    # A valid signature of the village, but over another event.
    events[4]["signature"] = events[5]["signature"]
    response = relay(city, events)
    assert response.status_code == 403
    assert f"{VILLAGE}#5" in response.json()["error"]["message"]


def test_manifest_signed_by_relay_rejected(city: RunningNode) -> None:
    events = signed_run(city)
    events[4]["payload"] = {"n": 999}
    manifest = events[-1]
    manifest["payload"]["digests"][4] = event_digest(events[4])
    county = stand_in(city, COUNTY)
    manifest["signature"] = sign(county.private_key, event_text(manifest))
    response = relay(city, events)
    assert response.status_code == 403
    assert stored(city) == 0


def test_manifest_proves_covered_events(city: RunningNode) -> None:
    # Covered events whose own signatures would fail pass on the manifest
    # alone, which shows the hub checked the manifest instead of them.
    signer = stand_in(city, VILLAGE)
    events = [dict(filler(seq), key_id=signer.key_id, signature="x") for seq in (1, 2)]
    payload = {"first": 1, "last": 2, "digests": [event_digest(e) for e in events]}
    manifest = dict(filler(3), kind=MANIFEST_KIND, payload=payload)
    manifest.update(key_id=signer.key_id)
    manifest["signature"] = sign(signer.private_key, event_text(manifest))
    response = relay(city, [*events, manifest])
    assert response.status_code == 200, response.text
