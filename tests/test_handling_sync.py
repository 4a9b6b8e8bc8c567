"""Every event of case handling reaches the hub, and the village shows its case."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from common import clock
from common.models import Event
from hub.models import HubCase
from node.supervision import sweep_all
from tests.conftest import application, at
from tests.federation import Federation, RunningNode

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"
PLANNING = [
    {"name": "建设工程规划许可申请表", "originals": 1, "copies": 0},
    {"name": "建设用地规划许可证", "originals": 0, "copies": 1},
    {"name": "建设工程设计方案", "originals": 1, "copies": 0},
]
JOINT = [
    {"name": "初步设计文件", "originals": 1, "copies": 0},
    {"name": "项目建议书批复", "originals": 0, "copies": 1},
]
KINDS = {
    "case.received",
    "case.supplement_notice",
    "case.supplement_received",
    "case.accepted",
    "case.step_started",
    "case.step_finished",
    "case.light_changed",
    "accountability.opened",
    "accountability.decided",
    "joint.opened",
    "joint.inspection_scheduled",
    "joint.opinion_given",
    "joint.meeting_held",
    "joint.minutes_recorded",
    "case.completed",
}


@pytest.fixture
def branch(federation: Federation) -> Iterator[Federation]:
    """The path from the city to a village, on Monday 2026-09-28."""
    clock.set_now(at("2026-09-28"))
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)
    yield federation
    clock.reset()


def post(node: RunningNode, path: str, **body: Any) -> Any:
    response = node.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def supervised_case(federation: Federation) -> str:
    """File at the village without one material; the county notices, then accepts."""
    village, county = federation.nodes[VILLAGE], federation.nodes[COUNTY]
    body = application("ZZ-GH-001", materials=[m["name"] for m in PLANNING[:2]])
    case_id = post(village, "/api/applications", **body)["id"]
    federation.sync()
    post(county, f"/api/cases/{case_id}/intake", materials=PLANNING[:2])
    post(county, f"/api/cases/{case_id}/supplement-notices")
    federation.sync()
    return case_id


def test_village_sees_missing_material(branch: Federation) -> None:
    case_id = supervised_case(branch)
    filed = branch.nodes[VILLAGE].get(f"/api/applications/{case_id}").json()
    assert [m["name"] for m in filed["supplement"]] == ["建设工程设计方案"]


def test_every_handling_event_reaches_hub(branch: Federation) -> None:
    county = branch.nodes[COUNTY]
    case_id = supervised_case(branch)
    post(county, f"/api/cases/{case_id}/supplement", materials=PLANNING[2:])
    post(county, f"/api/cases/{case_id}/accept")
    # Past National Day the review step is overdue: a red light and a record.
    clock.set_now(at("2026-10-12"))
    sweep_all(COUNTY)
    records = county.get("/api/accountability?open=true").json()
    post(
        county,
        f"/api/accountability/{records[0]['id']}/decision",
        explanation="国庆假期后未及时审查",
        decision="deducted",
        points=2,
    )
    joint_id = post(county, "/api/applications", **application("ZZ-FG-002"))["id"]
    post(county, f"/api/cases/{joint_id}/intake", materials=JOINT)
    post(county, f"/api/cases/{joint_id}/accept")
    path = f"/api/cases/{joint_id}/joint"
    post(county, f"{path}/inspection", on="2026-10-12", note="联合踏勘")
    for opinion in county.get(f"/api/cases/{joint_id}").json()["joint_review"][
        "opinions"
    ]:
        post(
            county,
            f"{path}/opinions",
            department=opinion["department"],
            decision="agree",
            opinion="同意",
        )
    post(county, f"{path}/meeting", on="2026-10-12", outcome="通过")
    post(county, f"{path}/minutes", minutes="同意初步设计")
    branch.sync()
    with branch.nodes[CITY].context.db.transaction() as session:
        kinds = set(session.scalars(select(Event.kind).where(Event.origin == COUNTY)))
    assert sorted(KINDS - kinds) == []


def test_hub_counts_notice_and_record(branch: Federation) -> None:
    county = branch.nodes[COUNTY]
    case_id = supervised_case(branch)
    post(county, f"/api/cases/{case_id}/supplement", materials=PLANNING[2:])
    post(county, f"/api/cases/{case_id}/accept")
    clock.set_now(at("2026-10-12"))
    sweep_all(COUNTY)
    branch.sync()
    with branch.nodes[CITY].context.db.transaction() as session:
        case = session.get(HubCase, case_id)
        assert case is not None
        counts = (case.supplement_notices, case.overdue, case.accountability_records)
    assert counts == (1, True, 1)


def test_notice_without_counts_reaches_hub(branch: Federation) -> None:
    # 收入证明 has no set number of copies: its counts travel as null.
    county = branch.nodes[COUNTY]
    body = application("ZZ-MZ-001", materials=["个人申请书"])
    case_id = post(county, "/api/applications", **body)["id"]
    post(county, f"/api/cases/{case_id}/supplement-notices")
    branch.sync()
    with branch.nodes[CITY].context.db.transaction() as session:
        kinds = set(session.scalars(select(Event.kind).where(Event.case_id == case_id)))
    assert "case.supplement_notice" in kinds
