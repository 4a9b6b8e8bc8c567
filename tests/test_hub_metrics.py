"""Hub metrics: case figures per county and tier, sync lag, case copies, dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from common.models import Event, Link
from hub.metrics import case_copies
from hub.models import HubCase
from tests.conftest import application
from tests.federation import Federation, RunningNode, complete_case, signed_post

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"
OTHER_COUNTY = "350602"  # 芗城区

# Handling tier and promised limit (working days) of the matters used here,
# as the shipped starter catalog and its delegations set them:
# ZZ-RS-001 city, 30 | 3701000105701-001 city, 2 | ZZ-MZ-001 county, 25 |
# ZZ-SC-001 county, 1 | ZZ-MZ-002 township (delegated to 350623100), 22 |
# ZZ-WJ-001 township, 0.


def file_case(node: RunningNode, matter_code: str) -> str:
    response = node.post("/api/applications", json=application(matter_code))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def act(node: RunningNode, case_id: str, action: str, **body: str) -> None:
    response = node.post(f"/api/cases/{case_id}/{action}", json=body or None)
    assert response.status_code == 200, response.text


def start_city_tree(federation: Federation) -> None:
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE, OTHER_COUNTY):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)


def build_cases(federation: Federation) -> dict[str, str]:
    """File, handle and sync seven cases, and return their ids by short name.

    | case | filed at     | handled by   | outcome             |
    | a1   | village      | county       | accepted, completed |
    | a2   | village      | county       | rejected            |
    | b1   | village      | township     | accepted            |
    | b2   | village      | township     | accepted, completed |
    | c1   | village      | city         | accepted, completed |
    | c2   | city         | city         | received only       |
    | d1   | other county | other county | accepted, completed |

    Every completion falls on the day of acceptance, so it uses 0 working
    days and is on time.

    NOTE: a run that crosses midnight in China (16:00 UTC) between an
    acceptance and its completion can count 1 working day and fail.
    """
    start_city_tree(federation)
    nodes = federation.nodes
    village, other_county = nodes[VILLAGE], nodes[OTHER_COUNTY]
    ids = {
        "a1": file_case(village, "ZZ-MZ-001"),
        "a2": file_case(village, "ZZ-MZ-001"),
        "b1": file_case(village, "ZZ-MZ-002"),
        "b2": file_case(village, "ZZ-WJ-001"),
        "c1": file_case(village, "ZZ-RS-001"),
        "c2": file_case(nodes[CITY], "3701000105701-001"),
        "d1": file_case(other_county, "ZZ-SC-001"),
    }
    federation.sync()

    handled = [
        (nodes[COUNTY], "a1"),
        (nodes[TOWNSHIP], "b1"),
        (nodes[TOWNSHIP], "b2"),
        (nodes[CITY], "c1"),
        (other_county, "d1"),
    ]
    for node, name in handled:
        act(node, ids[name], "accept")
    for node, name in handled:
        if name != "b1":
            assert complete_case(node, ids[name]).status_code == 200
    act(nodes[COUNTY], ids["a2"], "reject", reason="申请人不符合条件")
    federation.sync()
    return ids


def city_metrics(federation: Federation) -> dict[str, Any]:
    response = federation.nodes[CITY].get("/api/hub/metrics")
    assert response.status_code == 200, response.text
    return response.json()


def check_figures(row: dict[str, Any], expected: dict[str, Any], group: str) -> None:
    for field, value in expected.items():
        assert row[field] == pytest.approx(value), f"{group}: {field}"


NO_CASES = {
    "received": 0,
    "accepted": 0,
    "completed": 0,
    "rejected": 0,
    "on_time_rate": None,
    "average_working_days_used": None,
    "average_promised_limit_working_days": None,
}


# --- figures from cases handled across the federation -------------------------


def test_federation_figures_by_county(federation: Federation) -> None:
    build_cases(federation)
    rows = {row["county_code"]: row for row in city_metrics(federation)["by_county"]}
    expected = {
        # c1, c2; only c1 (limit 30) completed.
        CITY: {
            "label": "市本级",
            "received": 2,
            "accepted": 1,
            "completed": 1,
            "rejected": 0,
            "on_time_rate": 1.0,
            "average_working_days_used": 0.0,
            "average_promised_limit_working_days": 30.0,
        },
        # a1, a2, b1, b2; a1 (limit 25) and b2 (limit 0) completed.
        COUNTY: {
            "label": "漳浦县",
            "received": 4,
            "accepted": 3,
            "completed": 2,
            "rejected": 1,
            "on_time_rate": 1.0,
            "average_working_days_used": 0.0,
            "average_promised_limit_working_days": 12.5,
        },
        # d1 (limit 1).
        OTHER_COUNTY: {
            "label": "芗城区",
            "received": 1,
            "accepted": 1,
            "completed": 1,
            "rejected": 0,
            "on_time_rate": 1.0,
            "average_working_days_used": 0.0,
            "average_promised_limit_working_days": 1.0,
        },
        "350624": {"label": "诏安县", **NO_CASES},
    }
    for code, figures in expected.items():
        check_figures(rows[code], figures, f"county {code}")


def test_federation_lists_every_county(federation: Federation) -> None:
    build_cases(federation)
    codes = [row["county_code"] for row in city_metrics(federation)["by_county"]]
    assert codes[0] == CITY
    assert len(codes) == 12  # 市本级 and the city's 11 counties


def test_federation_figures_by_tier(federation: Federation) -> None:
    build_cases(federation)
    rows = {row["tier"]: row for row in city_metrics(federation)["by_tier"]}
    expected = {
        "city": {
            "label": "市级",
            "received": 2,
            "accepted": 1,
            "completed": 1,
            "rejected": 0,
            "average_promised_limit_working_days": 30.0,
        },
        # a1, a2, d1; a1 (limit 25) and d1 (limit 1) completed.
        "county": {
            "label": "县级",
            "received": 3,
            "accepted": 2,
            "completed": 2,
            "rejected": 1,
            "on_time_rate": 1.0,
            "average_promised_limit_working_days": 13.0,
        },
        # b1, b2; b2 (limit 0) completed.
        "township": {
            "label": "乡镇级",
            "received": 2,
            "accepted": 2,
            "completed": 1,
            "rejected": 0,
            "average_promised_limit_working_days": 0.0,
        },
        "village": {"label": "村级", **NO_CASES},
    }
    for tier, figures in expected.items():
        check_figures(rows[tier], figures, f"tier {tier}")


def test_federation_city_total(federation: Federation) -> None:
    build_cases(federation)
    total = city_metrics(federation)["total"]
    expected = {
        "label": "全市合计",
        "received": 7,
        "accepted": 5,
        "completed": 4,
        "rejected": 1,
        "on_time": 4,
        "on_time_rate": 1.0,
        "average_working_days_used": 0.0,
        # c1 30, a1 25, d1 1, b2 0.
        "average_promised_limit_working_days": 14.0,
    }
    check_figures(total, expected, "total")


def test_hub_case_shows_copies(federation: Federation) -> None:
    ids = build_cases(federation)
    response = federation.nodes[CITY].get(f"/api/hub/cases/{ids['a1']}")
    assert response.status_code == 200
    body = response.json()
    assert body["copies"] == 1
    assert body["status"] == "completed"
    assert body["handler_code"] == COUNTY
    assert body["county_code"] == COUNTY
    assert body["filed_at_code"] == VILLAGE
    assert body["on_time"] is True
    assert "applicant_name" not in body


# --- figures from hand-made hub rows -------------------------------------------


def hub_case(case_id: str, handler_code: str, **fields: Any) -> HubCase:
    """Return a hub row for a case handled at ``handler_code``, received today."""
    values: dict[str, Any] = {
        "case_id": case_id,
        "matter_code": "ZZ-MZ-001",
        "release": 1,
        "handler_code": handler_code,
        "handler_tier": "county" if len(handler_code) == 6 else "township",
        "county_code": handler_code[:6],
        "filed_at_code": handler_code,
        "applicant_pseudonym": "0" * 64,
        "status": "received",
        "promised_limit_working_days": 5,
        "received_at": dt.datetime.now(dt.UTC),
    }
    values.update(fields)
    return HubCase(**values)


def completed(days_used: int, limit: int, on_time: bool) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "status": "completed",
        "accepted_at": now,
        "completed_at": now,
        "working_days_used": days_used,
        "promised_limit_working_days": limit,
        "on_time": on_time,
    }


def add_late_cases(city: RunningNode) -> None:
    """Store five cases of 漳浦县, two of them completed late.

    County tier (days used of the limit): 3 of 5 on time, 9 of 5 late, 6 of
    20 on time. A fourth county case is accepted only, and its limit of 100
    must not count in the averages. Township tier: 2 of 1, late.
    """
    rows = [
        hub_case("late-1", COUNTY, **completed(3, 5, True)),
        hub_case("late-2", COUNTY, **completed(9, 5, False)),
        hub_case("late-3", COUNTY, **completed(6, 20, True)),
        hub_case(
            "late-4",
            COUNTY,
            status="accepted",
            accepted_at=dt.datetime.now(dt.UTC),
            promised_limit_working_days=100,
        ),
        hub_case("late-5", TOWNSHIP, **completed(2, 1, False)),
    ]
    with city.context.db.transaction() as session:
        session.add_all(rows)


def test_late_cases_by_county(city: RunningNode, federation: Federation) -> None:
    add_late_cases(city)
    rows = {row["county_code"]: row for row in city_metrics(federation)["by_county"]}
    expected = {
        "received": 5,
        "accepted": 5,
        "completed": 4,
        "on_time": 2,
        "on_time_rate": 0.5,
        "average_working_days_used": 5.0,  # (3 + 9 + 6 + 2) / 4
        "average_promised_limit_working_days": 7.75,  # (5 + 5 + 20 + 1) / 4
    }
    check_figures(rows[COUNTY], expected, f"county {COUNTY}")


def test_late_cases_by_tier(city: RunningNode, federation: Federation) -> None:
    add_late_cases(city)
    rows = {row["tier"]: row for row in city_metrics(federation)["by_tier"]}
    expected = {
        "county": {
            "received": 4,
            "completed": 3,
            "on_time": 2,
            "on_time_rate": 2 / 3,
            "average_working_days_used": 6.0,  # (3 + 9 + 6) / 3
            "average_promised_limit_working_days": 10.0,  # (5 + 5 + 20) / 3
        },
        "township": {
            "received": 1,
            "completed": 1,
            "on_time": 0,
            "on_time_rate": 0.0,
            "average_working_days_used": 2.0,
            "average_promised_limit_working_days": 1.0,
        },
    }
    for tier, figures in expected.items():
        check_figures(rows[tier], figures, f"tier {tier}")


def test_case_copies_counts_received_events(city: RunningNode) -> None:
    now = dt.datetime.now(dt.UTC)
    events = [
        Event(
            origin=COUNTY,
            seq=seq,
            kind=kind,
            case_id="copied-1",
            created_at=now,
            payload={},
        )
        for seq, kind in [
            (1, "case.received"),
            (2, "case.accepted"),
            (3, "case.received"),
        ]
    ]
    with city.context.db.transaction() as session:
        session.add(hub_case("copied-1", COUNTY))
        session.add_all(events)
    with city.context.db.transaction() as session:
        found = case_copies(session, "copied-1")
    assert found.copies == 2
    assert found.case is not None


def test_case_copies_of_unknown_case(city: RunningNode) -> None:
    with city.context.db.transaction() as session:
        found = case_copies(session, "350600-999999")
    assert found.copies == 0
    assert found.case is None


# --- sync lag -----------------------------------------------------------------


def test_sync_lag_after_full_sync(federation: Federation) -> None:
    start_city_tree(federation)
    file_case(federation.nodes[VILLAGE], "ZZ-MZ-001")
    federation.sync()
    origins = {o["origin"]: o for o in city_metrics(federation)["sync"]["origins"]}
    village = origins[VILLAGE]
    assert village["held_seq"] == 1  # the application.filed event
    assert village["reported_seq"] == 1
    assert village["unacknowledged"] == 0
    assert village["last_contact"] is not None


def test_sync_lag_from_reported_head(federation: Federation) -> None:
    start_city_tree(federation)
    file_case(federation.nodes[VILLAGE], "ZZ-MZ-001")
    federation.sync()
    contact = "2024-05-06T02:00:00+00:00"
    # 漳浦县 reports four events of the village while the hub has received one,
    # as a county does while its later batches are still on the way.
    batch = {
        "sender": COUNTY,
        "events": [],
        "heads": {VILLAGE: {"seq": 4, "contact": contact}},
    }
    assert (
        signed_post(federation.nodes[CITY], COUNTY, "/sync/events", batch).status_code
        == 200
    )
    origins = {o["origin"]: o for o in city_metrics(federation)["sync"]["origins"]}
    village = origins[VILLAGE]
    assert village["held_seq"] == 1
    assert village["reported_seq"] == 4
    assert village["unacknowledged"] == 3
    assert village["name"] == "炉尾村委会"
    assert village["tier"] == "village"


def test_sync_links_of_children(federation: Federation) -> None:
    start_city_tree(federation)
    file_case(federation.nodes[VILLAGE], "ZZ-MZ-001")
    federation.sync()
    links = {link["peer"]: link for link in city_metrics(federation)["sync"]["links"]}
    assert links[COUNTY]["name"] == "漳浦县"
    assert links[COUNTY]["last_contact"] is not None
    assert links[COUNTY]["last_error"] is None
    assert TOWNSHIP not in links  # only direct children have a link to the hub


def test_sync_links_show_last_error(city: RunningNode, federation: Federation) -> None:
    failed_at = dt.datetime(2024, 5, 6, 2, 0, tzinfo=dt.UTC)
    with city.context.db.transaction() as session:
        session.add(
            Link(
                peer=OTHER_COUNTY,
                relation="child",
                last_error="batch rejected: sequence gap",
                last_error_at=failed_at,
            )
        )
    links = city_metrics(federation)["sync"]["links"]
    assert links[0]["peer"] == OTHER_COUNTY
    assert links[0]["last_error"] == "batch rejected: sequence gap"
    assert links[0]["last_error_at"] == failed_at.isoformat()
    assert links[0]["last_contact"] is None


# --- errors and the dashboard --------------------------------------------------


def test_unknown_hub_case_not_found(city: RunningNode) -> None:
    response = city.get("/api/hub/cases/350600-999999")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "350600-999999" in response.json()["error"]["message"]


def test_county_metrics_not_found(federation: Federation) -> None:
    start_city_tree(federation)
    response = federation.nodes[COUNTY].get("/api/hub/metrics")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "not the city hub" in error["message"]


def test_county_hub_case_not_found(federation: Federation) -> None:
    start_city_tree(federation)
    response = federation.nodes[COUNTY].get("/api/hub/cases/350623-000001")
    assert response.status_code == 404
    assert "not the city hub" in response.json()["error"]["message"]


def test_county_dashboard_not_found(federation: Federation) -> None:
    start_city_tree(federation)
    response = federation.nodes[COUNTY].get("/hub", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.headers["Content-Type"]


def test_dashboard_renders_figures(federation: Federation) -> None:
    build_cases(federation)
    response = federation.nodes[CITY].get("/hub", headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.text
    for text in ("办件统计", "同步状态", "市本级", "漳浦县", "芗城区", "全市合计"):
        assert text in page, text
    assert "炉尾村委会" in page  # the village as a sync origin
    assert "100.0%" in page  # the on-time rate of 漳浦县


def test_dashboard_renders_empty_hub(city: RunningNode) -> None:
    response = city.get("/hub", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "尚无下级节点与本中心联系" in response.text
