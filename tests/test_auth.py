"""Signed sync links and enrollment: forged, tampered, replayed, stale, revoked."""

from __future__ import annotations

import json
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from common.keys import public_key_text, sign, signing_text
from common.models import Event, NodeKey
from sync.auth import HEADER_SIGNATURE, HEADER_TIMESTAMP, signed_headers
from sync.enroll import enroll_with_parent, issue_token, revoke_keys, store_key
from sync.push import collect_batch
from sync.transport import SyncRefused
from tests.conftest import application
from tests.federation import Federation, RunningNode, sign_event

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"
PATH = "/sync/events"


@pytest.fixture
def branch(federation: Federation) -> Federation:
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)
    return federation


def empty_batch(sender: str) -> bytes:
    return json.dumps({"sender": sender, "events": []}).encode()


def post(node: RunningNode, headers: dict[str, str], body: bytes) -> requests.Response:
    headers = {**headers, "Content-Type": "application/json"}
    return requests.post(node.url + PATH, data=body, headers=headers, timeout=30)


def event_count(node: RunningNode) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Event))


def test_signed_request_accepted(branch: Federation) -> None:
    township = branch.nodes[TOWNSHIP]
    body = empty_batch(VILLAGE)
    response = post(
        township,
        signed_headers(branch.nodes[VILLAGE].context, "POST", PATH, body),
        body,
    )
    assert response.status_code == 200


def test_unsigned_request_rejected(branch: Federation) -> None:
    response = post(branch.nodes[TOWNSHIP], {}, empty_batch(VILLAGE))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_tampered_body_rejected(branch: Federation) -> None:
    village = branch.nodes[VILLAGE]
    headers = signed_headers(village.context, "POST", PATH, empty_batch(VILLAGE))
    forged = json.dumps({"sender": VILLAGE, "events": [], "heads": {}}).encode()
    response = post(branch.nodes[TOWNSHIP], headers, forged)
    assert response.status_code == 401


def test_replayed_request_rejected(branch: Federation) -> None:
    township, body = branch.nodes[TOWNSHIP], empty_batch(VILLAGE)
    headers = signed_headers(branch.nodes[VILLAGE].context, "POST", PATH, body)
    assert post(township, headers, body).status_code == 200
    replay = post(township, headers, body)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["error"]["message"]


def test_stale_timestamp_rejected(branch: Federation) -> None:
    context, body = branch.nodes[VILLAGE].context, empty_batch(VILLAGE)
    headers = signed_headers(context, "POST", PATH, body)
    stale = str(int(time.time()) - 3600)
    headers[HEADER_TIMESTAMP] = stale
    message = signing_text("POST", PATH, stale, headers["X-Nonce"], body)
    headers[HEADER_SIGNATURE] = sign(context.private_key, message)
    response = post(branch.nodes[TOWNSHIP], headers, body)
    assert response.status_code == 401
    assert response.json()["error"]["details"]["skew_seconds"] >= 3600


def test_revoked_key_rejected_at_once(branch: Federation) -> None:
    township = branch.nodes[TOWNSHIP]
    with township.context.db.transaction() as session:
        revoke_keys(township.context, session, VILLAGE)
    body = empty_batch(VILLAGE)
    response = post(
        township,
        signed_headers(branch.nodes[VILLAGE].context, "POST", PATH, body),
        body,
    )
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_grandchild_cannot_skip_its_parent(branch: Federation) -> None:
    # The village is enrolled at the county too, but is not its child.
    body = empty_batch(VILLAGE)
    response = post(
        branch.nodes[COUNTY],
        signed_headers(branch.nodes[VILLAGE].context, "POST", PATH, body),
        body,
    )
    assert response.status_code == 403


def test_county_cannot_write_for_other_county(branch: Federation) -> None:
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    before = event_count(city)
    foreign = {
        "origin": "350602001",  # a township of 芗城区, not of 漳浦县
        "seq": 1,
        "kind": "case.received",
        "created_at": "2026-12-01T08:00:00+00:00",
        "payload": {},
    }
    body = json.dumps(
        {"sender": COUNTY, "events": [sign_event(city, foreign)]}
    ).encode()
    response = post(city, signed_headers(county.context, "POST", PATH, body), body)
    assert response.status_code == 403
    assert event_count(city) == before


def test_body_must_name_signer(branch: Federation) -> None:
    body = empty_batch("350623100208")  # signed by 207, speaking for 208
    response = post(
        branch.nodes[TOWNSHIP],
        signed_headers(branch.nodes[VILLAGE].context, "POST", PATH, body),
        body,
    )
    assert response.status_code == 403


