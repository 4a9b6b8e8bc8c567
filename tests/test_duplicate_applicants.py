"""Possible duplicate applicants flagged at the handling node, never rejected."""

from __future__ import annotations

from stdnum.cn import ric

from tests.conftest import VALID_ID, application
from tests.federation import Browser, Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
TOWNSHIP = "350623100"
VILLAGE = "350623100207"
OTHER_VILLAGE = "350623100001"
# ZZ-MZ-001 is handled by the county for both villages.
MATTER = "ZZ-MZ-001"
OTHER_MATTER = "ZZ-CL-001"
OTHER_BIRTH_PREFIX = "35062319900101123"
OTHER_ID = OTHER_BIRTH_PREFIX + ric.calc_check_digit(OTHER_BIRTH_PREFIX)


def start_branch(federation: Federation) -> None:
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE, OTHER_VILLAGE):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)


def file(node: RunningNode, matter: str = MATTER, id_number: str = VALID_ID) -> str:
    body = application(matter)
    body["applicant"] = {"name": "张三", "id_number": id_number, "phone": "13800000000"}
    response = node.post("/api/applications", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def case_at(node: RunningNode, case_id: str) -> dict:
    response = node.get(f"/api/cases/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_two_villages_flagged(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    first = file(federation.nodes[VILLAGE])
    second = file(federation.nodes[OTHER_VILLAGE])
    federation.sync()
    assert case_at(county, first)["possible_duplicate"] is True
    assert case_at(county, first)["possible_duplicates"] == [second]
    assert case_at(county, second)["possible_duplicate"] is True
    assert case_at(county, second)["possible_duplicates"] == [first]


def test_duplicate_not_rejected(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    file(federation.nodes[VILLAGE])
    second = file(federation.nodes[OTHER_VILLAGE])
    federation.sync()
    assert case_at(county, second)["status"] == "received"
    accepted = county.post(f"/api/cases/{second}/accept")
    assert accepted.status_code == 200, accepted.text


def test_same_village_twice_flagged(federation: Federation) -> None:
    start_branch(federation)
    village, county = federation.nodes[VILLAGE], federation.nodes[COUNTY]
    first = file(village)
    second = file(village)
    federation.sync()
    assert case_at(county, second)["possible_duplicates"] == [first]


def test_other_applicant_not_flagged(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    file(federation.nodes[VILLAGE])
    second = file(federation.nodes[OTHER_VILLAGE], id_number=OTHER_ID)
    federation.sync()
    assert case_at(county, second)["possible_duplicate"] is False
    assert case_at(county, second)["possible_duplicates"] == []


def test_other_matter_not_flagged(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    file(federation.nodes[VILLAGE])
    second = file(federation.nodes[OTHER_VILLAGE], matter=OTHER_MATTER)
    federation.sync()
    assert case_at(county, second)["possible_duplicate"] is False


def test_closed_case_not_flagged(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    first = file(federation.nodes[VILLAGE])
    federation.sync()
    rejected = county.post(f"/api/cases/{first}/reject", json={"reason": "材料不齐"})
    assert rejected.status_code == 200, rejected.text
    second = file(federation.nodes[OTHER_VILLAGE])
    federation.sync()
    assert case_at(county, second)["possible_duplicate"] is False


def test_worklist_lists_duplicates(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    first = file(federation.nodes[VILLAGE])
    second = file(federation.nodes[OTHER_VILLAGE])
    federation.sync()
    rows = county.get("/api/worklists/clerk").json()
    flags = {row["case_id"]: row["possible_duplicates"] for row in rows}
    assert flags[first] == [second]
    assert flags[second] == [first]


def test_pages_show_duplicate(federation: Federation) -> None:
    start_branch(federation)
    county = federation.nodes[COUNTY]
    first = file(federation.nodes[VILLAGE])
    second = file(federation.nodes[OTHER_VILLAGE])
    federation.sync()
    browser = Browser(county)
    detail = browser.get(f"/cases/{second}")
    worklist = browser.get("/worklist")
    assert "疑似重复申请" in detail.text
    assert first in detail.text
    assert "疑似重复" in worklist.text
