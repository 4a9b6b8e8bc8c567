"""Case pages on real nodes: a clerk, approvers and a lead department at work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from common import clock
from common.models import Case, SupplementNotice
from node import tickets, windows
from node.auth import get_user
from tests.conftest import VALID_ID, at
from tests.federation import HTML, Browser, Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
TOWNSHIP = "350623100"
VILLAGE = "350623100207"
PLANNING = "ZZ-GH-001"
JOINT = "ZZ-FG-002"
# The materials of ZZ-GH-001 in the order of its standard, which numbers the
# rows of the intake form.
PLANNING_MATERIALS = [
    "建设工程规划许可申请表",
    "建设用地规划许可证",
    "建设工程设计方案",
]
# Every material that ZZ-GH-001 requires, as intake form fields.
COMPLETE_INTAKE = {
    "intake-0-originals": "1",
    "intake-1-copies": "1",
    "intake-2-originals": "1",
}
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
    """A county with release 1 and its users, on Monday 2026-11-02."""
    clock.set_now(at("2026-11-02"))
    federation.start(CITY)
    node = federation.start(COUNTY)
    federation.publish_catalog()
    federation.sync(rounds=2)
    node.add_user("clerk", "window_clerk", department="自然资源局")
    node.add_user("planner", "department_approver", department="自然资源局")
    node.add_user("water", "department_approver", department="水利局")
    node.add_user("builder", "department_approver", department="住房和城乡建设局")
    node.add_user("watcher", "supervisor")
    yield node
    clock.reset()


def application_form(matter_code: str, materials: list[str]) -> dict[str, object]:
    return {
        "matter_code": matter_code,
        "applicant_name": "张三",
        "applicant_id_number": VALID_ID,
        "applicant_phone": "13800000000",
        "materials": materials,
    }


def file_at_window(
    clerk: Browser, matter_code: str = PLANNING, materials: list[str] | None = None
) -> str:
    """File a walk-in applicant's case through the form and return the case id."""
    clerk.get(f"/applications?matter_code={matter_code}")
    form = application_form(matter_code, materials or PLANNING_MATERIALS[:2])
    response = clerk.post("/applications", form)
    assert response.status_code == 303, response.text
    return response.headers["Location"].rsplit("/", 1)[1]


def case_of(node: RunningNode, case_id: str) -> dict[str, Any]:
    return node.get(f"/api/cases/{case_id}").json()


def submit(
    browser: Browser, case_id: str, action: str, form: dict
) -> requests.Response:
    """Open the case page for its token, then post one of its forms."""
    browser.get(f"/cases/{case_id}")
    return browser.post(f"/cases/{case_id}/{action}", form)


def accepted_case(clerk: Browser) -> str:
    case_id = file_at_window(clerk)
    assert submit(clerk, case_id, "intake", COMPLETE_INTAKE).status_code == 303
    assert submit(clerk, case_id, "accept", {}).status_code == 303
    return case_id


# --- intake, supplement notice, acceptance ---------------------------------------


