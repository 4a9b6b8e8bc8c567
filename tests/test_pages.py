"""HTML pages on real nodes: home, guides, proxy applications and case actions."""

from __future__ import annotations

import re

import pytest

from tests.conftest import VALID_ID, required_materials
from tests.federation import HTML, Browser, Federation, RunningNode

VILLAGE = "350623100207"
TOWNSHIP = "350623100"
COUNTY = "350623"
CITY = "350600"


@pytest.fixture
def branch(federation: Federation) -> Federation:
    """The city, 漳浦县, 绥安镇 and 炉尾村委会, with release 1 synced down."""
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)
    return federation


def application_form(**changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "matter_code": "ZZ-MZ-001",
        "applicant_name": "张三",
        "applicant_id_number": VALID_ID,
        "applicant_phone": "13800000000",
        "materials": ["个人申请书", "收入证明"],
    }
    form.update(changes)
    return form


def file_at_village(federation: Federation) -> str:
    """File a county matter with every required material and return the case id."""
    agent = Browser(federation.nodes[VILLAGE])
    agent.get("/applications?matter_code=ZZ-MZ-001")
    agent.post(
        "/applications", application_form(materials=required_materials("ZZ-MZ-001"))
    )
    return federation.nodes[VILLAGE].get("/api/applications").json()[0]["id"]


def case_status(node: RunningNode, case_id: str) -> str:
    return node.get(f"/api/cases/{case_id}").json()["status"]


# --- home ---------------------------------------------------------------------


def test_home_shows_village_identity(branch: Federation) -> None:
    page = branch.nodes[VILLAGE].get("/", headers=HTML)
    assert page.status_code == 200
    assert "炉尾村委会" in page.text
    assert VILLAGE in page.text
    assert "村级" in page.text
    assert "绥安镇（350623100）" in page.text


def test_home_shows_release_held(branch: Federation) -> None:
    page = branch.nodes[VILLAGE].get("/", headers=HTML).text
    hash_prefix = branch.nodes[VILLAGE].get("/api/catalog").json()["content_hash"][:12]
    assert "第 1 版" in page
    assert hash_prefix in page
    assert "18 项" in page


def test_home_counts_applications_and_cases(branch: Federation) -> None:
    file_at_village(branch)
    branch.sync()
    village = branch.nodes[VILLAGE].get("/", headers=HTML).text
    county = branch.nodes[COUNTY].get("/", headers=HTML).text
    applications_row = re.search(
        r"本节点报送的代办件</a></th>\s*<td[^>]*>(\d+)", village
    )
    cases_row = re.search(r"本节点办理的办件</a></th>\s*<td[^>]*>(\d+)", county)
    assert applications_row is not None
    assert applications_row.group(1) == "1"
    assert cases_row is not None
    assert cases_row.group(1) == "1"


def test_home_links_dashboard_only_on_hub(branch: Federation) -> None:
    city = branch.nodes[CITY].get("/", headers=HTML).text
    village = branch.nodes[VILLAGE].get("/", headers=HTML).text
    assert 'href="/hub"' in city
    assert 'href="/hub"' not in village


def test_home_without_release_says_so(federation: Federation) -> None:
    federation.start(CITY)
    page = federation.nodes[CITY].get("/", headers=HTML)
    assert page.status_code == 200
    assert "尚未收到标准体系版本" in page.text


# --- service guides -----------------------------------------------------------


def test_guide_index_lists_matters(city: RunningNode) -> None:
    page = city.get("/guide", headers=HTML)
    assert page.status_code == 200
    assert "事项目录" in page.text
    assert 'href="/guide/ZZ-MZ-001">最低生活保障</a>' in page.text
    assert "民政局" in page.text
    assert "即办件" in page.text
    assert "承诺件" in page.text
    assert "乡镇级" in page.text


def test_guide_shows_limits_and_materials(city: RunningNode) -> None:
    page = city.get("/guide/ZZ-MZ-001", headers=HTML)
    assert page.status_code == 200
    assert "办事指南" in page.text
    assert "30 个工作日" in page.text
    assert "25 个工作日" in page.text
    assert "二寸同版彩色证件照" in page.text
    assert "入户调查、审核（含公示）" in page.text
    assert "苏民规〔2020〕5号" in page.text


def test_guide_shows_dash_for_unknown_counts(city: RunningNode) -> None:
    page = city.get("/guide/ZZ-MZ-001", headers=HTML).text
    row = re.search(
        r"<td>收入证明</td>\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)", page
    )
    assert row is not None
    assert row.groups() == ("—", "—")


def test_guide_notes_assumed_fields(city: RunningNode) -> None:
    page = city.get("/guide/ZZ-NY-001", headers=HTML).text
    assert "以下字段为管理员补充" in page
    assert "法定办结时限、承诺办结时限、申请材料、各环节时限" in page


def test_guide_without_assumed_fields_has_no_note(city: RunningNode) -> None:
    page = city.get("/guide/ZZ-WJ-001", headers=HTML).text
    assert "管理员补充" not in page


