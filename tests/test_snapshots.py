"""Daily metric snapshots: a county's own counts reach the hub and match its count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from common import clock
from common.errors import InvalidInput
from common.models import Event
from common.schemas.events import event_errors
from hub.models import HubCase
from hub.snapshot_models import HubReconciliation, HubSnapshot
from node.snapshots import SNAPSHOT_KIND, send_snapshots, take_snapshot
from sync.outbox import emit
from tests.conftest import application, at
from tests.federation import Browser, Federation, RunningNode, complete_case

CITY, COUNTY = "350600", "350623"
# A Monday; the snapshots are sent on the Tuesday after.
DAY = "2026-11-02"
NEXT_DAY = "2026-11-03"
PLANNING_MATERIALS = [
    {"name": "建设工程规划许可申请表", "originals": 1, "copies": 0},
    {"name": "建设用地规划许可证", "originals": 0, "copies": 1},
    {"name": "建设工程设计方案", "originals": 1, "copies": 0},
]
EXPECTED = {
    "received": 3,
    "accepted": 1,
    "completed": 1,
    "rejected": 1,
    "supplement_notices": 1,
}


def file_case(node: RunningNode) -> str:
    response = node.post("/api/applications", json=application("ZZ-GH-001"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def act(node: RunningNode, case_id: str, action: str, **body: Any) -> None:
    response = node.post(f"/api/cases/{case_id}/{action}", json=body)
    assert response.status_code in (200, 201), response.text


def handle_cases(county: RunningNode) -> dict[str, str]:
    """Handle three cases at the county on DAY: completed, rejected, noticed."""
    ids = {name: file_case(county) for name in ("completed", "rejected", "noticed")}
    act(county, ids["completed"], "intake", materials=PLANNING_MATERIALS)
    act(county, ids["completed"], "accept")
    assert complete_case(county, ids["completed"]).status_code == 200
    act(county, ids["rejected"], "reject", reason="申请人不符合条件")
    act(county, ids["noticed"], "intake", materials=PLANNING_MATERIALS[:1])
    act(county, ids["noticed"], "supplement-notices")
    return ids


@pytest.fixture
def handled(federation: Federation) -> Iterator[dict[str, Any]]:
    """Cases handled at the county on DAY, and the week's snapshots sent on the day after."""
    clock.set_now(at(DAY))
    city = federation.start(CITY)
    county = federation.start(COUNTY)
    federation.publish_catalog()
    federation.sync(rounds=2)
    ids = handle_cases(county)
    federation.sync()
    clock.set_now(at(NEXT_DAY, 9))
    sent = send_snapshots(COUNTY)
    federation.sync()
    yield {"city": city, "county": county, "ids": ids, "sent": sent}
    clock.reset()


def snapshot_at_hub(city: RunningNode, day: str = DAY) -> HubSnapshot | None:
    with city.context.db.transaction() as session:
        return session.get(HubSnapshot, (COUNTY, dt.date.fromisoformat(day)))


def count_rows(node: RunningNode, model: type) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def snapshot_events(node: RunningNode) -> list[Event]:
    with node.context.db.transaction() as session:
        query = select(Event).where(Event.kind == SNAPSHOT_KIND).order_by(Event.seq)
        return list(session.scalars(query))


def differences(city: RunningNode, **query: str) -> dict[str, Any]:
    response = city.get("/api/hub/reconciliation", params={"day": DAY, **query})
    assert response.status_code == 200, response.text
    return response.json()


def recompute(city: RunningNode) -> None:
    response = city.post("/api/hub/reconciliation/recompute", params={"day": DAY})
    assert response.status_code == 200, response.text


def remove_hub_case(city: RunningNode, case_id: str) -> dict[str, Any]:
    """Delete a case's projection at the hub, as if its events were lost; return its columns."""
    with city.context.db.transaction() as session:
        case = session.get(HubCase, case_id)
        assert case is not None
        columns = {c.key: getattr(case, c.key) for c in HubCase.__table__.columns}
        session.delete(case)
    return columns


