"""Hub rollups: figures kept as events arrive equal a recount of the stored events."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from common import clock
from common.clock import CHINA
from common.divisions import Divisions
from common.models import Event
from sync.outbox import emit
from sync.push import WIRE_COLUMNS, to_wire
from tests.conftest import application
from tests.federation import (
    Browser,
    Federation,
    RunningNode,
    complete_case,
    signed_post,
)

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"
OTHER_COUNTY = "350602"
# Two Tuesdays, 10:00 in China, in two months.
MARCH = dt.datetime(2025, 3, 11, 2, 0, tzinfo=dt.UTC)
APRIL = dt.datetime(2025, 4, 8, 2, 0, tzinfo=dt.UTC)

COMPARED = (
    "received",
    "accepted",
    "completed",
    "rejected",
    "on_time",
    "immediate",
    "joint",
    "working_days_used",
    "promised_limit",
    "supplement_notices",
    "warned",
    "overdue",
    "accountability_records",
    "evaluations",
    "bad_reviews",
    "excluded_reviews",
)


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    clock.set_now(MARCH)
    yield
    clock.reset()


def file_case(node: RunningNode, matter_code: str) -> str:
    response = node.post("/api/applications", json=application(matter_code))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def act(node: RunningNode, case_id: str, action: str, **body: str) -> None:
    response = node.post(f"/api/cases/{case_id}/{action}", json=body or None)
    assert response.status_code == 200, response.text


def emit_at(
    node: RunningNode, kind: str, payload: dict[str, Any], **where: Any
) -> None:
    with node.context.db.transaction() as session:
        emit(node.context, session, kind, payload, **where)


def supervision_events(county: RunningNode, case_id: str) -> None:
    """Emit, at the handling county, what electronic supervision and evaluation add.

    The case turns yellow twice (the case and a step) and red once, so it
    counts once as warned and once as overdue.
    """
    now = clock.utcnow().isoformat()
    for item, subject, light in (
        ("step", "1", "yellow"),
        ("case", "", "yellow"),
        ("case", "", "red"),
    ):
        light_payload = {
            "case_id": case_id,
            "item": item,
            "subject": subject,
            "light": light,
            "deadline": None,
            "changed_at": now,
        }
        emit_at(county, "case.light_changed", light_payload, case_id=case_id)
    accountability = {
        "case_id": case_id,
        "record_id": 1,
        "breach": "case_overdue",
        "subject": "",
        "department": "民政局",
        "user_id": None,
        "deadline": None,
        "working_days_late": 1,
        "opened_at": now,
    }
    emit_at(county, "accountability.opened", accountability, case_id=case_id)
    evaluation = {
        "case_id": case_id,
        "level": "very_dissatisfied",
        "bad": True,
        "channel": "device",
        "department": "民政局",
        "window": None,
        "rated_at": now,
    }
    emit_at(county, "evaluation.recorded", evaluation, case_id=case_id)
    follow_up = {
        "case_id": case_id,
        "action": "excluded",
        "department": "民政局",
        "window": None,
        "deadline": "2025-04-30",
        "verified": True,
        "on_time": None,
        "exclusion_reason": "mistaken",
        "at": now,
    }
    emit_at(county, "evaluation.follow_up", follow_up, case_id=case_id)


def service_events(county: RunningNode) -> None:
    """Emit two called queue tickets and one staffing gap at the county."""
    now = clock.utcnow()
    for number, waited in (("A001", 300), ("A002", 900)):
        ticket = {
            "ticket": f"{COUNTY}-2025-04-08-{number}",
            "day": "2025-04-08",
            "number": number,
            "category": "综合",
            "status": "called",
            "taken_at": now.isoformat(),
            "window": "1号窗口",
            "department": "民政局",
            "called_at": now.isoformat(),
            "waited_seconds": waited,
        }
        emit_at(county, "ticket.called", ticket)
    gap = {
        "window_id": 1,
        "window": "1号窗口",
        "department": "民政局",
        "user_id": 1,
        "day": "2025-04-08",
        "gap_id": 1,
        "minutes_missing": 45,
    }
    emit_at(county, "staffing.gap", gap)


def build_cases(federation: Federation) -> dict[str, str]:
    """File and handle cases of several matters, tiers and months, then sync.

    | case | handled by   | received | outcome                          |
    | a1   | county       | March    | accepted, completed, supervised  |
    | a2   | county       | March    | rejected                         |
    | b1   | township     | March    | accepted, completed              |
    | c1   | city         | March    | accepted; completed in April     |
    | d1   | other county | April    | accepted, completed              |
    """
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE, OTHER_COUNTY):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)
    nodes = federation.nodes
    village = nodes[VILLAGE]
    ids = {
        "a1": file_case(village, "ZZ-MZ-001"),
        "a2": file_case(village, "ZZ-MZ-001"),
        "b1": file_case(village, "ZZ-WJ-001"),
        "c1": file_case(village, "ZZ-RS-001"),
    }
    federation.sync()
    for node, name in (
        (nodes[COUNTY], "a1"),
        (nodes[TOWNSHIP], "b1"),
        (nodes[CITY], "c1"),
    ):
        act(node, ids[name], "accept")
    for node, name in ((nodes[COUNTY], "a1"), (nodes[TOWNSHIP], "b1")):
        assert complete_case(node, ids[name]).status_code == 200
    act(nodes[COUNTY], ids["a2"], "reject", reason="申请人不符合条件")
    supervision_events(nodes[COUNTY], ids["a1"])
    federation.sync()

    clock.set_now(APRIL)
    ids["d1"] = file_case(nodes[OTHER_COUNTY], "ZZ-SC-001")
    act(nodes[OTHER_COUNTY], ids["d1"], "accept")
    assert complete_case(nodes[OTHER_COUNTY], ids["d1"]).status_code == 200
    assert complete_case(nodes[CITY], ids["c1"]).status_code == 200
    service_events(nodes[COUNTY])
    federation.sync()
    return ids


# --- a straight recount of the hub's stored events -------------------------------


def stored_events(city: RunningNode) -> list[dict[str, Any]]:
    with city.context.db.transaction() as session:
        rows = session.execute(
            select(Event.origin, Event.kind, Event.payload).order_by(
                Event.origin, Event.seq
            )
        )
        return [row._asdict() for row in rows]


def recount(events: list[dict[str, Any]], divisions: Divisions) -> dict[str, dict]:
    """Replay the events in Python and return each case's key and counters."""
    cases: dict[str, dict[str, Any]] = {}
    for event in events:
        payload = event["payload"]
        if event["kind"] == "case.received" and payload["case_id"] not in cases:
            received = dt.datetime.fromisoformat(payload["received_at"])
            cases[payload["case_id"]] = {
                "month": received.astimezone(CHINA).strftime("%Y-%m"),
                "handler": payload["handler"],
                "county": divisions.county_of(payload["handler"]) or CITY,
                "tier": payload["handler_tier"],
                "department": payload.get("department", ""),
                "matter": payload["matter_code"],
                "promised": payload["promised_limit_working_days"],
                "counts": Counter(
                    received=1,
                    immediate=int(payload.get("kind") == "immediate"),
                    joint=int(bool(payload.get("joint"))),
                ),
            }
    for event in events:
        case = cases.get(event["payload"].get("case_id") or "")
        if case is not None:
            count_event(case, event)
    return cases


