"""The 96123 hotline: routing, reply deadlines, case queries, complaints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy import func, select

from common import clock
from common.evaluation_models import HotlineTicket
from common.models import Event
from common.schemas.events import event_errors
from tests.conftest import application, at
from tests.federation import Browser, Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
TOWNSHIP = "350623100"
MARRIAGE = "ZZ-MZ-001"  # 结婚登记, handled by the county


@pytest.fixture
def cities(federation: Federation) -> Iterator[tuple[RunningNode, RunningNode]]:
    """The city and one county holding release 1, the clock on Wednesday 2026-09-30."""
    clock.set_now(at("2026-09-30"))
    city = federation.start(CITY)
    county = federation.start(COUNTY)
    federation.publish_catalog()
    federation.sync(rounds=2)
    yield city, county
    clock.reset()


@pytest.fixture
def city(cities: tuple[RunningNode, RunningNode]) -> RunningNode:
    return cities[0]


def ticket_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complaint",
        "channel": "phone",
        "caller_name": "李四",
        "caller_phone": "13900000000",
        "subject": "窗口人员态度差",
        "department": "民政局",
    }
    body.update(changes)
    return body


def create(city: RunningNode, **changes: Any) -> Any:
    """Record a ticket. A change to None leaves that field out."""
    body = {k: v for k, v in ticket_body(**changes).items() if v is not None}
    return city.post("/api/hotline/tickets", json=body)


def ticket_count(city: RunningNode) -> int:
    with city.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(HotlineTicket)) or 0


def working_days_after(start: dt.date, days: int) -> dt.date:
    """Count ``days`` working days after ``start`` with the chinesecalendar package."""
    day = start
    while days:
        day += dt.timedelta(days=1)
        if chinese_calendar.is_workday(day):
            days -= 1
    return day


# --- deadlines ------------------------------------------------------------------


def test_complaint_due_after_national_day(city: RunningNode) -> None:
    response = create(city)

    assert response.status_code == 201, response.text
    assert response.json()["deadline"] == "2026-10-13"


def test_deadline_matches_package(city: RunningNode) -> None:
    expected = working_days_after(dt.date(2026, 9, 30), 5)

    response = create(city)

    assert response.json()["deadline"] == expected.isoformat()


def test_consultation_due_next_working_day(city: RunningNode) -> None:
    response = create(city, kind="consultation")

    assert response.json()["deadline"] == "2026-10-08"


def test_overdue_when_closed_late(city: RunningNode) -> None:
    ticket = create(city).json()
    clock.set_now(at("2026-10-14"))

    response = city.post(
        f"/api/hotline/tickets/{ticket['id']}/close",
        json={"reply": "已约谈窗口负责人", "caller_rating": "satisfied"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["overdue"] is True


def test_on_time_when_closed_by_deadline(city: RunningNode) -> None:
    ticket = create(city).json()
    clock.set_now(at("2026-10-13", hour=17))

    response = city.post(
        f"/api/hotline/tickets/{ticket['id']}/close",
        json={"reply": "已答复", "caller_rating": "very_satisfied"},
    )

    assert response.json()["overdue"] is False


def test_open_ticket_overdue_past_deadline(city: RunningNode) -> None:
    create(city)
    clock.set_now(at("2026-10-14"))

    overdue = city.get("/api/hotline/tickets?status=overdue").json()

    assert len(overdue) == 1


def test_ticket_closes_once(city: RunningNode) -> None:
    ticket = create(city).json()
    path = f"/api/hotline/tickets/{ticket['id']}/close"
    body = {"reply": "已答复", "caller_rating": "satisfied"}
    assert city.post(path, json=body).status_code == 200

    response = city.post(path, json=body)

    assert response.status_code == 409


# --- routing and queries -----------------------------------------------------------


def test_routed_to_matter_handling_node(city: RunningNode) -> None:
    response = create(
        city, matter_code=MARRIAGE, caller_division=TOWNSHIP, department=None
    )

    assert response.status_code == 201, response.text
    assert response.json()["routed_to"] == COUNTY
    assert response.json()["department"] == "民政局"


def test_routed_to_case_handler(
    cities: tuple[RunningNode, RunningNode], federation: Federation
) -> None:
    city, county = cities
    case_id = county.post("/api/applications", json=application(MARRIAGE)).json()["id"]
    federation.sync(rounds=3)

    response = create(city, case_id=case_id, department=None)

    assert response.status_code == 201, response.text
    assert response.json()["routed_to"] == COUNTY


def test_query_by_case_number(
    cities: tuple[RunningNode, RunningNode], federation: Federation
) -> None:
    city, county = cities
    case_id = county.post("/api/applications", json=application(MARRIAGE)).json()["id"]
    federation.sync(rounds=3)

    response = city.get(f"/api/hotline/cases/{case_id}")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "received"
    assert response.json()["handler_code"] == COUNTY
    assert "applicant_name" not in response.json()


def test_query_of_unknown_case(city: RunningNode) -> None:
    response = city.get("/api/hotline/cases/no-such-case")

    assert response.status_code == 404


def test_query_page_shows_case(
    cities: tuple[RunningNode, RunningNode], federation: Federation
) -> None:
    city, county = cities
    case_id = county.post("/api/applications", json=application(MARRIAGE)).json()["id"]
    federation.sync(rounds=3)

    response = Browser(city).get(f"/hotline?case_id={case_id}")

    assert response.status_code == 200
    assert "已收件" in response.text


# --- complaints -------------------------------------------------------------------


def test_verified_complaint_emits_event(city: RunningNode) -> None:
    ticket = create(city).json()

    response = city.post(
        f"/api/hotline/tickets/{ticket['id']}/verify", json={"note": "调取录像属实"}
    )

    assert response.status_code == 200, response.text
    with city.context.db.transaction() as session:
        event = session.scalar(
            select(Event).where(Event.kind == "hotline.complaint_verified")
        )
        assert event is not None
        view = {c.key: getattr(event, c.key) for c in Event.__table__.columns}
    assert view["payload"]["ticket"] == ticket["number"]
    assert view["payload"]["department"] == "民政局"
    assert view["payload"]["handler"] == CITY
    assert "caller_name" not in view["payload"]
    assert event_errors(view) == {}


def test_only_complaints_are_verified(city: RunningNode) -> None:
    ticket = create(city, kind="consultation").json()

    response = city.post(
        f"/api/hotline/tickets/{ticket['id']}/verify", json={"note": "属实"}
    )

    assert response.status_code == 409


def test_complaint_verified_once(city: RunningNode) -> None:
    ticket = create(city).json()
    path = f"/api/hotline/tickets/{ticket['id']}/verify"
    city.post(path, json={"note": "属实"})

    response = city.post(path, json={"note": "属实"})

    assert response.status_code == 409


# --- roles, tiers and bad input ----------------------------------------------------


def test_county_has_no_hotline(cities: tuple[RunningNode, RunningNode]) -> None:
    county = cities[1]

    response = county.post("/api/hotline/tickets", json=ticket_body())

    assert response.status_code == 404


def test_clerk_cannot_record_ticket(city: RunningNode) -> None:
    city.add_user("clerk1", "window_clerk", department="民政局")

    response = city.post("/api/hotline/tickets", json=ticket_body(), as_user="clerk1")

    assert response.status_code == 403


def test_anonymous_cannot_list_tickets(city: RunningNode) -> None:
    response = city.get("/api/hotline/tickets", as_user=None)

    assert response.status_code == 401


def test_admin_cannot_verify_complaint(city: RunningNode) -> None:
    city.add_user("admin1", "center_admin")
    ticket = create(city).json()

    response = city.post(
        f"/api/hotline/tickets/{ticket['id']}/verify",
        json={"note": "属实"},
        as_user="admin1",
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "praise"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"caller_phone": "12345"}, "caller_phone"),
        ({"caller_name": " "}, "caller_name"),
        ({"subject": ""}, "subject"),
        ({"caller_division": "35"}, "caller_division"),
        ({"caller_division": "350699"}, "caller_division"),
        ({"case_id": "no-such-case"}, "case_id"),
        ({"matter_code": "ZZ-NONE-999"}, "matter_code"),
        ({"department": None}, "department"),
    ],
)
def test_invalid_ticket_stores_nothing(
    city: RunningNode, changes: dict[str, Any], field: str
) -> None:
    response = create(city, **changes)

    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["details"]["fields"]
    assert ticket_count(city) == 0


def test_invalid_rating_keeps_ticket_open(city: RunningNode) -> None:
    ticket = create(city).json()

    response = city.post(
        f"/api/hotline/tickets/{ticket['id']}/close",
        json={"reply": "已答复", "caller_rating": "fine"},
    )

    assert response.status_code == 400
    assert "caller_rating" in response.json()["error"]["details"]["fields"]
    assert city.get(f"/api/hotline/tickets/{ticket['id']}").json()["closed_at"] is None


# --- pages ------------------------------------------------------------------------


def test_web_form_without_login(city: RunningNode) -> None:
    browser = Browser(city, user=None)
    assert browser.get("/hotline/new").status_code == 200

    response = browser.post(
        "/hotline/new",
        {
            "kind": "consultation",
            "caller_name": "王五",
            "caller_phone": "13700000000",
            "subject": "结婚登记要带什么材料",
            "department": "民政局",
        },
    )

    assert response.status_code == 200
    assert "96123-20260930-" in response.text
    tickets = city.get("/api/hotline/tickets").json()
    assert tickets[0]["channel"] == "web"


def test_web_form_rejects_bad_phone(city: RunningNode) -> None:
    browser = Browser(city, user=None)
    browser.get("/hotline/new")

    response = browser.post(
        "/hotline/new",
        {
            "kind": "consultation",
            "caller_name": "王五",
            "caller_phone": "abc",
            "subject": "问题",
            "department": "民政局",
        },
    )

    assert response.status_code == 400
    assert ticket_count(city) == 0


def test_operator_page_records_ticket(city: RunningNode) -> None:
    browser = Browser(city)
    browser.get("/hotline")

    response = browser.post("/hotline/tickets", ticket_body())

    assert response.status_code == 303
    assert ticket_count(city) == 1