def restore_hub_case(city: RunningNode, columns: dict[str, Any]) -> None:
    with city.context.db.transaction() as session:
        session.add(HubCase(**columns))


# --- the snapshot at the node and at the hub -----------------------------------


def test_snapshot_counts_the_day(handled: dict[str, Any]) -> None:
    snapshot = snapshot_at_hub(handled["city"])
    assert snapshot is not None
    assert snapshot.counts == EXPECTED


def test_snapshot_job_sends_the_week(handled: dict[str, Any]) -> None:
    # One snapshot for each of the seven finished days before 3 November.
    assert handled["sent"] == 7
    assert count_rows(handled["city"], HubSnapshot) == 7


def test_quiet_day_snapshot_is_zero(handled: dict[str, Any]) -> None:
    snapshot = snapshot_at_hub(handled["city"], "2026-10-30")
    assert snapshot is not None
    assert set(snapshot.counts.values()) == {0}


def test_snapshot_event_matches_schema(handled: dict[str, Any]) -> None:
    for event in snapshot_events(handled["county"]):
        shape = {"kind": event.kind, "payload": event.payload, "case_id": None}
        assert event_errors({**shape, "origin": COUNTY, "destination": None}) == {}


def test_snapshot_matches_hub(handled: dict[str, Any]) -> None:
    report = differences(handled["city"])
    assert report["snapshots"] == 1
    assert report["differences"] == []


def test_week_matches_hub(handled: dict[str, Any]) -> None:
    report = handled["city"].get("/api/hub/reconciliation").json()
    assert report["snapshots"] == 7
    assert report["differences"] == []


# --- idempotence ------------------------------------------------------------------


def test_second_job_sends_nothing(handled: dict[str, Any]) -> None:
    assert send_snapshots(COUNTY) == 0
    assert len(snapshot_events(handled["county"])) == 7


def test_take_snapshot_twice_emits_once(handled: dict[str, Any]) -> None:
    county = handled["county"]
    with county.context.db.transaction() as session:
        again = take_snapshot(county.context, session, dt.date.fromisoformat(DAY))
    assert again.sent is False
    assert again.counts == EXPECTED
    assert len(snapshot_events(county)) == 7


def test_changed_counts_are_sent_again(
    handled: dict[str, Any], federation: Federation
) -> None:
    county, city = handled["county"], handled["city"]
    # A case handled later with the clock set back to DAY changes its counts.
    clock.set_now(at(DAY, 15))
    file_case(county)
    clock.set_now(at(NEXT_DAY, 11))
    assert send_snapshots(COUNTY) == 1
    federation.sync()
    snapshot = snapshot_at_hub(city)
    assert snapshot is not None
    assert snapshot.counts["received"] == 4
    assert count_rows(city, HubSnapshot) == 7
    assert differences(city)["differences"] == []


def test_resent_snapshot_replaces_earlier(
    handled: dict[str, Any], federation: Federation
) -> None:
    county, city = handled["county"], handled["city"]
    wrong = {**EXPECTED, "received": 5}
    with county.context.db.transaction() as session:
        payload = {"node": COUNTY, "day": DAY, "counts": wrong}
        emit(county.context, session, SNAPSHOT_KIND, payload)
    federation.sync()
    snapshot = snapshot_at_hub(city)
    assert snapshot is not None
    assert snapshot.counts["received"] == 5
    assert count_rows(city, HubSnapshot) == 7
    rows = differences(city)["differences"]
    assert [(r["figure"], r["node_count"], r["hub_count"]) for r in rows] == [
        ("received", 5, 3)
    ]


def test_snapshot_for_other_node_ignored(
    handled: dict[str, Any], federation: Federation
) -> None:
    county, city = handled["county"], handled["city"]
    with county.context.db.transaction() as session:
        payload = {"node": CITY, "day": DAY, "counts": EXPECTED}
        emit(county.context, session, SNAPSHOT_KIND, payload)
    federation.sync()
    with city.context.db.transaction() as session:
        stored = session.get(HubSnapshot, (CITY, dt.date.fromisoformat(DAY)))
    assert stored is None