def test_guide_shows_joint_departments(city: RunningNode) -> None:
    page = city.get("/guide/ZZ-NY-001", headers=HTML).text
    assert "联办部门" in page
    assert "农业农村办、自然资源所" in page


def test_guide_shows_delegation_region(city: RunningNode) -> None:
    page = city.get("/guide/ZZ-MZ-002", headers=HTML).text
    row = re.search(
        r"<td>绥安镇</td>\s*<td[^>]*>350623100</td>\s*<td>([^<]*)</td>", page
    )
    assert row is not None
    assert row.group(1) == "乡镇级"


def test_guide_of_unknown_matter_is_404(city: RunningNode) -> None:
    page = city.get("/guide/NO-SUCH-MATTER", headers=HTML)
    assert page.status_code == 404
    assert "未找到" in page.text
    assert "NO-SUCH-MATTER" in page.text


def test_guide_at_village_names_handler(branch: Federation) -> None:
    page = branch.nodes[VILLAGE].get("/guide/ZZ-MZ-001", headers=HTML).text
    assert "由漳浦县（350623）办理" in page


# --- proxy applications -------------------------------------------------------


def test_applications_page_offers_matters(branch: Federation) -> None:
    page = Browser(branch.nodes[VILLAGE]).get("/applications")
    assert page.status_code == 200
    assert "最低生活保障（ZZ-MZ-001）→ 漳浦县" in page.text
    assert "社会保障卡补办（ZZ-RS-001）→ 漳州市" in page.text
    assert "林木采伐许可证核发（000164213003）→ 漳浦县" in page.text


def test_applications_form_lists_materials(branch: Federation) -> None:
    agent = Browser(branch.nodes[VILLAGE])
    page = agent.get("/applications?matter_code=ZZ-MZ-001")
    assert 'name="materials" value="二寸同版彩色证件照"' in page.text
    assert agent.token != ""


def test_county_cannot_file_township_matter(branch: Federation) -> None:
    page = Browser(branch.nodes[COUNTY]).get("/applications").text
    assert "ZZ-CL-001" in page
    assert "ZZ-WJ-001" not in page


def test_unfileable_matter_in_link_is_named(branch: Federation) -> None:
    page = Browser(branch.nodes[COUNTY]).get("/applications?matter_code=ZZ-WJ-001")
    assert page.status_code == 200
    assert "该事项不在本节点可报送的事项中" in page.text
    assert 'name="applicant_name"' not in page.text


def test_post_without_csrf_token_is_rejected(branch: Federation) -> None:
    village = branch.nodes[VILLAGE]
    response = village.post("/applications", data=application_form(), headers=HTML)
    assert response.status_code == 400
    assert village.get("/api/applications").json() == []


def test_post_with_wrong_csrf_token_is_rejected(branch: Federation) -> None:
    agent = Browser(branch.nodes[VILLAGE])
    agent.get("/applications")
    agent.token = "forged"
    response = agent.post("/applications", application_form())
    assert response.status_code == 400
    assert branch.nodes[VILLAGE].get("/api/applications").json() == []


def test_valid_form_files_application(branch: Federation) -> None:
    village = branch.nodes[VILLAGE]
    agent = Browser(village)
    agent.get("/applications?matter_code=ZZ-MZ-001")
    response = agent.post("/applications", application_form())
    filed = village.get("/api/applications").json()
    assert response.status_code == 303
    assert len(filed) == 1
    assert filed[0]["handler_code"] == COUNTY
    assert filed[0]["materials"] == ["个人申请书", "收入证明"]


def test_filed_application_is_listed(branch: Federation) -> None:
    agent = Browser(branch.nodes[VILLAGE])
    agent.get("/applications?matter_code=ZZ-MZ-001")
    agent.post("/applications", application_form())
    case_id = branch.nodes[VILLAGE].get("/api/applications").json()[0]["id"]
    page = agent.get("/applications").text
    assert f"已提交代办件 {case_id}" in page
    assert f'<a href="/applications/{case_id}">{case_id}</a>' in page
    assert "已报送" in page


def test_invalid_id_number_reshows_form(branch: Federation) -> None:
    agent = Browser(branch.nodes[VILLAGE])
    agent.get("/applications?matter_code=ZZ-MZ-001")
    form = application_form(applicant_id_number="110105194912310021")
    response = agent.post("/applications", form)
    assert response.status_code == 400
    assert "身份证号码有误" in response.text
    assert 'value="张三"' in response.text
    assert branch.nodes[VILLAGE].get("/api/applications").json() == []


def test_missing_fields_are_named(branch: Federation) -> None:
    agent = Browser(branch.nodes[VILLAGE])
    agent.get("/applications?matter_code=ZZ-MZ-001")
    form = application_form(applicant_name="", applicant_phone=" ")
    response = agent.post("/applications", form)
    assert response.status_code == 400
    assert "请填写申请人姓名" in response.text
    assert "请填写联系电话" in response.text


