"""Inputs and faults that once failed: each must be a 4xx or a clear 503."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import func, select

from common.models import Event
from hub.models import HubCase
from tests.conftest import application
from tests.federation import Federation, RunningNode, signed_post
from tests.test_api_input import COUNTY, county_case_events, event

CITY = "350600"


def event_count(node: RunningNode) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Event))


def test_event_without_destination_rejected(city: RunningNode) -> None:
    payload = {"case_id": f"{COUNTY}-000001"}
    batch = {
        "sender": COUNTY,
        "events": [event(COUNTY, 1, "application.filed", payload)],
    }
    response = signed_post(city, COUNTY, "/sync/events", batch)
    assert response.status_code == 400
    assert (
        "payload" in response.json()["error"]["details"]["fields"][f"events.{COUNTY}#1"]
    )
    assert event_count(city) == 0


def quarantined(node: RunningNode) -> list[dict]:
    return node.get("/api/sync/quarantine?state=open").json()


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("case.received", {"case_id": f"{COUNTY}-000001"}),
        ("case.completed", {"case_id": f"{COUNTY}-000001", "on_time": "yes"}),
    ],
)
def test_malformed_event_payload_quarantined(
    city: RunningNode, kind: str, payload: dict
) -> None:
    # Signed by its origin but invalid: kept aside, so later events still flow.
    batch = {"sender": COUNTY, "events": [event(COUNTY, 1, kind, payload)]}
    response = signed_post(city, COUNTY, "/sync/events", batch)
    assert response.status_code == 200
    assert [q["seq"] for q in quarantined(city)] == [1]
    with city.context.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(HubCase)) == 0


def test_received_by_other_node_quarantined(city: RunningNode) -> None:
    received, _ = county_case_events()
    received["payload"] = dict(received["payload"], handler="350623100")
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": [received]}
    )
    assert response.status_code == 200
    assert "handler" in quarantined(city)[0]["reason"]
    with city.context.db.transaction() as session:
        assert session.get(HubCase, received["case_id"]) is None


def test_status_from_non_handler_ignored(city: RunningNode) -> None:
    signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": county_case_events()}
    )
    rejected = event(
        "350623100",
        1,
        "case.rejected",
        {
            "case_id": f"{COUNTY}-000001",
            "reason": "伪造",
            "rejected_at": "2026-12-01T08:00:00+00:00",
        },
    )
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": [rejected]}
    )
    assert response.status_code == 200
    with city.context.db.transaction() as session:
        assert session.get(HubCase, f"{COUNTY}-000001").status == "accepted"


def test_unknown_origin_rejected(city: RunningNode) -> None:
    events = [dict(e, origin="350623999999") for e in county_case_events()]
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )
    assert response.status_code == 403
    assert event_count(city) == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/sync/events",
            {"sender": COUNTY, "events": [], "heads": {COUNTY: {"seq": 10**23}}},
        ),
        ("/sync/feed", {"child": COUNTY, "cursors": {"350623100": 10**23}}),
        (
            "/sync/feed",
            {"child": COUNTY, "cursors": {f"3506{i:02d}": 1 for i in range(201)}},
        ),
    ],
)
def test_huge_sync_values_rejected(city: RunningNode, path: str, body: dict) -> None:
    response = signed_post(city, COUNTY, path, body)
    assert response.status_code == 400


def test_deeply_nested_body_rejected(city: RunningNode) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = city.post(
        "/api/applications", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "13800000000\n"),
        ("phone", "13８00000000"),
        ("name", " "),
        ("name", "\u0000"),
        ("name", "\u202e\u200b"),
    ],
)
def test_applicant_oddities_rejected(city: RunningNode, field: str, value: str) -> None:
    body = application("ZZ-RS-001")
    body["applicant"] = dict(body["applicant"], **{field: value})
    response = city.post("/api/applications", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]["applicant"]


def test_dead_redis_reported_and_nothing_lost(federation: Federation) -> None:
    federation.start(CITY)
    federation.publish_catalog()
    county = federation.start(COUNTY)
    federation.sync(rounds=1)
    # Redis goes away: point the node at a port where nothing listens.
    county.context.__dict__["redis"] = redis.Redis.from_url("redis://127.0.0.1:1/0")
    filed = county.post("/api/applications", json=application("ZZ-MZ-001"))
    assert filed.status_code == 201
    assert county.post("/api/sync/run").status_code == 503
    assert county.get("/api/sync").json()["queue"].startswith("unavailable")


def test_oversized_batch_names_limit(city: RunningNode) -> None:
    received, _ = county_case_events()
    events = [dict(received, seq=seq) for seq in range(1, 5002)]
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )
    assert response.status_code == 400
    assert "at most 5000 events" in str(response.json()["error"]["details"])
    assert event_count(city) == 0