def count_event(case: dict[str, Any], event: dict[str, Any]) -> None:
    payload, counts = event["payload"], case["counts"]
    kind = event["kind"]
    if kind.startswith("evaluation."):
        counts["evaluations"] += kind == "evaluation.recorded"
        counts["bad_reviews"] += kind == "evaluation.recorded" and payload["bad"]
        counts["excluded_reviews"] += payload.get("action") == "excluded"
        return
    if event["origin"] != case["handler"]:
        return
    if kind == "case.accepted":
        counts["accepted"] = 1
        case["promised"] = payload["promised_limit_working_days"]
    elif kind == "case.rejected":
        counts["rejected"] = 1
    elif kind == "case.completed":
        counts["completed"] = 1
        counts["on_time"] = int(payload["on_time"])
        counts["working_days_used"] = payload["working_days_used"]
        counts["promised_limit"] = case["promised"]
    elif kind == "case.supplement_notice":
        counts["supplement_notices"] += 1
    elif kind == "case.light_changed":
        counts["warned"] |= payload["light"] == "yellow"
        counts["overdue"] |= payload["light"] == "red"
    elif kind == "accountability.opened":
        counts["accountability_records"] += 1


def grouped(cases: dict[str, dict], by: str) -> dict[str, dict[str, int]]:
    groups: dict[str, Counter] = defaultdict(Counter)
    for case in cases.values():
        groups[case[by]].update(case["counts"])
    return {key: {name: int(c[name]) for name in COMPARED} for key, c in groups.items()}