def test_unknown_material_is_rejected(branch: Federation) -> None:
    agent = Browser(branch.nodes[VILLAGE])
    agent.get("/applications?matter_code=ZZ-MZ-001")
    response = agent.post("/applications", application_form(materials=["结婚证"]))
    assert response.status_code == 400
    assert "申请材料有误" in response.text
    assert branch.nodes[VILLAGE].get("/api/applications").json() == []


def test_matter_below_node_tier_is_rejected(branch: Federation) -> None:
    agent = Browser(branch.nodes[COUNTY])
    agent.get("/applications?matter_code=ZZ-CL-001")
    response = agent.post(
        "/applications", application_form(matter_code="ZZ-WJ-001", materials=[])
    )
    assert response.status_code == 400
    assert "办理事项有误" in response.text
    assert branch.nodes[COUNTY].get("/api/applications").json() == []


# --- cases --------------------------------------------------------------------


def test_cases_page_lists_received_case(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    page = Browser(branch.nodes[COUNTY]).get("/cases")
    assert page.status_code == 200
    assert case_id in page.text
    assert "最低生活保障" in page.text
    assert "炉尾村委会" in page.text
    assert "已收件" in page.text


def test_accept_and_complete_reach_village(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    clerk = Browser(branch.nodes[COUNTY])
    clerk.get("/cases")
    accepted = clerk.post(f"/cases/{case_id}/accept", {})
    for position in (1, 2):
        approved = clerk.post(
            f"/cases/{case_id}/steps/{position}/approve", {"opinion": "同意"}
        )
        assert approved.status_code == 303, position
    completed = clerk.post(
        f"/cases/{case_id}/complete", {"result": "准予低保", "handover": "filing_node"}
    )
    branch.sync()
    village_page = Browser(branch.nodes[VILLAGE]).get("/applications").text
    assert accepted.status_code == 303
    assert completed.status_code == 303
    assert case_status(branch.nodes[COUNTY], case_id) == "completed"
    assert "已办结" in village_page
    assert "准予低保（送回报送网点）" in village_page


def test_accept_sets_deadline_on_page(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    clerk = Browser(branch.nodes[COUNTY])
    clerk.get("/cases")
    clerk.post(f"/cases/{case_id}/accept", {})
    deadline = branch.nodes[COUNTY].get(f"/api/cases/{case_id}").json()["deadline"]
    detail = clerk.get(f"/cases/{case_id}").text
    listed = clerk.get("/cases").text
    assert f"办件 {case_id} 已受理" in detail
    assert deadline in detail
    assert deadline in listed


def test_reject_records_reason(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    clerk = Browser(branch.nodes[COUNTY])
    clerk.get("/cases")
    response = clerk.post(f"/cases/{case_id}/reject", {"reason": "缺少收入证明原件"})
    branch.sync()
    village_page = Browser(branch.nodes[VILLAGE]).get("/applications").text
    assert response.status_code == 303
    assert case_status(branch.nodes[COUNTY], case_id) == "rejected"
    assert "缺少收入证明原件" in village_page


def test_reject_without_reason_changes_nothing(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    clerk = Browser(branch.nodes[COUNTY])
    clerk.get("/cases")
    response = clerk.post(f"/cases/{case_id}/reject", {"reason": "  "})
    assert response.status_code == 400
    assert "请填写不予受理理由" in response.text
    assert case_status(branch.nodes[COUNTY], case_id) == "received"


def test_accept_twice_is_conflict(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    clerk = Browser(branch.nodes[COUNTY])
    clerk.get("/cases")
    clerk.post(f"/cases/{case_id}/accept", {})
    response = clerk.post(f"/cases/{case_id}/accept", {})
    assert response.status_code == 409
    assert "办件当前状态为「已受理」，不能执行此操作" in response.text


def test_case_action_without_csrf_token_is_rejected(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    county = branch.nodes[COUNTY]
    response = county.post(f"/cases/{case_id}/accept", headers=HTML)
    assert response.status_code == 400
    assert case_status(county, case_id) == "received"


def test_action_on_unknown_case_is_404(branch: Federation) -> None:
    clerk = Browser(branch.nodes[COUNTY])
    clerk.get("/applications?matter_code=ZZ-CL-001")  # any page with a form
    response = clerk.post("/cases/350623-999999/accept", {})
    assert response.status_code == 404


def test_cases_filter_by_status(branch: Federation) -> None:
    case_id = file_at_village(branch)
    branch.sync()
    clerk = Browser(branch.nodes[COUNTY])
    assert case_id in clerk.get("/cases?status=received").text
    assert case_id not in clerk.get("/cases?status=accepted").text


def test_cases_bad_status_filter_is_400(branch: Federation) -> None:
    page = Browser(branch.nodes[COUNTY]).get("/cases?status=lost")
    assert page.status_code == 400


def test_sync_status_page_shows_links(branch: Federation) -> None:
    page = branch.nodes[TOWNSHIP].get("/sync-status", headers=HTML)
    assert page.status_code == 200
    assert "同步状态" in page.text
    assert "漳浦县（350623）" in page.text
