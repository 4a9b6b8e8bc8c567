"""Rate limits and the wrong-phone lock of the applicant's rating."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from common import clock
from node import rate_limits
from tests.conftest import application, at
from tests.federation import Browser, Federation, RunningNode, complete_case

CITY = "350600"
COUNTY = "350623"
LOW_INCOME = "ZZ-MZ-001"
PHONE_LAST4 = "0000"  # the applicant's phone in tests.conftest.application
WRONG = "1234"


@pytest.fixture
def county(federation: Federation) -> Iterator[RunningNode]:
    clock.set_now(at("2026-11-02"))
    federation.start(CITY)
    node = federation.start(COUNTY)
    federation.publish_catalog()
    federation.sync(rounds=2)
    node.add_user("intake", "window_clerk", department="民政局")
    yield node
    clock.reset()


def finished_case(node: RunningNode) -> str:
    response = node.post(
        "/api/applications", json=application(LOW_INCOME), as_user="intake"
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    assert node.post(f"/api/cases/{case_id}/accept").status_code == 200
    assert complete_case(node, case_id).status_code == 200
    return case_id


def rate(node: RunningNode, case_id: str, phone_last4: str = PHONE_LAST4) -> Any:
    body = {
        "case_id": case_id,
        "level": "satisfied",
        "channel": "web",
        "phone_last4": phone_last4,
    }
    return node.post("/api/evaluations", json=body, as_user=None)


def test_four_wrong_checks_allowed(county: RunningNode) -> None:
    case_id = finished_case(county)
    statuses = [rate(county, case_id, WRONG).status_code for _ in range(4)]

    response = rate(county, case_id)

    assert statuses == [400, 400, 400, 400]
    assert response.status_code == 201, response.text


def test_fifth_wrong_check_locks(county: RunningNode) -> None:
    case_id = finished_case(county)
    for _ in range(4):
        rate(county, case_id, WRONG)

    response = rate(county, case_id, WRONG)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert response.json()["error"]["code"] == "too_many_requests"
    assert response.json()["error"]["details"]["retry_after"] == 900


def test_locked_case_rejects_right_phone(county: RunningNode) -> None:
    case_id = finished_case(county)
    for _ in range(5):
        rate(county, case_id, WRONG)

    response = rate(county, case_id)

    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 900
    assert "locked" in response.json()["error"]["message"]


def test_lock_stores_no_rating(county: RunningNode) -> None:
    case_id = finished_case(county)
    for _ in range(6):
        rate(county, case_id, WRONG)

    summary = county.get("/api/evaluations/summary", as_user=None).json()

    assert summary["departments"] == []


def test_lock_is_per_case(county: RunningNode) -> None:
    locked = finished_case(county)
    other = finished_case(county)
    for _ in range(5):
        rate(county, locked, WRONG)

    response = rate(county, other)

    assert response.status_code == 201, response.text


def test_case_limit(county: RunningNode) -> None:
    case_id = finished_case(county)
    assert rate(county, case_id).status_code == 201
    repeats = [rate(county, case_id).status_code for _ in range(9)]

    response = rate(county, case_id)

    assert set(repeats) == {409}
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) <= 600
    assert f"case {case_id}" in response.json()["error"]["message"]


def test_address_limit(county: RunningNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limits, "MAX_TRIES_PER_ADDRESS", 3)
    statuses = [rate(county, f"no-such-case-{n}").status_code for n in range(3)]

    response = rate(county, "no-such-case-3")

    assert statuses == [404, 404, 404]
    assert response.status_code == 429
    assert "address 127.0.0.1" in response.json()["error"]["message"]


def test_rating_page_shows_lock(county: RunningNode) -> None:
    case_id = finished_case(county)
    browser = Browser(county, user=None)
    browser.get(f"/rate/{case_id}?channel=web")
    form = {"level": "satisfied", "phone_last4": WRONG, "channel": "web"}
    statuses = [browser.post(f"/rate/{case_id}", form).status_code for _ in range(5)]

    response = browser.post(f"/rate/{case_id}", {**form, "phone_last4": PHONE_LAST4})

    assert statuses == [400, 400, 400, 400, 429]
    assert response.status_code == 429
    assert "尝试次数过多" in response.text
    assert "Retry-After" in response.headers


def test_staff_entry_not_limited(county: RunningNode) -> None:
    case_id = finished_case(county)
    for _ in range(5):
        rate(county, case_id, WRONG)

    response = county.post(
        "/api/evaluations/entered",
        json={
            "case_id": case_id,
            "level": "satisfied",
            "channel": "slip",
            "slip_number": "S-0001",
        },
    )

    assert response.status_code == 201, response.text


# --- the queue kiosk ----------------------------------------------------------------


def test_kiosk_address_limit(
    county: RunningNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rate_limits, "MAX_TICKETS_PER_ADDRESS", 2)
    body = {"category": "户籍"}
    statuses = [
        county.post("/api/tickets", json=body, as_user=None).status_code
        for _ in range(2)
    ]

    response = county.post("/api/tickets", json=body, as_user=None)

    assert 429 not in statuses
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert "address 127.0.0.1" in response.json()["error"]["message"]


def test_kiosk_page_limit(county: RunningNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limits, "MAX_TICKETS_PER_ADDRESS", 1)
    window = {"name": "2号窗口", "department": "公安局", "categories": ["户籍"]}
    assert county.post("/api/windows", json=window).status_code == 201
    browser = Browser(county, user=None)
    browser.get("/tickets/take")
    first = browser.post("/tickets/take", {"category": "户籍"})

    response = browser.post("/tickets/take", {"category": "户籍"})

    assert first.status_code == 303
    assert response.status_code == 429
    assert "取号过于频繁" in response.text
    assert "Retry-After" in response.headers


# --- the hotline's public web form --------------------------------------------------


def web_ticket(browser: Browser) -> Any:
    form = {
        "kind": "complaint",
        "caller_name": "李四",
        "caller_phone": "13900000000",
        "caller_division": COUNTY,
        "subject": "低保申请迟迟没有答复",
        "department": "民政局",
    }
    return browser.post("/hotline/new", form)


def test_web_hotline_address_limit(
    county: RunningNode, federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rate_limits, "MAX_WEB_HOTLINE_TICKETS_PER_ADDRESS", 1)
    browser = Browser(federation.nodes[CITY], user=None)
    browser.get("/hotline/new")
    first = web_ticket(browser)

    response = web_ticket(browser)

    assert first.status_code == 200, first.text
    assert response.status_code == 429
    assert "提交过于频繁" in response.text
    assert "Retry-After" in response.headers


def test_web_hotline_limit_stores_nothing(
    county: RunningNode, federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rate_limits, "MAX_WEB_HOTLINE_TICKETS_PER_ADDRESS", 1)
    city = federation.nodes[CITY]
    browser = Browser(city, user=None)
    browser.get("/hotline/new")
    web_ticket(browser)
    web_ticket(browser)

    response = city.get("/api/hotline/tickets")

    assert len(response.json()) == 1
