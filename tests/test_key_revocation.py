"""Key revocations reach every ancestor, and the nodes between when revoked above."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from common.context import get_context, register
from common.keys import event_text, key_id, public_key_text, replace_key, sign
from common.models import Event, KeyRevocation, Link, NodeKey
from node.cli import main
from sync.auth import signed_headers
from sync.jobs import enqueue_once, push_up
from sync.revocation import revocation_text
from tests.conftest import application
from tests.federation import Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
TOWNSHIP = "350623100"
VILLAGE = "350623100207"
# A township of another county.
FOREIGN_TOWNSHIP = "350602001"


def start_branch(federation: Federation, codes: tuple[str, ...]) -> None:
    for code in codes:
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=2)


def events_of(node: RunningNode, origin: str) -> int:
    with node.context.db.transaction() as session:
        query = select(func.count()).select_from(Event).where(Event.origin == origin)
        return session.scalar(query) or 0


def revocation_at(node: RunningNode, code: str) -> KeyRevocation | None:
    with node.context.db.transaction() as session:
        query = select(KeyRevocation).where(KeyRevocation.code == code)
        record = session.scalars(query).first()
        if record is not None:
            session.expunge(record)
        return record


def active_key(node: RunningNode, code: str) -> str | None:
    with node.context.db.transaction() as session:
        query = select(NodeKey.key_id).where(
            NodeKey.code == code, NodeKey.revoked_at.is_(None)
        )
        return session.scalar(query)


def parent_error(node: RunningNode) -> str:
    with node.context.db.transaction() as session:
        link = session.get(Link, node.context.parent_code)
        return (link.last_error if link else None) or ""


def file_and_push(federation: Federation, node: RunningNode) -> None:
    """File one application at ``node`` and run its push job once."""
    filed = node.post("/api/applications", json=application("ZZ-MZ-001"))
    assert filed.status_code == 201, filed.text
    enqueue_once(node.context, push_up)
    federation.drain([node.code])


def revoke(node: RunningNode, code: str) -> requests.Response:
    return node.post("/api/sync/revocations", json={"code": code})


def post_as(sender: RunningNode, receiver: RunningNode, path: str, body: Any):
    """POST a sync request to ``receiver`` signed with ``sender``'s own key."""
    data = json.dumps(body).encode()
    headers = signed_headers(sender.context, "POST", path, data)
    headers["Content-Type"] = "application/json"
    return requests.post(receiver.url + path, data=data, headers=headers, timeout=30)


def township_event(township: RunningNode, seq: int) -> dict[str, Any]:
    """Return an event of the township signed with its current key."""
    event = {
        "origin": TOWNSHIP,
        "seq": seq,
        "kind": "metric.snapshot",
        "case_id": None,
        "destination": None,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "payload": {},
        "personal": None,
    }
    event["key_id"] = township.context.key_id
    event["signature"] = sign(township.context.private_key, event_text(event))
    event["personal_signature"] = None
    return event