def test_window_filing_opens_case_page(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    page = clerk.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert "已收件" in page.text
    assert 'name="intake-2-originals"' in page.text
    assert "建设工程规划许可证核发" in page.text


def test_intake_names_missing_material(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    form = {"intake-0-originals": "1", "intake-1-copies": "1"}
    response = submit(clerk, case_id, "intake", form)
    page = clerk.get(f"/cases/{case_id}").text
    assert response.status_code == 303
    assert "缺少：建设工程设计方案（未提交）" in page
    assert "开具一次性告知书（停止计时）" in page


def test_intake_short_count_is_named(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    form = {"intake-0-originals": "0", "intake-0-copies": "1", "intake-1-copies": "1"}
    form["intake-2-originals"] = "1"
    submit(clerk, case_id, "intake", form)
    page = clerk.get(f"/cases/{case_id}").text
    assert "建设工程规划许可申请表（原件需 1 份，收到 0 份）" in page


def test_printed_notice_lists_missing_material(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    submit(
        clerk, case_id, "intake", {"intake-0-originals": "1", "intake-1-copies": "1"}
    )
    response = submit(clerk, case_id, "notices", {})
    notice = clerk.get(f"/cases/{case_id}/notices/1")
    assert response.status_code == 303
    assert notice.status_code == 200
    assert "一次性告知书" in notice.text
    assert "漳浦县" in notice.text
    assert case_id in notice.text
    assert "张三" in notice.text
    assert "建设工程规划许可证核发" in notice.text
    assert "2026 年 11 月 2 日" in notice.text
    assert "<td>建设工程设计方案</td>" in notice.text
    assert "未提交" in notice.text
    assert "办理时限停止计算" in notice.text
    assert "@media print" in notice.text
    assert "建设用地规划许可证" not in notice.text


def test_case_paused_during_supplement(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    submit(
        clerk, case_id, "intake", {"intake-0-originals": "1", "intake-1-copies": "1"}
    )
    submit(clerk, case_id, "notices", {})
    page = clerk.get(f"/cases/{case_id}").text
    assert "补正中（停止计时）" in page
    assert 'name="supplement-2-originals"' in page
    assert 'name="supplement-0-originals"' not in page


def test_materials_arrive_then_accept(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    submit(
        clerk, case_id, "intake", {"intake-0-originals": "1", "intake-1-copies": "1"}
    )
    submit(clerk, case_id, "notices", {})
    clock.set_now(at("2026-11-04"))
    arrived = submit(clerk, case_id, "supplement", {"supplement-2-originals": "1"})
    accepted = submit(clerk, case_id, "accept", {})
    case = case_of(county, case_id)
    assert arrived.status_code == 303
    assert accepted.status_code == 303
    assert case["status"] == "accepted"
    assert case["paused_working_days"] == 2
    assert f"办件 {case_id} 已受理" in clerk.get(f"/cases/{case_id}").text


def test_accept_with_missing_material_is_409(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    submit(
        clerk, case_id, "intake", {"intake-0-originals": "1", "intake-1-copies": "1"}
    )
    response = submit(clerk, case_id, "accept", {})
    assert response.status_code == 409
    assert "缺少必需材料（建设工程设计方案）" in response.text
    assert "请开具一次性告知书，或不予受理" in response.text
    assert case_of(county, case_id)["status"] == "received"


def test_notice_without_missing_material_is_409(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    submit(clerk, case_id, "intake", COMPLETE_INTAKE)
    response = submit(clerk, case_id, "notices", {})
    assert response.status_code == 409
    assert "无需补正告知，请直接受理" in response.text
    assert case_of(county, case_id)["supplement_notices"] == 0


def test_reject_records_reason(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    response = submit(clerk, case_id, "reject", {"reason": "不属于本中心受理范围"})
    case = case_of(county, case_id)
    assert response.status_code == 303
    assert case["status"] == "rejected"
    assert case["reason"] == "不属于本中心受理范围"


# --- steps and completion ----------------------------------------------------------


def test_approver_approves_each_step(county: RunningNode) -> None:
    case_id = accepted_case(Browser(county, user="clerk"))
    planner = Browser(county, user="planner")
    page = planner.get(f"/cases/{case_id}").text
    first = submit(planner, case_id, "steps/1/approve", {"opinion": "符合规划条件"})
    second = submit(planner, case_id, "steps/2/approve", {"opinion": "准予核发"})
    steps = case_of(county, case_id)["steps"]
    assert "审批通过" in page
    assert first.status_code == 303
    assert second.status_code == 303
    assert [s["status"] for s in steps] == ["approved", "approved", "approved"]
    assert steps[1]["opinion"] == "符合规划条件"


def test_clerk_completes_after_steps(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = accepted_case(clerk)
    planner = Browser(county, user="planner")
    submit(planner, case_id, "steps/1/approve", {"opinion": "符合规划条件"})
    submit(planner, case_id, "steps/2/approve", {"opinion": "准予核发"})
    form = {"result": "核发建设工程规划许可证", "handover": "post"}
    response = submit(clerk, case_id, "complete", form)
    case = case_of(county, case_id)
    page = clerk.get(f"/cases/{case_id}").text
    assert response.status_code == 303
    assert case["status"] == "completed"
    assert case["handover"] == "post"
    assert "邮寄送达" in page
    assert "办结" in page


def test_return_reopens_previous_step(county: RunningNode) -> None:
    case_id = accepted_case(Browser(county, user="clerk"))
    planner = Browser(county, user="planner")
    submit(planner, case_id, "steps/1/approve", {"opinion": "符合规划条件"})
    response = submit(planner, case_id, "steps/2/return", {"opinion": "请复核用地红线"})
    statuses = [s["status"] for s in case_of(county, case_id)["steps"]]
    assert response.status_code == 303
    assert statuses == ["approved", "active", "pending"]


def test_complete_before_steps_is_409(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = accepted_case(clerk)
    response = submit(clerk, case_id, "complete", {"result": "核发许可证"})
    assert response.status_code == 409
    assert "办件尚在第 2 环节" in response.text
    assert case_of(county, case_id)["status"] == "accepted"


def test_inactive_step_is_409(county: RunningNode) -> None:
    case_id = accepted_case(Browser(county, user="clerk"))
    planner = Browser(county, user="planner")
    response = submit(planner, case_id, "steps/2/approve", {"opinion": "越级审批"})
    assert response.status_code == 409
    assert "第 3 环节当前为「待办」" in response.text


def test_timeline_has_chinese_labels(county: RunningNode) -> None:
    case_id = accepted_case(Browser(county, user="clerk"))
    page = Browser(county, user="planner").get(f"/cases/{case_id}").text
    assert "<td>收件</td>" in page
    assert "<td>受理</td>" in page
    assert "第 2 环节「审查」" in page


# --- joint review --------------------------------------------------------------------


def joint_case(clerk: Browser) -> str:
    materials = ["初步设计文件", "项目建议书批复"]
    case_id = file_at_window(clerk, JOINT, materials)
    intake = {"intake-0-originals": "1", "intake-1-copies": "1"}
    assert submit(clerk, case_id, "intake", intake).status_code == 303
    assert submit(clerk, case_id, "accept", {}).status_code == 303
    return case_id


def opinion_form(department: str) -> dict[str, str]:
    return {"department": department, "decision": "agree", "opinion": "同意"}


def test_joint_case_through_minutes(county: RunningNode) -> None:
    case_id = joint_case(Browser(county, user="clerk"))
    lead = Browser(county, user="builder")
    staff = Browser(county)
    inspection = submit(lead, case_id, "joint/inspection", {"on": "2026-11-02"})
    for department in JOINT_DEPARTMENTS:
        opinion = submit(staff, case_id, "joint/opinions", opinion_form(department))
        assert opinion.status_code == 303, department
    meeting = {"on": "2026-11-02", "outcome": "原则通过"}
    meeting_recorded = submit(lead, case_id, "joint/meeting", meeting)
    minutes = {"minutes": "同意初步设计", "handover": "window"}
    recorded = submit(lead, case_id, "joint/minutes", minutes)
    case = case_of(county, case_id)
    assert inspection.status_code == 303
    assert meeting_recorded.status_code == 303
    assert recorded.status_code == 303
    assert case["status"] == "completed"
    assert case["joint_review"]["minutes"] == "同意初步设计"


def test_opinion_form_only_for_own_department(county: RunningNode) -> None:
    case_id = joint_case(Browser(county, user="clerk"))
    page = Browser(county, user="water").get(f"/cases/{case_id}").text
    assert "提交水利局意见" in page
    assert "提交气象局意见" not in page
    assert "记录联合会审" not in page


def test_meeting_before_opinions_is_409(county: RunningNode) -> None:
    case_id = joint_case(Browser(county, user="clerk"))
    lead = Browser(county, user="builder")
    meeting = {"on": "2026-11-02", "outcome": "原则通过"}
    response = submit(lead, case_id, "joint/meeting", meeting)
    assert response.status_code == 409
    assert "出具联审意见" in response.text
    assert case_of(county, case_id)["joint_review"]["meeting_on"] is None


def test_opinion_for_other_department_is_403(county: RunningNode) -> None:
    case_id = joint_case(Browser(county, user="clerk"))
    water = Browser(county, user="water")
    response = submit(water, case_id, "joint/opinions", opinion_form("气象局"))
    opinions = case_of(county, case_id)["joint_review"]["opinions"]
    assert response.status_code == 403
    assert "只能由气象局办理" in response.text
    assert all(o["decision"] is None for o in opinions)


# --- roles, bad input, CSRF --------------------------------------------------------


def test_user_without_role_gets_403(county: RunningNode) -> None:
    case_id = file_at_window(Browser(county, user="clerk"))
    submit(Browser(county, user="clerk"), case_id, "intake", COMPLETE_INTAKE)
    watcher = Browser(county, user="watcher")
    response = submit(watcher, case_id, "accept", {})
    assert response.status_code == 403
    assert "无权进行此操作" in response.text
    assert case_of(county, case_id)["status"] == "received"


def test_approver_of_other_department_gets_403(county: RunningNode) -> None:
    case_id = accepted_case(Browser(county, user="clerk"))
    water = Browser(county, user="water")
    page = water.get(f"/cases/{case_id}").text
    response = water.post(f"/cases/{case_id}/steps/1/approve", {"opinion": "同意"})
    assert 'name="opinion"' not in page
    assert response.status_code == 403
    assert case_of(county, case_id)["steps"][1]["status"] == "active"


def test_bad_count_is_400(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    form = dict(COMPLETE_INTAKE, **{"intake-2-originals": "三"})
    response = submit(clerk, case_id, "intake", form)
    assert response.status_code == 400
    assert "请填写 0 至 99 的整数份数" in response.text
    assert 'value="三"' in response.text
    with county.context.db.transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.materials_checked is None


def test_second_notice_without_reason_is_400(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk, materials=PLANNING_MATERIALS[:1])
    submit(clerk, case_id, "intake", {"intake-0-originals": "1"})
    submit(clerk, case_id, "notices", {})
    arrived = {"supplement-1-copies": "1", "supplement-2-originals": "1"}
    submit(clerk, case_id, "supplement", arrived)
    # The design that arrived proves incomplete at a second check.
    submit(
        clerk, case_id, "intake", {"intake-0-originals": "1", "intake-1-copies": "1"}
    )
    page = clerk.get(f"/cases/{case_id}").text
    response = submit(clerk, case_id, "notices", {"reason": " "})
    assert "将生成问责记录" in page
    assert response.status_code == 400
    assert "必须填写原因" in response.text
    with county.context.db.transaction() as session:
        notices = session.query(SupplementNotice).filter_by(case_id=case_id).count()
    assert notices == 1


def test_step_without_opinion_is_400(county: RunningNode) -> None:
    case_id = accepted_case(Browser(county, user="clerk"))
    planner = Browser(county, user="planner")
    response = submit(planner, case_id, "steps/1/approve", {"opinion": ""})
    assert response.status_code == 400
    assert "请填写审批意见" in response.text
    assert case_of(county, case_id)["steps"][1]["status"] == "active"


def test_window_case_filing_node_handover_400(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk, "ZZ-MZ-003", ["本人常住户口簿", "居民身份证"])
    intake = {"intake-0-originals": "1", "intake-1-originals": "1"}
    intake["intake-2-originals"] = "3"
    submit(clerk, case_id, "intake", intake)
    submit(clerk, case_id, "accept", {})
    form = {"result": "准予登记", "handover": "filing_node"}
    response = submit(clerk, case_id, "complete", form)
    assert response.status_code == 400
    assert "只有在其他网点报送的办件才能送回报送网点" in response.text
    assert case_of(county, case_id)["status"] == "accepted"


def test_reject_without_reason_is_400(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    response = submit(clerk, case_id, "reject", {"reason": "  "})
    assert response.status_code == 400
    assert "请填写不予受理理由" in response.text
    assert case_of(county, case_id)["status"] == "received"


def test_missing_csrf_token_is_400(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    clerk.token = ""
    response = clerk.post(f"/cases/{case_id}/intake", COMPLETE_INTAKE)
    assert response.status_code == 400
    with county.context.db.transaction() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.materials_checked is None


def test_unknown_case_is_404(county: RunningNode) -> None:
    page = Browser(county, user="clerk").get("/cases/350623-999999")
    assert page.status_code == 404
    assert "本中心没有办件 350623-999999" in page.text


# --- the case list -------------------------------------------------------------------


def test_case_list_shows_light_and_step(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = accepted_case(clerk)
    page = clerk.get("/cases").text
    assert f'href="/cases/{case_id}"' in page
    assert "绿灯" in page
    assert "2. 审查" in page
    assert "自然资源局" in page
    assert "2026-11-11" in page


def test_case_list_filters_by_light(county: RunningNode) -> None:
    clerk = Browser(county, user="clerk")
    case_id = file_at_window(clerk)
    submit(
        clerk, case_id, "intake", {"intake-0-originals": "1", "intake-1-copies": "1"}
    )
    submit(clerk, case_id, "notices", {})
    assert case_id in clerk.get("/cases?light=paused").text
    assert case_id not in clerk.get("/cases?light=green").text


def test_case_list_bad_light_is_400(county: RunningNode) -> None:
    page = Browser(county, user="clerk").get("/cases?light=blue")
    assert page.status_code == 400
    assert "筛选条件有误" in page.text


# --- queue tickets at the window ---------------------------------------------------


def called_ticket(node: RunningNode) -> int:
    """Open a window for the clerk and call one ticket there; return its id."""
    context = node.context
    with context.db.transaction() as session:
        window = windows.create_window(
            session,
            {"name": "3号窗口", "department": "自然资源局", "categories": ["规划"]},
        )
        windows.assign_clerk(session, window.id, "clerk")
        tickets.take_ticket(context, session, "规划")
    with context.db.transaction() as session:
        return tickets.call_next(context, session, get_user(session, "clerk")).id


def test_ticket_field_carried_into_form(county: RunningNode) -> None:
    ticket_id = called_ticket(county)
    clerk = Browser(county, user="clerk")
    page = clerk.get(f"/applications?ticket_id={ticket_id}&matter_code={PLANNING}")
    assert f'name="ticket_id" value="{ticket_id}"' in page.text


def test_ticket_links_filed_case(county: RunningNode) -> None:
    ticket_id = called_ticket(county)
    clerk = Browser(county, user="clerk")
    clerk.get(f"/applications?ticket_id={ticket_id}&matter_code={PLANNING}")
    form = dict(application_form(PLANNING, PLANNING_MATERIALS), ticket_id=ticket_id)
    response = clerk.post("/applications", form)
    case_id = response.headers["Location"].rsplit("/", 1)[1]
    assert response.status_code == 303
    assert case_of(county, case_id)["ticket_id"] == ticket_id


def test_ticket_of_another_clerk_is_400(county: RunningNode) -> None:
    ticket_id = called_ticket(county)
    staff = Browser(county)
    staff.get(f"/applications?ticket_id={ticket_id}&matter_code={PLANNING}")
    form = dict(application_form(PLANNING, PLANNING_MATERIALS), ticket_id=ticket_id)
    response = staff.post("/applications", form)
    assert response.status_code == 400
    assert "排队号有误" in response.text
    assert county.get("/api/applications").json() == []


# --- the filing node -----------------------------------------------------------------


@pytest.fixture
def branch(federation: Federation) -> Iterator[Federation]:
    """The city, 漳浦县, 绥安镇 and 炉尾村委会 with release 1, on Monday 2026-11-02."""
    clock.set_now(at("2026-11-02"))
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)
    yield federation
    clock.reset()


def file_at_village(federation: Federation) -> str:
    agent = Browser(federation.nodes[VILLAGE])
    agent.get(f"/applications?matter_code={PLANNING}")
    response = agent.post(
        "/applications", application_form(PLANNING, ["建设工程规划许可申请表"])
    )
    assert response.status_code == 303
    federation.sync()
    return federation.nodes[VILLAGE].get("/api/applications").json()[0]["id"]


def test_village_sees_materials_to_bring(branch: Federation) -> None:
    case_id = file_at_village(branch)
    clerk = Browser(branch.nodes[COUNTY])
    submit(clerk, case_id, "intake", {"intake-0-originals": "1"})
    submit(clerk, case_id, "notices", {})
    branch.sync()
    agent = Browser(branch.nodes[VILLAGE])
    listed = agent.get("/applications").text
    detail = agent.get(f"/applications/{case_id}")
    assert "需补正：</strong>建设用地规划许可证、建设工程设计方案" in listed
    assert detail.status_code == 200
    assert "需要补正的材料" in detail.text
    assert "<td>建设工程设计方案</td>" in detail.text


def test_village_sees_result_coming_back(branch: Federation) -> None:
    case_id = file_at_village(branch)
    county = branch.nodes[COUNTY]
    clerk = Browser(county)
    submit(clerk, case_id, "intake", COMPLETE_INTAKE)
    submit(clerk, case_id, "accept", {})
    submit(clerk, case_id, "steps/1/approve", {"opinion": "符合规划条件"})
    submit(clerk, case_id, "steps/2/approve", {"opinion": "准予核发"})
    form = {"result": "核发许可证", "handover": "filing_node"}
    completed = submit(clerk, case_id, "complete", form)
    branch.sync()
    detail = Browser(branch.nodes[VILLAGE]).get(f"/applications/{case_id}").text
    assert completed.status_code == 303
    assert "已办结" in detail
    assert "核发许可证" in detail
    assert "送回报送网点" in detail
    assert "请通知申请人前来领取" in detail


def test_unknown_application_is_404(branch: Federation) -> None:
    page = Browser(branch.nodes[VILLAGE]).get("/applications/350623100207-999999")
    assert page.status_code == 404
    assert "本节点没有报送过办件" in page.text


def test_case_page_needs_sign_in(county: RunningNode) -> None:
    response = requests.get(
        county.url + "/cases", headers=HTML, allow_redirects=False, timeout=30
    )
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
