"""Software and protocol versions exchanged on every sync request and response."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
import requests
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

import sync.versions
from common.context import queue_name
from common.models import Event, Link, OriginState
from sync.auth import signed_headers
from sync.jobs import enqueue_once, push_up
from sync.versions import software_version
from tests.conftest import application
from tests.federation import Browser, Federation, RunningNode, stand_in

CITY = "350600"
COUNTY = "350623"
TOWNSHIP = "350623100"
# A township of the same county that runs no node; tests sign as it.
OTHER_TOWNSHIP = "350623101"


def start_branch(federation: Federation) -> None:
    for code in (CITY, COUNTY, TOWNSHIP):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=2)


def link_of(node: RunningNode, peer: str) -> Link | None:
    with node.context.db.transaction() as session:
        link = session.get(Link, peer)
        if link is not None:
            session.expunge(link)
        return link


def event_count(node: RunningNode) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


def post_with_protocol(
    node: RunningNode, as_code: str, protocol: str
) -> requests.Response:
    """POST an empty, correctly signed batch that claims sync protocol ``protocol``."""
    signer = stand_in(node, as_code)
    body = json.dumps({"sender": as_code, "events": [], "heads": {}}).encode()
    headers = signed_headers(signer, "POST", "/sync/events", body)  # type: ignore[arg-type]
    headers.update(
        {
            "Content-Type": "application/json",
            "X-Sync-Protocol": protocol,
            "X-Sync-Protocols": protocol,
            "X-Node-Software": "9.0.0",
        }
    )
    return requests.post(
        node.url + "/sync/events", data=body, headers=headers, timeout=30
    )


def test_software_version_is_package_version() -> None:
    assert software_version() == metadata.version("servicecenters")


def test_child_versions_kept_at_parent(federation: Federation) -> None:
    start_branch(federation)
    link = link_of(federation.nodes[COUNTY], TOWNSHIP)
    assert link is not None
    assert link.peer_software == software_version()
    assert link.peer_protocols == "1"


def test_parent_versions_kept_at_child(federation: Federation) -> None:
    start_branch(federation)
    link = link_of(federation.nodes[TOWNSHIP], COUNTY)
    assert link is not None
    assert link.peer_software == software_version()
    assert link.peer_protocols == "1"


def test_status_api_shows_peer_software(federation: Federation) -> None:
    start_branch(federation)
    status = federation.nodes[COUNTY].get("/api/sync").json()
    links = {link["peer"]: link for link in status["links"]}
    assert status["software"] == software_version()
    assert links[CITY]["peer_software"] == software_version()
    assert links[TOWNSHIP]["peer_software"] == software_version()


def test_status_page_shows_peer_software(federation: Federation) -> None:
    start_branch(federation)
    page = Browser(federation.nodes[COUNTY]).get("/sync-status")
    assert page.status_code == 200
    assert "对端软件版本" in page.text
    assert page.text.count(software_version()) >= 3


def test_hub_shows_versions_citywide(federation: Federation) -> None:
    start_branch(federation)
    metrics = federation.nodes[CITY].get("/api/hub/metrics").json()
    origins = {origin["origin"]: origin for origin in metrics["sync"]["origins"]}
    links = {link["peer"]: link for link in metrics["sync"]["links"]}
    assert origins[TOWNSHIP]["software"] == software_version()
    assert links[COUNTY]["peer_software"] == software_version()


def test_hub_page_shows_versions(federation: Federation) -> None:
    start_branch(federation)
    page = Browser(federation.nodes[CITY]).get("/hub")
    assert page.status_code == 200
    assert "软件版本" in page.text
    assert software_version() in page.text


def test_response_carries_versions(federation: Federation) -> None:
    start_branch(federation)
    response = post_with_protocol(federation.nodes[COUNTY], OTHER_TOWNSHIP, "1")
    assert response.status_code == 200, response.text
    assert response.headers["X-Node-Software"] == software_version()
    assert response.headers["X-Sync-Protocols"] == "1"


def test_unsupported_protocol_rejected(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    before = event_count(county)
    response = post_with_protocol(county, OTHER_TOWNSHIP, "2")
    error = response.json()["error"]
    assert response.status_code == 400
    assert error["code"] == "unsupported_protocol"
    assert "sync protocol 2" in error["message"]
    assert "software 9.0.0" in error["message"]
    assert f"software {software_version()}" in error["message"]
    assert response.headers["X-Node-Software"] == software_version()
    assert event_count(county) == before
    assert link_of(county, OTHER_TOWNSHIP) is None


def test_rejected_protocol_kept_as_link_error(
    federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_branch(federation)
    county, township = federation.nodes[COUNTY], federation.nodes[TOWNSHIP]
    filed = township.post("/api/applications", json=application("ZZ-MZ-001"))
    assert filed.status_code == 201, filed.text
    held_before = event_count(county)
    monkeypatch.setattr(sync.versions, "PROTOCOL_VERSION", 2)

    enqueue_once(township.context, push_up)
    federation.drain([TOWNSHIP])

    link = link_of(township, COUNTY)
    assert link is not None
    assert "unsupported_protocol" in (link.last_error or "")
    assert "sync protocol 2" in (link.last_error or "")
    assert event_count(county) == held_before
    with township.context.db.transaction() as session:
        state = session.get(OriginState, TOWNSHIP)
        assert state is not None
        assert state.acked_seq < state.held_seq
    queue = Queue(queue_name(TOWNSHIP), connection=township.context.redis)
    assert FailedJobRegistry(queue=queue).count == 1
    assert queue.count == 0
