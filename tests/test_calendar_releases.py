"""Calendar releases: checks at the city, storage in order, travel down the tree.

``TEST_2027`` is a calendar made up for these tests. It is NOT the State
Council's arrangement for 2027, which the installed ``chinesecalendar``
(1.11) does not hold either: New Year's Day off from Fri 2027-01-01 to
Mon 2027-01-04, with Sat 2027-01-09 worked in exchange.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from common import clock
from common.calendar import load_calendar
from common.catalog import content_hash
from common.context import _registry, unregister
from common.errors import Forbidden, InvalidInput, ReleaseRejected
from common.models import CalendarRelease, Link
from hub.calendars import check_calendar, publish_calendar
from hub.catalog import load_catalog, publish
from node.cli import main
from sync.auth import signed_headers
from sync.calendars import calendar_to_wire, store_calendar_release
from tests.conftest import application
from tests.federation import Browser, Federation, RunningNode, stand_in

CITY, COUNTY, TOWNSHIP = "350600", "350623", "350623100"
D = dt.date

TEST_2027: dict[str, Any] = {
    "year": 2027,
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"],
    "workdays": ["2027-01-09"],
    "source": "测试用日历，并非国务院公布的 2027 年安排 (test calendar, not official)",
}
# A second made-up calendar, for tests that need releases of two years.
TEST_2028: dict[str, Any] = {
    "year": 2028,
    "holidays": ["2028-01-01"],
    "source": "测试用日历 (test calendar, not official)",
}


def calendar(**changes: Any) -> dict[str, Any]:
    """Return the test calendar for 2027 with top-level fields replaced."""
    return {**TEST_2027, **changes}


def release_count(node: RunningNode) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(CalendarRelease))


def publish_at(node: RunningNode, content: dict[str, Any]) -> int | None:
    with node.context.db.transaction() as session:
        release = publish_calendar(node.context, session, content)
        return release.number if release else None


def wire_release(node: RunningNode, number: int) -> dict[str, Any]:
    with node.context.db.transaction() as session:
        return calendar_to_wire(session.get(CalendarRelease, number))


def store_at(node: RunningNode, release: dict[str, Any]) -> bool:
    with node.context.db.transaction() as session:
        return store_calendar_release(node.context, session, release)


def signed_get(node: RunningNode, as_code: str, path: str) -> requests.Response:
    """GET a sync path of ``node`` signed with a test key of ``as_code``."""
    headers = signed_headers(stand_in(node, as_code), "GET", path, b"")  # type: ignore[arg-type]
    return requests.get(node.url + path, headers=headers, timeout=30)


@pytest.fixture
def late_december() -> Iterator[None]:
    """Set the clock to Mon 2026-12-21, 10:00 in China."""
    clock.set_now(dt.datetime(2026, 12, 21, 10, 0, tzinfo=clock.CHINA))
    yield
    clock.reset()


# --- checks at the city ---------------------------------------------------------


def test_check_sorts_dates() -> None:
    content = check_calendar(calendar(holidays=["2027-01-03", "2027-01-01"]))
    assert content["holidays"] == ["2027-01-01", "2027-01-03"]


def test_check_drops_duplicates() -> None:
    content = check_calendar(calendar(workdays=["2027-01-09", "2027-01-09"]))
    assert content["workdays"] == ["2027-01-09"]


def test_check_defaults_empty_workdays() -> None:
    raw = {"year": 2027, "holidays": ["2027-01-01"]}
    assert check_calendar(raw)["workdays"] == []


def test_hash_ignores_order_and_duplicates() -> None:
    shuffled = calendar(holidays=list(reversed(TEST_2027["holidays"])) * 2)
    assert content_hash(check_calendar(shuffled)) == content_hash(
        check_calendar(TEST_2027)
    )


def test_weekend_holiday_accepted() -> None:
    # Sat 2027-01-02 lies inside the holiday period, as weekends do in the package.
    assert "2027-01-02" in check_calendar(TEST_2027)["holidays"]


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"year": 1999}, "year", "1999"),
        ({"year": 2101}, "year", "2101"),
        ({"year": "2027"}, "year", ""),
        ({"holidays": ["2026-12-31", "2027-01-01"]}, "holidays", "2026-12-31"),
        ({"workdays": ["2028-01-08"]}, "workdays", "2028-01-08"),
        ({"workdays": ["2027-01-08"]}, "workdays", "2027-01-08"),  # a Friday
        ({"workdays": ["2027-01-02"]}, "workdays", "2027-01-02"),  # also a holiday
        ({"holidays": ["2027-02-30"]}, "holidays.0", "2027-02-30"),
        ({"holidays": ["01/01/2027"]}, "holidays.0", "01/01/2027"),
        ({"holidays": ["20270101"]}, "holidays.0", "20270101"),
        ({"holidays": [20270101]}, "holidays.0", "20270101"),
        ({"holidays": []}, "holidays", ""),
        ({"holidays": "2027-01-01"}, "holidays", ""),
        ({"holidays": ["2027-01-01"] * 367}, "holidays", "366"),
        ({"source": "x" * 501}, "source", ""),
        ({"region": "350623"}, "region", ""),
    ],
)
def test_check_rejects_bad_field(
    changes: dict[str, Any], field: str, value: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_calendar(calendar(**changes))
    fields = raised.value.details["fields"]
    assert field in fields
    assert value in " ".join(fields[field])


def test_check_rejects_missing_year() -> None:
    raw = {"holidays": ["2027-01-01"]}
    with pytest.raises(InvalidInput) as raised:
        check_calendar(raw)
    assert "year" in raised.value.details["fields"]


def test_check_rejects_non_object() -> None:
    with pytest.raises(InvalidInput, match="JSON object"):
        check_calendar([TEST_2027])


# --- publishing -----------------------------------------------------------------


def test_first_release_numbered_one(federation: Federation) -> None:
    city = federation.start(CITY)
    assert publish_at(city, TEST_2027) == 1


def test_next_year_numbered_two(federation: Federation) -> None:
    city = federation.start(CITY)
    publish_at(city, TEST_2027)
    assert publish_at(city, TEST_2028) == 2


def test_same_content_publishes_nothing(federation: Federation) -> None:
    city = federation.start(CITY)
    publish_at(city, TEST_2027)
    reordered = calendar(holidays=list(reversed(TEST_2027["holidays"])))
    assert publish_at(city, reordered) is None
    assert release_count(city) == 1


def test_changed_content_replaces_year(federation: Federation) -> None:
    city = federation.start(CITY)
    publish_at(city, TEST_2027)
    assert publish_at(city, calendar(workdays=[])) == 2
    with city.context.db.transaction() as session:
        found = load_calendar(session).is_working_day(D(2027, 1, 9))
    assert found == (False, False)


def test_earlier_content_again_published(federation: Federation) -> None:
    # Going back to release 1's content is a change from release 2.
    city = federation.start(CITY)
    publish_at(city, TEST_2027)
    publish_at(city, calendar(workdays=[]))
    assert publish_at(city, TEST_2027) == 3


def test_county_cannot_publish(federation: Federation) -> None:
    federation.start(CITY)
    county = federation.start(COUNTY)
    with pytest.raises(Forbidden), county.context.db.transaction() as session:
        publish_calendar(county.context, session, TEST_2027)


def test_invalid_content_stores_nothing(federation: Federation) -> None:
    city = federation.start(CITY)
    with pytest.raises(InvalidInput):
        publish_at(city, calendar(year=2026, holidays=["2027-01-01"]))
    assert release_count(city) == 0


# --- storing at any node --------------------------------------------------------


@pytest.fixture
def branch(federation: Federation) -> Federation:
    """The city with two calendar releases, and a county that holds none."""
    city = federation.start(CITY)
    federation.start(COUNTY)
    publish_at(city, TEST_2027)
    publish_at(city, TEST_2028)
    return federation


def test_store_in_order(branch: Federation) -> None:
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    assert store_at(county, wire_release(city, 1)) is True
    assert store_at(county, wire_release(city, 2)) is True


def test_store_same_release_twice(branch: Federation) -> None:
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    store_at(county, wire_release(city, 1))
    assert store_at(county, wire_release(city, 1)) is False
    assert release_count(county) == 1


def test_store_rejects_gap(branch: Federation) -> None:
    county = branch.nodes[COUNTY]
    with pytest.raises(ReleaseRejected) as raised:
        store_at(county, wire_release(branch.nodes[CITY], 2))
    assert raised.value.details["expected"] == 1


def test_store_rejects_older_diverging(branch: Federation) -> None:
    # Release 1 with the content of release 2: older than 2 and not the one held.
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    store_at(county, wire_release(city, 1))
    store_at(county, wire_release(city, 2))
    older = dict(wire_release(city, 2), number=1)
    with pytest.raises(ReleaseRejected) as raised:
        store_at(county, older)
    details = raised.value.details
    assert details["held_hash"] == wire_release(city, 1)["content_hash"]
    assert details["offered_hash"] == older["content_hash"]


def test_store_rejects_diverging(branch: Federation) -> None:
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    store_at(county, wire_release(city, 1))
    content = check_calendar(calendar(workdays=[]))
    diverging = dict(
        wire_release(city, 1), content=content, content_hash=content_hash(content)
    )
    with pytest.raises(ReleaseRejected, match="diverges"):
        store_at(county, diverging)


def test_diverging_release_changes_nothing(branch: Federation) -> None:
    city, county = branch.nodes[CITY], branch.nodes[COUNTY]
    store_at(county, wire_release(city, 1))
    content = check_calendar(calendar(workdays=[]))
    diverging = dict(
        wire_release(city, 1), content=content, content_hash=content_hash(content)
    )
    with pytest.raises(ReleaseRejected):
        store_at(county, diverging)
    assert wire_release(county, 1) == wire_release(city, 1)


def test_store_rejects_corrupt_hash(branch: Federation) -> None:
    release = wire_release(branch.nodes[CITY], 1)
    release["content"] = dict(release["content"], workdays=[])
    with pytest.raises(ReleaseRejected, match="corrupt"):
        store_at(branch.nodes[COUNTY], release)


def test_store_rejects_mislabelled_year(branch: Federation) -> None:
    release = dict(wire_release(branch.nodes[CITY], 1), year=2028)
    with pytest.raises(ReleaseRejected, match="labelled year 2028"):
        store_at(branch.nodes[COUNTY], release)


def test_store_rejects_invalid_content(branch: Federation) -> None:
    # A correct hash does not make content valid: Fri 2027-01-08 as make-up day.
    content = calendar(workdays=["2027-01-08"])
    release = dict(
        wire_release(branch.nodes[CITY], 1),
        content=content,
        content_hash=content_hash(content),
    )
    with pytest.raises(ReleaseRejected) as raised:
        store_at(branch.nodes[COUNTY], release)
    assert "workdays" in raised.value.details["content"]


def test_store_rejects_missing_number(branch: Federation) -> None:
    release = wire_release(branch.nodes[CITY], 1)
    del release["number"]
    with pytest.raises(ReleaseRejected) as raised:
        store_at(branch.nodes[COUNTY], release)
    assert "number" in raised.value.details


# --- deadlines ------------------------------------------------------------------


def test_2027_deadline_provisional_without_release(federation: Federation) -> None:
    city = federation.start(CITY)
    with city.context.db.transaction() as session:
        deadline = load_calendar(session).add_working_days(D(2026, 12, 21), 20)
    assert deadline.date == D(2027, 1, 18)
    assert deadline.provisional is True


def test_2027_deadline_exact_with_release(federation: Federation) -> None:
    # Tue 12-22 .. Thu 12-31 (1-8), 01-01 .. 01-04 off, Tue 01-05 .. Fri 01-08
    # (9-12); Sat 01-09 worked (13); Mon 01-11 .. Fri 01-15 (14-18);
    # Mon 01-18 (19); Tue 01-19 (20).
    city = federation.start(CITY)
    publish_at(city, TEST_2027)
    with city.context.db.transaction() as session:
        deadline = load_calendar(session).add_working_days(D(2026, 12, 21), 20)
    assert deadline.date == D(2027, 1, 19)
    assert deadline.provisional is False


def test_release_replaces_package_year(federation: Federation) -> None:
    # A made-up 2026 release without Spring Festival: Mon 2026-02-16 is worked.
    city = federation.start(CITY)
    correction = {"year": 2026, "holidays": ["2026-01-01"], "source": "测试"}
    publish_at(city, {**correction, "corrects_package": True})
    with city.context.db.transaction() as session:
        found = load_calendar(session).is_working_day(D(2026, 2, 16))
    assert found == (True, False)


def test_package_year_needs_correction_flag(city: RunningNode) -> None:
    body = {"year": 2026, "holidays": ["2026-01-05"], "source": "测试"}
    response = city.post("/api/calendars", json=body)
    assert response.status_code == 400
    assert "year" in response.json()["error"]["details"]["fields"]


# --- through the federation -----------------------------------------------------


def test_release_reaches_township(federation: Federation) -> None:
    for code in (CITY, COUNTY, TOWNSHIP):
        federation.start(code)
    publish_at(federation.nodes[CITY], TEST_2027)
    federation.sync()
    township = federation.nodes[TOWNSHIP]
    assert wire_release(township, 1) == wire_release(federation.nodes[CITY], 1)


def test_releases_arrive_in_number_order(federation: Federation) -> None:
    city = federation.start(CITY)
    county = federation.start(COUNTY)
    publish_at(city, TEST_2027)
    publish_at(city, calendar(workdays=[]))
    federation.sync()
    numbers = [r["number"] for r in county.get("/api/calendars").json()["releases"]]
    assert numbers == [2, 1]


def test_pull_twice_stores_once(federation: Federation) -> None:
    city = federation.start(CITY)
    county = federation.start(COUNTY)
    publish_at(city, TEST_2027)
    federation.sync()
    federation.sync()
    assert release_count(county) == 1


def test_county_rejects_diverging_parent(federation: Federation) -> None:
    city = federation.start(CITY)
    county = federation.start(COUNTY)
    # The county already holds a release 1 that the city never published.
    content = check_calendar(TEST_2028)
    foreign = {
        "number": 1,
        "year": 2028,
        "content_hash": content_hash(content),
        "published_at": clock.utcnow().isoformat(),
        "content": content,
    }
    store_at(county, foreign)
    publish_at(city, TEST_2027)
    federation.sync()
    with county.context.db.transaction() as session:
        link = session.get(Link, CITY)
        assert link is not None
        assert "diverges" in (link.last_error or "")
    assert wire_release(county, 1)["year"] == 2028


def test_deadline_exact_after_release_arrives(
    late_december: None, federation: Federation
) -> None:
    city = federation.start(CITY)
    county = federation.start(COUNTY)
    catalog = load_catalog(city.context.divisions)
    for matter in catalog["matters"]:
        if matter["code"] == "ZZ-MZ-001":
            matter["promised_limit_working_days"] = 20
    with city.context.db.transaction() as session:
        publish(city.context, session, catalog)
    federation.sync()
    case_id = county.post("/api/applications", json=application()).json()["id"]
    assert county.post(f"/api/cases/{case_id}/accept").status_code == 200
    before = county.get(f"/api/cases/{case_id}").json()
    assert (before["deadline"], before["deadline_provisional"]) == ("2027-01-18", True)

    assert city.post("/api/calendars", json=TEST_2027).status_code == 201
    federation.sync()

    after = county.get(f"/api/cases/{case_id}").json()
    assert after["deadline"] == "2027-01-19"
    assert after["deadline_provisional"] is False


# --- API ------------------------------------------------------------------------


def test_api_publish_created(federation: Federation) -> None:
    city = federation.start(CITY)
    response = city.post("/api/calendars", json=TEST_2027)
    assert response.status_code == 201
    assert response.json()["release"]["number"] == 1


def test_api_publish_counts(federation: Federation) -> None:
    city = federation.start(CITY)
    release = city.post("/api/calendars", json=TEST_2027).json()["release"]
    assert (release["holidays"], release["workdays"]) == (4, 1)


def test_api_publish_unchanged(federation: Federation) -> None:
    city = federation.start(CITY)
    city.post("/api/calendars", json=TEST_2027)
    response = city.post("/api/calendars", json=TEST_2027)
    assert response.status_code == 200
    assert response.json()["published"] is False
    assert response.json()["release"]["number"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (calendar(year=1999), "year"),
        (calendar(workdays=["2027-01-08"]), "workdays"),
        (calendar(holidays=["2027-13-01"]), "holidays"),
        (calendar(holidays=["2027-01-09"]), "workdays"),
        ({"holidays": ["2027-01-01"]}, "year"),
    ],
)
def test_api_bad_content_400(
    federation: Federation, body: dict[str, Any], field: str
) -> None:
    city = federation.start(CITY)
    response = city.post("/api/calendars", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert release_count(city) == 0


def test_api_body_not_json_400(federation: Federation) -> None:
    city = federation.start(CITY)
    response = city.post(
        "/api/calendars",
        data=b"[1, 2",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400


def test_api_publish_non_admin_403(federation: Federation) -> None:
    city = federation.start(CITY)
    city.add_user("clerk1", "window_clerk", department="民政局")
    response = city.post("/api/calendars", json=TEST_2027, as_user="clerk1")
    assert response.status_code == 403
    assert release_count(city) == 0


def test_api_publish_bad_body_non_admin_403(federation: Federation) -> None:
    # The role is checked before the body, so a clerk learns nothing of its checks.
    city = federation.start(CITY)
    city.add_user("clerk1", "window_clerk", department="民政局")
    response = city.post("/api/calendars", json={"year": 1}, as_user="clerk1")
    assert response.status_code == 403


def test_api_publish_anonymous_401(federation: Federation) -> None:
    city = federation.start(CITY)
    response = city.post("/api/calendars", json=TEST_2027, as_user=None)
    assert response.status_code == 401


def test_api_publish_at_county_404(federation: Federation) -> None:
    federation.start(CITY)
    county = federation.start(COUNTY)
    response = county.post("/api/calendars", json=TEST_2027)
    assert response.status_code == 404
    assert "350600" in response.json()["error"]["message"]


def test_api_list_for_clerk(federation: Federation) -> None:
    city = federation.start(CITY)
    city.post("/api/calendars", json=TEST_2027)
    city.add_user("clerk1", "window_clerk", department="民政局")
    body = city.get("/api/calendars", as_user="clerk1").json()
    assert [(r["number"], r["year"]) for r in body["releases"]] == [(1, 2027)]


def test_api_list_marks_release_in_effect(federation: Federation) -> None:
    city = federation.start(CITY)
    city.post("/api/calendars", json=TEST_2027)
    city.post("/api/calendars", json=calendar(workdays=[]))
    releases = city.get("/api/calendars").json()["releases"]
    assert [r["in_effect"] for r in releases] == [True, False]


def test_api_list_package_years(federation: Federation) -> None:
    city = federation.start(CITY)
    package = city.get("/api/calendars").json()["package"]
    assert (package["first_year"], package["last_year"]) == (2004, 2026)


def test_api_list_anonymous_401(federation: Federation) -> None:
    city = federation.start(CITY)
    assert city.get("/api/calendars", as_user=None).status_code == 401


# --- sync endpoint --------------------------------------------------------------


def test_sync_calendars_for_child(branch: Federation) -> None:
    response = signed_get(branch.nodes[CITY], COUNTY, "/sync/calendars?after=1")
    assert response.status_code == 200
    assert [r["number"] for r in response.json()["releases"]] == [2]


def test_sync_calendars_unsigned_401(branch: Federation) -> None:
    city = branch.nodes[CITY]
    response = city.get("/sync/calendars?after=0", as_user=None)
    assert response.status_code == 401


def test_sync_calendars_grandchild_403(branch: Federation) -> None:
    response = signed_get(branch.nodes[CITY], TOWNSHIP, "/sync/calendars?after=0")
    assert response.status_code == 403


def test_sync_calendars_bad_after_400(branch: Federation) -> None:
    response = signed_get(branch.nodes[CITY], COUNTY, "/sync/calendars?after=-1")
    assert response.status_code == 400
    assert "after" in response.json()["error"]["details"]["fields"]


# --- page -----------------------------------------------------------------------


def test_page_lists_release_year(federation: Federation) -> None:
    city = federation.start(CITY)
    publish_at(city, TEST_2027)
    page = Browser(city).get("/calendars")
    assert page.status_code == 200
    assert "市级发布第 1 版" in page.text


def test_page_lists_package_years(federation: Federation) -> None:
    city = federation.start(CITY)
    page = Browser(city).get("/calendars").text
    assert "2004–2026" in page


def test_page_anonymous_redirected(federation: Federation) -> None:
    city = federation.start(CITY)
    response = Browser(city, user=None).session.get(
        city.url + "/calendars", allow_redirects=False, timeout=30
    )
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- command line ---------------------------------------------------------------


@pytest.fixture
def city_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Configure the city node in the environment; return a calendar file."""
    monkeypatch.setenv("NODE_CODE", CITY)
    monkeypatch.setenv("NODE_DATA_DIR", str(tmp_path / "node"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("NODE_PARENT_URL", raising=False)
    monkeypatch.delenv("NODE_CONFIG", raising=False)
    path = tmp_path / "calendar-2027.json"
    path.write_text(json.dumps(TEST_2027, ensure_ascii=False), "utf-8")
    yield path
    # The command registers its node in this process: close and forget it.
    for code in (CITY, COUNTY):
        context = _registry.get(code)
        if context is not None:
            context.close()
        unregister(code)


def test_cli_publishes(
    city_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["publish-calendar", str(city_environment)]) == 0
    assert "published calendar release 1 for 2027" in capsys.readouterr().out


def test_cli_unchanged(
    city_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["publish-calendar", str(city_environment)])
    assert main(["publish-calendar", str(city_environment)]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_cli_bad_file_exits_2(
    city_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    city_environment.write_text(json.dumps(calendar(year=1999)), "utf-8")
    assert main(["publish-calendar", str(city_environment)]) == 2
    assert "year" in capsys.readouterr().err


def test_cli_at_county_exits_2(
    city_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NODE_CODE", COUNTY)
    monkeypatch.setenv("NODE_PARENT_URL", "http://127.0.0.1:9")
    assert main(["publish-calendar", str(city_environment)]) == 2
    assert "only the city node" in capsys.readouterr().err
