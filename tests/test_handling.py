"""Case handling by the standard: intake, notices, steps, joint review, completion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from common import clock
from common.models import AccountabilityRecord, Case
from tests.conftest import application, at
from tests.federation import Federation, RunningNode

CITY = "350600"
COUNTY = "350623"

# Materials of 建设工程规划许可证核发 (ZZ-GH-001) as its standard requires them.
PLANNING_MATERIALS = [
    {"name": "建设工程规划许可申请表", "originals": 1, "copies": 0},
    {"name": "建设用地规划许可证", "originals": 0, "copies": 1},
    {"name": "建设工程设计方案", "originals": 1, "copies": 0},
]
MARRIAGE_MATERIALS = [
    {"name": "本人常住户口簿", "originals": 1},
    {"name": "居民身份证", "originals": 1},
    {"name": "2寸近期半身免冠彩色合影照片", "originals": 3},
]
JOINT_MATERIALS = [
    {"name": "初步设计文件", "originals": 1, "copies": 0},
    {"name": "项目建议书批复", "originals": 0, "copies": 1},
]
JOINT_DEPARTMENTS = [
    "自然资源局",
    "发展和改革局",
    "生态环境局",
    "水利局",
    "人防办",
    "气象局",
]


@pytest.fixture
def county(federation: Federation) -> Iterator[RunningNode]:
    """A county node holding release 1, with the clock on Monday 2026-11-02."""
    clock.set_now(at("2026-11-02"))
    federation.start(CITY)
    node = federation.start(COUNTY)
    federation.publish_catalog()
    federation.sync(rounds=2)
    yield node
    clock.reset()


def file_case(node: RunningNode, matter_code: str, **changes: Any) -> str:
    response = node.post("/api/applications", json=application(matter_code, **changes))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def act(node: RunningNode, case_id: str, action: str, **body: Any) -> Any:
    return node.post(f"/api/cases/{case_id}/{action}", json=body)


def case_of(node: RunningNode, case_id: str) -> dict[str, Any]:
    return node.get(f"/api/cases/{case_id}").json()


def accepted_case(node: RunningNode, matter_code: str, materials: list) -> str:
    case_id = file_case(node, matter_code)
    assert act(node, case_id, "intake", materials=materials).status_code == 200
    assert act(node, case_id, "accept").status_code == 200
    return case_id


# --- intake and supplement notices ----------------------------------------------


def test_notice_lists_every_missing_material(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:1])
    response = act(county, case_id, "supplement-notices")
    assert response.status_code == 201
    names = [m["name"] for m in response.json()["missing"]]
    assert names == ["建设用地规划许可证", "建设工程设计方案"]


def test_notice_names_short_counts(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    short = [dict(PLANNING_MATERIALS[0], originals=0), *PLANNING_MATERIALS[1:]]
    act(county, case_id, "intake", materials=short)
    missing = act(county, case_id, "supplement-notices").json()["missing"]
    assert missing[0]["problem"] == "原件需 1 份，收到 0 份"


def test_accept_refused_while_material_missing(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:2])
    response = act(county, case_id, "accept")
    assert response.status_code == 409
    assert case_of(county, case_id)["status"] == "received"


def test_notice_without_missing_material_refused(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS)
    assert act(county, case_id, "supplement-notices").status_code == 409


def test_unknown_material_at_intake_is_400(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    response = act(county, case_id, "intake", materials=[{"name": "户口本"}])
    assert response.status_code == 400
    assert "materials" in response.json()["error"]["details"]["fields"]


def test_supplement_then_accept(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:2])
    act(county, case_id, "supplement-notices")
    act(county, case_id, "supplement", materials=PLANNING_MATERIALS[2:])
    response = act(county, case_id, "accept")
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"


def test_second_notice_needs_reason(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:1])
    act(county, case_id, "supplement-notices")
    act(county, case_id, "supplement", materials=PLANNING_MATERIALS[1:])
    # The design that arrived proves incomplete: a second notice is needed.
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:2])
    response = act(county, case_id, "supplement-notices")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["details"]["fields"]


def test_second_notice_opens_one_record(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:1])
    act(county, case_id, "supplement-notices")
    act(county, case_id, "supplement", materials=PLANNING_MATERIALS[1:])
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:2])
    response = act(county, case_id, "supplement-notices", reason="设计方案页数不全")
    assert response.status_code == 201
    with county.context.db.transaction() as session:
        records = session.query(AccountabilityRecord).filter_by(case_id=case_id).all()
    assert [(r.breach, r.subject) for r in records] == [("second_notice", "2")]


def test_clock_stops_during_supplement(county: RunningNode) -> None:
    # Accepted Monday 2026-11-02 for 7 working days: due Wednesday 11-11.
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    assert case_of(county, case_id)["deadline"] == "2026-11-11"
    # A reviewer finds the design incomplete on Wednesday 11-04 ...
    clock.set_now(at("2026-11-04"))
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:2])
    act(county, case_id, "supplement-notices", reason="审查发现设计方案缺页")
    assert case_of(county, case_id)["light"] == "paused"
    # ... and it arrives Monday 11-09: Thursday, Friday and Monday did not count.
    clock.set_now(at("2026-11-09"))
    act(county, case_id, "supplement", materials=PLANNING_MATERIALS[2:])
    case = case_of(county, case_id)
    assert case["paused_working_days"] == 3
    assert case["deadline"] == "2026-11-16"


def test_no_notice_in_five_working_days_counts_from_intake(
    county: RunningNode,
) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    # Intake Monday 11-02; the sixth working day after it is Tuesday 11-10.
    clock.set_now(at("2026-11-10"))
    act(county, case_id, "intake", materials=PLANNING_MATERIALS)
    case = act(county, case_id, "accept").json()
    assert case["deemed_accepted"] is True
    assert case["deadline"] == "2026-11-11"


def test_deemed_acceptance_by_sweep(county: RunningNode) -> None:
    from node.cases.intake import accept_if_deemed

    case_id = file_case(county, "ZZ-GH-001")
    clock.set_now(at("2026-11-10"))
    context = county.context
    with context.db.transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert accept_if_deemed(context, session, case) is True
    assert case_of(county, case_id)["status"] == "accepted"


def test_no_deemed_acceptance_on_fifth_day(county: RunningNode) -> None:
    from node.cases.intake import accept_if_deemed

    case_id = file_case(county, "ZZ-GH-001")
    clock.set_now(at("2026-11-09"))
    context = county.context
    with context.db.transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert accept_if_deemed(context, session, case) is False


# --- steps and completion ---------------------------------------------------------


def test_acceptance_finishes_intake_step(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    statuses = [s["status"] for s in case_of(county, case_id)["steps"]]
    assert statuses == ["approved", "active", "pending"]


def test_step_deadline_from_own_limit(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    review = case_of(county, case_id)["steps"][1]
    assert review["deadline"] == "2026-11-06"


def test_complete_refused_before_steps_done(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    response = act(county, case_id, "complete", result="准予许可")
    assert response.status_code == 409


def test_steps_in_order_then_complete(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    act(county, case_id, "steps/1/approve", opinion="符合规划条件")
    act(county, case_id, "steps/2/approve", opinion="准予核发")
    response = act(county, case_id, "complete", result="核发许可证", handover="post")
    assert response.status_code == 200
    assert response.json()["status"] == "completed"


def test_inactive_step_cannot_be_approved(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    response = act(county, case_id, "steps/2/approve", opinion="越级审批")
    assert response.status_code == 409


def test_return_reopens_previous_step(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    act(county, case_id, "steps/1/approve", opinion="符合规划条件")
    act(county, case_id, "steps/2/return", opinion="请复核用地红线")
    statuses = [s["status"] for s in case_of(county, case_id)["steps"]]
    assert statuses == ["approved", "active", "pending"]


def test_approver_of_other_department_forbidden(county: RunningNode) -> None:
    county.add_user("water", "department_approver", department="水利局")
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    response = county.post(
        f"/api/cases/{case_id}/steps/1/approve",
        json={"opinion": "同意"},
        as_user="water",
    )
    assert response.status_code == 403


def test_immediate_matter_completed_at_window(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-MZ-003")
    act(county, case_id, "intake", materials=MARRIAGE_MATERIALS)
    detail = act(county, case_id, "accept").json()
    assert detail["steps"] == []
    response = act(county, case_id, "complete", result="准予登记")
    assert response.json()["working_days_used"] == 0


def test_handover_to_filing_node_needs_other_node(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-MZ-003", MARRIAGE_MATERIALS)
    response = act(county, case_id, "complete", result="准予", handover="filing_node")
    assert response.status_code == 400


def test_case_keeps_its_release(county: RunningNode, federation: Federation) -> None:
    from hub.catalog import load_catalog, publish

    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    city = federation.nodes[CITY].context
    content = load_catalog(city.divisions)
    for matter in content["matters"]:
        if matter["code"] == "ZZ-GH-001":
            matter["promised_limit_working_days"] = 3
    with city.db.transaction() as session:
        publish(city, session, content)
    federation.sync(rounds=2)
    case = case_of(county, case_id)
    assert case["release"] == 1
    assert case["deadline"] == "2026-11-11"


# --- joint review -------------------------------------------------------------------


@pytest.fixture
def joint_case(county: RunningNode) -> str:
    return accepted_case(county, "ZZ-FG-002", JOINT_MATERIALS)


def give_all_opinions(node: RunningNode, case_id: str, skip: str = "") -> None:
    for department in JOINT_DEPARTMENTS:
        if department != skip:
            response = act(
                node,
                case_id,
                "joint/opinions",
                department=department,
                decision="agree",
                opinion="同意",
            )
            assert response.status_code == 200, response.text


def test_joint_review_asks_every_department(
    county: RunningNode, joint_case: str
) -> None:
    review = case_of(county, joint_case)["joint_review"]
    assert [o["department"] for o in review["opinions"]] == sorted(JOINT_DEPARTMENTS)


def test_joint_opinions_due_before_minutes(
    county: RunningNode, joint_case: str
) -> None:
    # Intake, inspection and meeting take 1 + 2 + 2 working days from 11-02.
    review = case_of(county, joint_case)["joint_review"]
    assert review["opinions"][0]["deadline"] == "2026-11-09"


def test_joint_meeting_waits_for_every_opinion(
    county: RunningNode, joint_case: str
) -> None:
    give_all_opinions(county, joint_case, skip="气象局")
    response = act(county, joint_case, "joint/meeting", on="2026-11-02", outcome="通过")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["pending"] == ["气象局"]


def test_joint_case_not_completed_by_window(
    county: RunningNode, joint_case: str
) -> None:
    give_all_opinions(county, joint_case)
    response = act(county, joint_case, "complete", result="通过")
    assert response.status_code == 409


def test_joint_minutes_need_meeting(county: RunningNode, joint_case: str) -> None:
    give_all_opinions(county, joint_case)
    response = act(county, joint_case, "joint/minutes", minutes="会议纪要")
    assert response.status_code == 409


def test_joint_case_completes_with_minutes(
    county: RunningNode, joint_case: str
) -> None:
    act(county, joint_case, "joint/inspection", on="2026-11-02", note="现场踏勘")
    give_all_opinions(county, joint_case)
    act(county, joint_case, "joint/meeting", on="2026-11-02", outcome="原则通过")
    response = act(county, joint_case, "joint/minutes", minutes="同意初步设计")
    assert response.status_code == 200
    assert response.json()["status"] == "completed"


def test_department_gives_one_opinion(county: RunningNode, joint_case: str) -> None:
    body = {"department": "水利局", "decision": "agree", "opinion": "同意"}
    act(county, joint_case, "joint/opinions", **body)
    assert act(county, joint_case, "joint/opinions", **body).status_code == 409


def test_opinion_of_other_department_forbidden(
    county: RunningNode, joint_case: str
) -> None:
    county.add_user("water", "department_approver", department="水利局")
    response = county.post(
        f"/api/cases/{joint_case}/joint/opinions",
        json={"department": "气象局", "decision": "agree", "opinion": "同意"},
        as_user="water",
    )
    assert response.status_code == 403


def test_joint_timeline_names_departments(county: RunningNode, joint_case: str) -> None:
    give_all_opinions(county, joint_case)
    timeline = case_of(county, joint_case)["timeline"]
    given = [
        e["payload"]["department"]
        for e in timeline
        if e["kind"] == "joint.opinion_given"
    ]
    assert sorted(given) == sorted(JOINT_DEPARTMENTS)


def test_notice_after_acceptance_needs_reason(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:2])
    response = act(county, case_id, "supplement-notices")
    assert response.status_code == 400
    assert case_of(county, case_id)["light"] != "paused"


def test_empty_supplement_keeps_notice_open(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:1])
    act(county, case_id, "supplement-notices")
    response = act(county, case_id, "supplement", materials=[])
    assert response.status_code == 400
    assert case_of(county, case_id)["notices"][0]["resolved_at"] is None


def test_partial_supplement_keeps_clock_stopped(county: RunningNode) -> None:
    case_id = file_case(county, "ZZ-GH-001")
    act(county, case_id, "intake", materials=PLANNING_MATERIALS[:1])
    act(county, case_id, "supplement-notices")
    act(county, case_id, "supplement", materials=PLANNING_MATERIALS[1:2])
    assert case_of(county, case_id)["notices"][0]["resolved_at"] is None


def test_on_the_spot_case_gets_no_warning(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-MZ-003", MARRIAGE_MATERIALS)
    assert case_of(county, case_id)["light"] == "green"


def test_one_day_left_is_yellow(county: RunningNode) -> None:
    case_id = accepted_case(county, "ZZ-GH-001", PLANNING_MATERIALS)
    clock.set_now(at("2026-11-10"))
    from node.supervision import sweep_all

    sweep_all(COUNTY)
    assert case_of(county, case_id)["light"] == "yellow"