def test_revocation_reaches_city_at_once(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    county, city = federation.nodes[COUNTY], federation.nodes[CITY]
    key = active_key(city, TOWNSHIP)
    response = revoke(county, TOWNSHIP)
    assert response.status_code == 200, response.text
    assert response.json()["stored_at"] == [COUNTY, CITY]
    assert response.json()["key_ids"] == [key]
    assert active_key(city, TOWNSHIP) is None
    assert active_key(county, TOWNSHIP) is None


def test_revoked_township_rejected_at_county(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    county, township = federation.nodes[COUNTY], federation.nodes[TOWNSHIP]
    assert revoke(county, TOWNSHIP).status_code == 200
    file_and_push(federation, township)
    assert events_of(county, TOWNSHIP) == 0
    assert "was revoked" in parent_error(township)


def test_city_rejects_event_of_revoked_key(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    township = federation.nodes[TOWNSHIP]
    assert revoke(county, TOWNSHIP).status_code == 200
    # A county that relays an event signed with the revoked key after the
    # revocation, as a county holding a stolen township key could.
    batch = {"sender": COUNTY, "events": [township_event(township, 1)], "heads": {}}
    response = post_as(county, city, "/sync/events", batch)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "key_revoked"
    assert events_of(city, TOWNSHIP) == 0


def test_events_before_revocation_reach_city(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    township = federation.nodes[TOWNSHIP]
    file_and_push(federation, township)
    received = events_of(county, TOWNSHIP)
    assert received > 0
    assert revoke(county, TOWNSHIP).status_code == 200
    assert revocation_at(city, TOWNSHIP).valid_through == received  # type: ignore[union-attr]
    federation.sync(rounds=2)
    assert events_of(city, TOWNSHIP) == received


def test_city_revocation_reaches_county(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    township = federation.nodes[TOWNSHIP]
    response = revoke(city, TOWNSHIP)
    assert response.json()["stored_at"] == [CITY]
    federation.sync(rounds=1)
    assert active_key(county, TOWNSHIP) is None
    assert revocation_at(county, TOWNSHIP).revoked_by == COUNTY  # type: ignore[union-attr]
    assert revocation_at(city, TOWNSHIP).revoked_by == COUNTY  # type: ignore[union-attr]
    before = events_of(county, TOWNSHIP)
    file_and_push(federation, township)
    assert events_of(county, TOWNSHIP) == before


def test_village_revocation_reaches_township(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP, VILLAGE))
    county, township = federation.nodes[COUNTY], federation.nodes[TOWNSHIP]
    village = federation.nodes[VILLAGE]
    response = revoke(county, VILLAGE)
    assert response.json()["stored_at"] == [COUNTY, CITY]
    assert active_key(township, VILLAGE) is not None
    federation.sync(rounds=1)
    assert active_key(township, VILLAGE) is None
    before = events_of(township, VILLAGE)
    file_and_push(federation, village)
    assert events_of(township, VILLAGE) == before
    assert "was revoked" in parent_error(village)


def signed_record(county: RunningNode, code: str, key_id: str) -> dict[str, Any]:
    record = {
        "code": code,
        "key_id": key_id,
        "revoked_by": COUNTY,
        "revoked_at": dt.datetime.now(dt.UTC),
        "valid_through": 0,
        "signer_key_id": county.context.key_id,
    }
    record["signature"] = sign(county.context.private_key, revocation_text(record))
    record["revoked_at"] = record["revoked_at"].isoformat()
    return record


def test_revocation_outside_subtree_rejected(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    record = signed_record(county, FOREIGN_TOWNSHIP, "0" * 16)
    body = {"revocations": [record]}
    response = post_as(county, city, "/sync/revocations", body)
    assert response.status_code == 403, response.text
    assert revocation_at(city, FOREIGN_TOWNSHIP) is None


def test_forged_revocation_rejected(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    key = active_key(city, TOWNSHIP)
    assert key is not None
    record = signed_record(county, TOWNSHIP, key)
    record["valid_through"] = 99
    response = post_as(county, city, "/sync/revocations", {"revocations": [record]})
    assert response.status_code == 403, response.text
    assert "invalid signature" in response.json()["error"]["message"]
    assert active_key(city, TOWNSHIP) == key
    assert revocation_at(city, TOWNSHIP) is None


def test_revoke_outside_subtree_forbidden(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY))
    response = revoke(federation.nodes[COUNTY], FOREIGN_TOWNSHIP)
    assert response.status_code == 403, response.text


def test_revoke_invalid_code_rejected(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY))
    response = revoke(federation.nodes[COUNTY], "35062x")
    assert response.status_code == 400, response.text
    assert "code" in response.text


def test_rotation_reaches_ancestors(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    township = federation.nodes[TOWNSHIP]
    old = township.context.key_id
    township.context.rotate_key()
    federation.enroll(TOWNSHIP)
    assert active_key(county, TOWNSHIP) == township.context.key_id
    assert active_key(city, TOWNSHIP) == township.context.key_id
    assert township.context.key_id != old


def test_rotation_after_revocation_resumes(federation: Federation) -> None:
    from sync.revocation import resign_unsent_events

    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    township = federation.nodes[TOWNSHIP]
    assert revoke(county, TOWNSHIP).status_code == 200
    file_and_push(federation, township)
    assert events_of(county, TOWNSHIP) == 0

    township.context.rotate_key()
    federation.enroll(TOWNSHIP)
    with township.context.db.transaction() as session:
        assert resign_unsent_events(township.context, session) > 0
    federation.sync(rounds=2)

    assert events_of(county, TOWNSHIP) == events_of(township, TOWNSHIP)
    assert events_of(city, TOWNSHIP) == events_of(township, TOWNSHIP)


def test_cli_revocation_reaches_city(
    federation: Federation,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    monkeypatch.setenv("NODE_CODE", COUNTY)
    monkeypatch.setenv("NODE_DATA_DIR", str(federation.root / COUNTY))
    monkeypatch.setenv("NODE_PARENT_URL", city.url)
    monkeypatch.setenv("REDIS_URL", federation.redis_url)
    # The county keeps its SQLite file, even where DATABASE_URL names the
    # city's database.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    running = county.context
    try:
        status = main(["revoke-key", TOWNSHIP])
    finally:
        get_context(COUNTY).close()
        register(running)
    assert status == 0
    assert f"held at node(s) {COUNTY}, {CITY}" in capsys.readouterr().out
    assert active_key(city, TOWNSHIP) is None
    assert active_key(county, TOWNSHIP) is None


def test_new_key_file_used_without_restart(federation: Federation) -> None:
    start_branch(federation, (CITY, COUNTY, TOWNSHIP))
    township = federation.nodes[TOWNSHIP].context
    old = township.key_id
    # What `enroll --new-key` does in another process: a new key file.
    new_key = replace_key(township.config.data_dir)
    assert township.key_id == key_id(public_key_text(new_key))
    assert township.key_id != old