def test_enrollment_token_used_once(federation: Federation) -> None:
    city = federation.start(CITY)
    county = federation.start(COUNTY)
    with city.context.db.transaction() as session:
        token = issue_token(city.context, session, COUNTY)
    enroll_with_parent(county.context, token)
    with pytest.raises(SyncRefused) as second:
        enroll_with_parent(county.context, token)
    assert "already used" in second.value.error["message"]


def test_unknown_token_rejected(federation: Federation) -> None:
    federation.start(CITY)
    county = federation.start(COUNTY)
    with pytest.raises(SyncRefused) as refused:
        enroll_with_parent(county.context, "x" * 32)
    assert refused.value.http_status == 403


def test_token_for_other_node_rejected(federation: Federation) -> None:
    city = federation.start(CITY)
    federation.start(COUNTY)
    with city.context.db.transaction() as session:
        token = issue_token(city.context, session, "350602")
    with pytest.raises(SyncRefused) as refused:
        enroll_with_parent(federation.nodes[COUNTY].context, token)
    assert refused.value.http_status == 403


def test_relayed_enrollment_reaches_every_ancestor(branch: Federation) -> None:
    village = branch.nodes[VILLAGE].context
    for code in (TOWNSHIP, COUNTY, CITY):
        with branch.nodes[code].context.db.transaction() as session:
            key = session.get(NodeKey, (VILLAGE, village.key_id))
            assert key is not None, code


def test_new_key_revokes_old_one(branch: Federation) -> None:
    township = branch.nodes[TOWNSHIP]
    old_headers = signed_headers(
        branch.nodes[VILLAGE].context, "POST", PATH, empty_batch(VILLAGE)
    )
    with township.context.db.transaction() as session:
        store_key(session, VILLAGE, public_key_text(Ed25519PrivateKey.generate()))
    response = post(township, old_headers, empty_batch(VILLAGE))
    assert response.status_code == 401


def test_cases_flow_over_signed_links(branch: Federation) -> None:
    village = branch.nodes[VILLAGE]
    case_id = village.post("/api/applications", json=application()).json()["id"]
    branch.sync()
    assert branch.nodes[COUNTY].get(f"/api/cases/{case_id}").status_code == 200


def relayed_batch(branch: Federation) -> dict:
    """Return the county's next upward batch, holding a township's event."""
    township = branch.nodes[TOWNSHIP]
    township.post("/api/applications", json=application("ZZ-WJ-001"))
    branch.drain([TOWNSHIP])  # a township case, relayed up by the county
    county = branch.nodes[COUNTY].context
    with county.db.transaction() as session:
        return {"sender": COUNTY, "events": collect_batch(county, session)}


def test_relay_cannot_change_origin_event(branch: Federation) -> None:
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    batch = relayed_batch(branch)
    before = event_count(city)
    for event in batch["events"]:
        if event["origin"] == TOWNSHIP:
            event["payload"]["matter_code"] = "ZZ-MZ-001"
    body = json.dumps(batch).encode()
    response = post(city, signed_headers(county.context, "POST", PATH, body), body)
    assert response.status_code == 403
    assert "valid signature of node 350623100" in response.json()["error"]["message"]
    assert event_count(city) == before


def test_relayed_origin_event_accepted(branch: Federation) -> None:
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    body = json.dumps(relayed_batch(branch)).encode()
    response = post(city, signed_headers(county.context, "POST", PATH, body), body)
    assert response.status_code == 200


def test_revoked_key_cannot_be_enrolled_again(branch: Federation) -> None:
    city, township = branch.nodes[CITY].context, branch.nodes[TOWNSHIP].context
    with township.db.transaction() as session:
        revoke_keys(township, session, VILLAGE)
    with city.db.transaction() as session:
        token = issue_token(city, session, VILLAGE)
    with pytest.raises(SyncRefused) as refused:
        enroll_with_parent(branch.nodes[VILLAGE].context, token)
    assert "cannot be enrolled again" in refused.value.error["message"]


def test_new_key_enrolled_after_revocation(branch: Federation) -> None:
    city, township = branch.nodes[CITY].context, branch.nodes[TOWNSHIP].context
    village = branch.nodes[VILLAGE].context
    with township.db.transaction() as session:
        revoke_keys(township, session, VILLAGE)
    with city.db.transaction() as session:
        token = issue_token(city, session, VILLAGE)
    village.rotate_key()
    enroll_with_parent(village, token)
    body = empty_batch(VILLAGE)
    response = post(
        branch.nodes[TOWNSHIP], signed_headers(village, "POST", PATH, body), body
    )
    assert response.status_code == 200


def test_token_never_reads_as_option(federation: Federation) -> None:
    city = federation.start(CITY).context
    with city.db.transaction() as session:
        tokens = [issue_token(city, session, COUNTY) for _ in range(50)]
    assert not [t for t in tokens if t.startswith("-")]
