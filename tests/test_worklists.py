"""Worklists of clerks, department approvers and supervisors, API and page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from common import clock
from tests.federation import Browser, Federation, RunningNode
from tests.test_supervision import (
    CITY,
    COUNTY,
    DEPARTMENT,
    add_case,
    add_opinion,
    add_step,
    china_time,
    sweep,
    user_id,
)

OTHER = "自然资源局"


@pytest.fixture
def county(federation: Federation) -> Iterator[RunningNode]:
    """漳浦县 on 2026-09-30, with a clerk, an approver and a supervisor."""
    federation.start(CITY)
    node = federation.start(COUNTY)
    node.add_user("clerk1", "window_clerk", department=DEPARTMENT)
    node.add_user("approver1", "department_approver", department=DEPARTMENT)
    node.add_user("nodept", "department_approver")
    node.add_user("super1", "supervisor")
    clock.set_now(dt.datetime(2026, 9, 30, 10, tzinfo=clock.CHINA))
    yield node
    clock.reset()


def swept(node: RunningNode, *case_ids: str) -> None:
    for case_id in case_ids:
        sweep(node, case_id)


def ids(rows: list[dict]) -> list[str]:
    return [row["case_id"] for row in rows]


# --- clerk -----------------------------------------------------------------------


def test_clerk_list_sorted_by_light(county: RunningNode) -> None:
    add_case(county, "GREEN", "2026-12-31")
    add_case(county, "YELLOW-LATER", "2026-10-08")
    add_case(county, "RED", "2026-09-29")
    add_case(county, "YELLOW-SOONER", "2026-09-30")
    add_case(county, "PAUSED", "2026-09-29", clock_stopped_at=china_time("2026-09-28"))
    swept(county, "GREEN", "YELLOW-LATER", "RED", "YELLOW-SOONER", "PAUSED")
    rows = county.get("/api/worklists/clerk", as_user="clerk1").json()
    assert ids(rows) == ["RED", "YELLOW-SOONER", "YELLOW-LATER", "GREEN", "PAUSED"]


def test_clerk_list_scope(county: RunningNode) -> None:
    clerk = user_id(county, "clerk1")
    add_case(county, "MINE", "2026-12-31")
    add_case(county, "TAKEN-IN", "2026-12-30", department=OTHER, intake_by=clerk)
    add_case(county, "OTHER", "2026-12-31", department=OTHER)
    add_case(county, "RECEIVED", None, status="received")
    add_case(county, "DONE", "2026-12-31", status="completed")
    add_case(county, "REJECTED", None, status="rejected")
    rows = county.get("/api/worklists/clerk", as_user="clerk1").json()
    assert sorted(ids(rows)) == ["MINE", "RECEIVED", "TAKEN-IN"]


def test_clerk_list_shows_step_and_supplement(county: RunningNode) -> None:
    add_case(county, "C1", "2026-12-31", clock_stopped_at=china_time("2026-09-29"))
    add_step(county, "C1", 0, "2026-09-01", status="approved")
    add_step(county, "C1", 1, "2026-12-01")
    [row] = county.get("/api/worklists/clerk", as_user="clerk1").json()
    assert row["current_step"] == {"position": 1, "name": "审核1"}
    assert row["supplement_open"] is True
    assert row["status_label"] == "已受理"
    assert row["deadline"] == "2026-12-31"


def test_clerk_list_needs_clerk(county: RunningNode) -> None:
    response = county.get("/api/worklists/clerk", as_user="approver1")
    assert response.status_code == 403


# --- department ------------------------------------------------------------------


def test_department_list_contents(county: RunningNode) -> None:
    add_case(county, "STEP", "2026-12-31")
    add_step(county, "STEP", 1, "2026-10-08")
    add_case(county, "CLERK-STEP", "2026-12-31")
    add_step(county, "CLERK-STEP", 1, "2026-10-08", role="window_clerk")
    add_case(county, "OTHER-STEP", "2026-12-31", department=OTHER)
    add_step(county, "OTHER-STEP", 1, "2026-10-08", department=OTHER)
    add_case(county, "JOINT", "2026-12-31", department=OTHER, joint=True)
    add_opinion(county, "JOINT", DEPARTMENT, "2026-09-29")
    add_opinion(county, "JOINT", OTHER, "2026-09-29")
    add_case(county, "GIVEN", "2026-12-31", department=OTHER, joint=True)
    add_opinion(county, "GIVEN", DEPARTMENT, "2026-09-29", decision="agree")
    swept(county, "STEP", "JOINT")
    rows = county.get("/api/worklists/department", as_user="approver1").json()
    assert [(r["item"], r["case_id"]) for r in rows] == [
        ("opinion", "JOINT"),
        ("step", "STEP"),
    ]
    assert rows[0]["light"] == "red"
    assert rows[1]["light"] == "yellow"


def test_department_list_without_department(county: RunningNode) -> None:
    add_case(county, "STEP", "2026-12-31")
    add_step(county, "STEP", 1, "2026-10-08")
    # An approver without a department acts for every department.
    rows = county.get("/api/worklists/department", as_user="nodept").json()
    assert [row["case_id"] for row in rows] == ["STEP"]


# --- supervisor ------------------------------------------------------------------


def test_supervisor_list(county: RunningNode) -> None:
    add_case(county, "RED", "2026-09-29")
    add_case(county, "YELLOW", "2026-10-08")
    add_case(county, "GREEN", "2026-12-31")
    add_step(county, "GREEN", 1, "2026-10-08")
    swept(county, "RED", "YELLOW", "GREEN")
    lists = county.get("/api/worklists/supervisor", as_user="super1").json()
    # Same light and deadline: ordered by case number.
    assert [(r["item"], r["case_id"]) for r in lists["warnings"]] == [
        ("step", "GREEN"),
        ("case", "YELLOW"),
    ]
    assert ids(lists["overdue"]) == ["RED"]
    assert ids(lists["records"]) == ["RED"]


def test_supervisor_list_needs_supervisor(county: RunningNode) -> None:
    response = county.get("/api/worklists/supervisor", as_user="clerk1")
    assert response.status_code == 403


# --- page ------------------------------------------------------------------------


def test_worklist_page_for_clerk(county: RunningNode) -> None:
    add_case(county, "C1", "2026-09-29")
    sweep(county, "C1")
    page = Browser(county, "clerk1").get("/worklist")
    assert page.status_code == 200
    assert "窗口办件" in page.text
    assert "部门审批" not in page.text
    assert 'href="/cases/C1"' in page.text
    assert "红灯（超时）" in page.text


def test_worklist_page_for_every_role(county: RunningNode) -> None:
    page = Browser(county).get("/worklist").text
    assert "窗口办件" in page
    assert "部门审批" in page
    assert "预警与超时" in page


def test_worklist_page_needs_worklist_role(county: RunningNode) -> None:
    county.add_user("admin1", "center_admin")
    page = Browser(county, "admin1").get("/worklist")
    assert page.status_code == 403
