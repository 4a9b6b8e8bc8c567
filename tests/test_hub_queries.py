"""Bad queries to the hub and sync endpoints name the field; the city's own row."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from common.models import Link
from hub.rollup_models import HotlineRollup
from sync.auth import signed_headers
from tests.federation import HTML, Federation, RunningNode, stand_in

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"


def error_fields(response: requests.Response) -> dict:
    return response.json()["error"]["details"]["fields"]


# --- the dashboard's query ----------------------------------------------------


def test_page_reversed_months_named(city: RunningNode) -> None:
    query = {"month_from": "2026-12", "month_to": "2026-01"}
    page = city.get("/hub", params=query, headers=HTML)
    assert "截止月份（month_to）不能早于起始月份" in page.text


def test_page_bad_grouping_named(city: RunningNode) -> None:
    page = city.get("/hub", params={"by": "bogus"}, headers=HTML)
    assert "分组方式（by）" in page.text


def test_page_unknown_parameter_named(city: RunningNode) -> None:
    page = city.get("/hub", params={"foo": "1"}, headers=HTML)
    assert "查询条件（foo）不是此页面的查询条件" in page.text


def test_page_unknown_county_named(city: RunningNode) -> None:
    page = city.get("/hub", params={"county": "350699"}, headers=HTML)
    assert "县（市、区）（county）" in page.text


def test_page_bad_query_status(city: RunningNode) -> None:
    page = city.get("/hub", params={"by": "bogus"}, headers=HTML)
    assert page.status_code == 400


def test_page_hotline_kinds_in_chinese(city: RunningNode) -> None:
    with city.context.db.transaction() as session:
        session.add(
            HotlineRollup(month="2026-11", county_code=COUNTY, kind="consultation")
        )
    page = city.get("/hub", headers=HTML)
    assert "<td>咨询</td>" in page.text


def test_api_hotline_label(city: RunningNode) -> None:
    with city.context.db.transaction() as session:
        session.add(HotlineRollup(month="2026-11", county_code=COUNTY, kind="report"))
    hotline = city.get("/api/hub/rollups").json()["hotline"]
    assert hotline == [
        {
            "kind": "report",
            "label": "举报",
            "tickets": 0,
            "replied": 0,
            "reply_seconds": 0,
            "average_reply_hours": None,
        }
    ]


# --- unknown parameters of the APIs --------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/hub/metrics", "county"),
        ("/api/hub/entry-rates", "county"),
        ("/api/hub/rollups", "foo"),
    ],
)
def test_api_unknown_parameter(city: RunningNode, path: str, name: str) -> None:
    response = city.get(path, params={name: "abc"})
    assert name in error_fields(response)


def test_api_unknown_parameter_status(city: RunningNode) -> None:
    assert city.get("/api/hub/metrics", params={"county": "abc"}).status_code == 400


def test_rollups_village_handler_rejected(city: RunningNode) -> None:
    response = city.get("/api/hub/rollups", params={"handler": VILLAGE})
    assert "village" in error_fields(response)["handler"][0]


# --- the city's own row ----------------------------------------------------------


def test_metrics_city_row_code(city: RunningNode) -> None:
    by_county = city.get("/api/hub/metrics").json()["by_county"]
    assert by_county[0]["county_code"] == CITY


def test_rollups_city_row_code(city: RunningNode) -> None:
    rows = city.get("/api/hub/rollups").json()["rows"]
    assert [row["key"] for row in rows if row["label"] == "市本级"] == [CITY]


def test_rollups_city_row_drills_down(city: RunningNode) -> None:
    rows = city.get("/api/hub/rollups").json()["rows"]
    own = next(row for row in rows if row["key"] == CITY)
    assert own["drill"] == {"county": CITY, "by": "handler"}


def test_entry_rates_city_row_code(city: RunningNode) -> None:
    rows = city.get("/api/hub/entry-rates").json()
    assert rows[0]["county_code"] == CITY


# --- key revocation --------------------------------------------------------------


def test_revoke_unknown_division_rejected(city: RunningNode) -> None:
    response = city.post("/api/sync/revocations", json={"code": "999999999999"})
    assert response.status_code == 400


def test_revoke_unknown_division_names_code(city: RunningNode) -> None:
    response = city.post("/api/sync/revocations", json={"code": "999999999999"})
    assert "not a division code" in error_fields(response)["code"][0]


def test_revoke_outside_subtree_names_code(federation: Federation) -> None:
    federation.start(CITY)
    county = federation.start(COUNTY)
    response = county.post("/api/sync/revocations", json={"code": "350602001"})
    assert "subtree" in error_fields(response)["code"][0]


# --- release pieces ------------------------------------------------------------


def signed_get(node: RunningNode, path: str) -> requests.Response:
    headers = signed_headers(stand_in(node, COUNTY), "GET", path, b"")  # type: ignore[arg-type]
    return requests.get(node.url + path, headers=headers, timeout=30)


@pytest.mark.parametrize("index", ["-1", "abc", "99999999999"])
def test_piece_bad_index_named(city: RunningNode, index: str) -> None:
    size = city.context.config.release_piece_size
    response = signed_get(city, f"/sync/releases/1/pieces/{index}?piece_size={size}")
    assert "index" in error_fields(response)


def test_piece_bad_index_status(city: RunningNode) -> None:
    size = city.context.config.release_piece_size
    response = signed_get(city, f"/sync/releases/1/pieces/-1?piece_size={size}")
    assert response.status_code == 400


def test_manifest_bad_number_named(city: RunningNode) -> None:
    size = city.context.config.release_piece_size
    response = signed_get(city, f"/sync/releases/0/manifest?piece_size={size}")
    assert "number" in error_fields(response)


def test_piece_unsigned_bad_index(city: RunningNode) -> None:
    response = city.get("/sync/releases/1/pieces/-1", as_user=None)
    assert response.status_code == 401


# --- sync status -----------------------------------------------------------------


def add_link(node: RunningNode, error_at: dt.datetime, contact: dt.datetime) -> None:
    with node.context.db.transaction() as session:
        session.merge(
            Link(
                peer=COUNTY,
                relation="parent",
                last_contact=contact,
                last_error="no key of node 350623100 is enrolled",
                last_error_at=error_at,
            )
        )


def start_township(federation: Federation) -> RunningNode:
    federation.start(CITY)
    federation.start(COUNTY)
    return federation.start(TOWNSHIP)


def test_status_hides_error_before_contact(federation: Federation) -> None:
    township = start_township(federation)
    add_link(
        township,
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    )
    page = township.get("/sync-status", headers=HTML)
    assert "is enrolled" not in page.text


def test_status_shows_error_after_contact(federation: Federation) -> None:
    township = start_township(federation)
    add_link(
        township,
        dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    page = township.get("/sync-status", headers=HTML)
    assert "is enrolled" in page.text