def rollups(city: RunningNode, **query: str) -> dict[str, Any]:
    response = city.get("/api/hub/rollups", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def rollup_groups(city: RunningNode, by: str, **query: str) -> dict[str, dict]:
    """Return the API's groups that hold cases, with the compared counters."""
    rows = rollups(city, by=by, **query)["rows"]
    return {
        row["key"]: {name: row[name] for name in COMPARED}
        for row in rows
        if row["received"]
    }


GROUPINGS = ("county", "tier", "department", "matter", "month", "handler")


@pytest.mark.usefixtures("frozen_clock")
def test_rollups_equal_event_recount(federation: Federation) -> None:
    build_cases(federation)
    city = federation.nodes[CITY]
    cases = recount(stored_events(city), city.context.divisions)
    assert len(cases) == 5
    for by in GROUPINGS:
        assert rollup_groups(city, by) == grouped(cases, by), by


@pytest.mark.usefixtures("frozen_clock")
def test_events_delivered_twice_count_once(federation: Federation) -> None:
    build_cases(federation)
    city, county = federation.nodes[CITY], federation.nodes[COUNTY]
    before = rollups(city, by="handler")
    with county.context.db.transaction() as session:
        query = select(*WIRE_COLUMNS).where(Event.origin == COUNTY).order_by(Event.seq)
        events = [to_wire(county.context, row) for row in session.execute(query)]
    batch = {"sender": COUNTY, "events": events, "heads": {}}
    assert signed_post(city, COUNTY, "/sync/events", batch).status_code == 200
    assert rollups(city, by="handler") == before


@pytest.mark.usefixtures("frozen_clock")
def test_rollups_count_each_flag_once(federation: Federation) -> None:
    ids = build_cases(federation)
    city = federation.nodes[CITY]
    row = rollup_groups(city, "handler")[COUNTY]
    # a1 turned yellow twice and red once, and a2 never changed light.
    assert row["warned"] == 1, ids
    assert row["overdue"] == 1, ids


@pytest.mark.usefixtures("frozen_clock")
def test_case_counts_in_received_month(federation: Federation) -> None:
    build_cases(federation)
    months = rollup_groups(federation.nodes[CITY], "month")
    # c1 was received in March and completed in April: both count in March.
    assert {m: r["completed"] for m, r in months.items()} == {
        "2025-03": 3,
        "2025-04": 1,
    }


@pytest.mark.usefixtures("frozen_clock")
def test_rollups_filter_by_county_and_month(federation: Federation) -> None:
    build_cases(federation)
    groups = rollup_groups(
        federation.nodes[CITY],
        "handler",
        county=COUNTY,
        month_from="2025-03",
        month_to="2025-03",
    )
    assert sorted(groups) == [COUNTY, TOWNSHIP]


@pytest.mark.usefixtures("frozen_clock")
def test_service_rollup_of_queue_and_gaps(federation: Federation) -> None:
    build_cases(federation)
    service = {s["key"]: s for s in rollups(federation.nodes[CITY])["service"]}
    assert service[COUNTY] == {
        "key": COUNTY,
        "label": "漳浦县",
        "tickets_called": 2,
        "waited_seconds": 1200,
        "average_wait_minutes": 10.0,
        "staffing_gaps": 1,
        "gap_minutes": 45,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"by": "weather"}, "by"),
        ({"county": "12"}, "county"),
        ({"county": "110101"}, "county"),
        ({"handler": "999999999"}, "handler"),
        ({"month_from": "2025-13"}, "month_from"),
        ({"month_from": "2025-05", "month_to": "2025-04"}, "month_to"),
        ({"county": OTHER_COUNTY, "handler": TOWNSHIP}, "handler"),
    ],
)
def test_bad_rollup_query(city: RunningNode, query: dict[str, str], field: str) -> None:
    response = city.get("/api/hub/rollups", params=query)
    assert response.status_code == 400
    assert field in str(response.json()["error"]["details"])


def test_rollups_only_at_the_hub(federation: Federation) -> None:
    federation.start(CITY)
    county = federation.start(COUNTY)
    assert county.get("/api/hub/rollups").status_code == 404


def test_rollups_need_a_supervisor(city: RunningNode) -> None:
    city.add_user("clerk1", "window_clerk", department="民政局")
    assert city.get("/api/hub/rollups", as_user="clerk1").status_code == 403


# --- dashboard and export ------------------------------------------------------


@pytest.mark.usefixtures("frozen_clock")
def test_export_csv_for_excel(federation: Federation) -> None:
    build_cases(federation)
    response = federation.nodes[CITY].get("/hub/export.csv", params={"by": "tier"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[-1].startswith("合计,5,4,4,1,")


def test_export_csv_bad_grouping(city: RunningNode) -> None:
    response = city.get("/hub/export.csv", params={"by": "weather"})
    assert response.status_code == 400


@pytest.mark.usefixtures("frozen_clock")
def test_dashboard_shows_charts_and_drill_down(federation: Federation) -> None:
    build_cases(federation)
    page = Browser(federation.nodes[CITY]).get("/hub").text
    assert page.count("<svg") == 2
    assert f"/hub?county={COUNTY}&amp;by=handler" in page


@pytest.mark.usefixtures("frozen_clock")
def test_dashboard_drills_into_a_county(federation: Federation) -> None:
    build_cases(federation)
    page = Browser(federation.nodes[CITY]).get(f"/hub?county={COUNTY}&by=handler").text
    assert f"/hub?handler={TOWNSHIP}&amp;by=matter" in page