# --- a loss at the hub ------------------------------------------------------------


def test_lost_case_shows_difference(handled: dict[str, Any]) -> None:
    city = handled["city"]
    remove_hub_case(city, handled["ids"]["completed"])
    recompute(city)
    rows = differences(city)["differences"]
    found = {r["figure"]: (r["node_count"], r["hub_count"]) for r in rows}
    assert found == {"received": (3, 2), "accepted": (1, 0), "completed": (1, 0)}


def test_difference_listed_on_page(handled: dict[str, Any]) -> None:
    city = handled["city"]
    remove_hub_case(city, handled["ids"]["completed"])
    recompute(city)
    page = Browser(city).get(f"/hub/reconciliation?day={DAY}")
    assert page.status_code == 200
    assert "办结" in page.text
    assert "无差异" not in page.text


def test_difference_gone_after_recompute(handled: dict[str, Any]) -> None:
    city = handled["city"]
    columns = remove_hub_case(city, handled["ids"]["completed"])
    recompute(city)
    restore_hub_case(city, columns)
    recompute(city)
    assert differences(city)["differences"] == []
    assert count_rows(city, HubReconciliation) == 0


def test_lost_event_shows_difference(handled: dict[str, Any]) -> None:
    city = handled["city"]
    with city.context.db.transaction() as session:
        query = select(Event).where(
            Event.origin == COUNTY, Event.kind == "case.supplement_notice"
        )
        session.delete(session.scalars(query).one())
    recompute(city)
    rows = differences(city)["differences"]
    assert [(r["figure"], r["node_count"], r["hub_count"]) for r in rows] == [
        ("supplement_notices", 1, 0)
    ]


def test_page_recompute_clears_difference(handled: dict[str, Any]) -> None:
    city = handled["city"]
    columns = remove_hub_case(city, handled["ids"]["completed"])
    recompute(city)
    restore_hub_case(city, columns)
    browser = Browser(city)
    browser.get(f"/hub/reconciliation?day={DAY}")
    response = browser.post("/hub/reconciliation/recompute", {"day": DAY, "node": ""})
    assert response.status_code == 303
    assert "无差异" in browser.get(f"/hub/reconciliation?day={DAY}").text


def test_page_without_differences(handled: dict[str, Any]) -> None:
    page = Browser(handled["city"]).get("/hub/reconciliation")
    assert page.status_code == 200
    assert "无差异" in page.text


# --- bad input and access ---------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("day", "2026-02-30"), ("day", "yesterday"), ("node", "abc"), ("node", "999999")],
)
def test_query_rejects_bad_value(
    handled: dict[str, Any], field: str, value: str
) -> None:
    response = handled["city"].get("/api/hub/reconciliation", params={field: value})
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]


def test_recompute_rejects_unknown_node(handled: dict[str, Any]) -> None:
    city = handled["city"]
    response = city.post("/api/hub/reconciliation/recompute", params={"node": "999999"})
    assert response.status_code == 400
    assert "node" in response.json()["error"]["details"]["fields"]


def test_page_rejects_bad_day(handled: dict[str, Any]) -> None:
    page = Browser(handled["city"]).get("/hub/reconciliation?day=2026-13-01")
    assert page.status_code == 400
    assert "day" in page.text


def test_reconciliation_only_at_hub(handled: dict[str, Any]) -> None:
    response = handled["county"].get("/api/hub/reconciliation")
    assert response.status_code == 404


def test_clerk_may_not_read(handled: dict[str, Any]) -> None:
    city = handled["city"]
    city.add_user("clerk1", "window_clerk", department="自然资源局")
    response = city.get("/api/hub/reconciliation", as_user="clerk1")
    assert response.status_code == 403


def test_unfinished_day_rejected(handled: dict[str, Any]) -> None:
    county = handled["county"]
    with county.context.db.transaction() as session:
        with pytest.raises(InvalidInput) as raised:
            take_snapshot(county.context, session, clock.today())
    assert "day" in raised.value.details["fields"]
