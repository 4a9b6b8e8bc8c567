"""Integration: catalog down, a village case routed up and its status back."""

from __future__ import annotations

from tests.conftest import application
from tests.federation import Federation, complete_case

VILLAGE = "350623100207"
TOWNSHIP = "350623100"
COUNTY = "350623"
CITY = "350600"


def start_branch(federation: Federation) -> None:
    for code in (CITY, COUNTY, TOWNSHIP, VILLAGE):
        federation.start(code)
    federation.publish_catalog()
    federation.sync(rounds=3)


def test_catalog_reaches_village(federation: Federation) -> None:
    start_branch(federation)
    release = federation.nodes[VILLAGE].get("/api/catalog").json()
    assert release["number"] == 1


def test_county_case_status_back_at_village(federation: Federation) -> None:
    start_branch(federation)
    village, county = federation.nodes[VILLAGE], federation.nodes[COUNTY]
    filed = village.post("/api/applications", json=application("ZZ-MZ-001"))
    case_id = filed.json()["id"]
    federation.sync()
    assert county.post(f"/api/cases/{case_id}/accept").status_code == 200
    assert complete_case(county, case_id, "批准").status_code == 200
    federation.sync()
    assert village.get(f"/api/applications/{case_id}").json()["status"] == "completed"
