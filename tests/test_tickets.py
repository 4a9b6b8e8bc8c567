"""Queue tickets: numbering, calling in order, times, report, links and events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from common import clock
from common.errors import InvalidInput
from common.models import Event, QueueTicket, User
from node.tickets import link_case
from tests.conftest import application
from tests.federation import Browser, Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
# Monday 3 March 2025, 09:00 in China.
OPENING = dt.datetime(2025, 3, 3, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def at_opening() -> Iterator[None]:
    clock.set_now(OPENING)
    yield
    clock.reset()


def at(minutes: float) -> None:
    """Set the clock to ``minutes`` after opening."""
    clock.set_now(OPENING + dt.timedelta(minutes=minutes))


@pytest.fixture
def county(federation: Federation, at_opening: None) -> RunningNode:
    """漳浦县 under the city, with two windows and three window clerks.

    Window 1 (民政局) serves 社会救助 (letter A) and 婚姻登记 (B), and is staffed
    by clerk1 and clerk3; window 2 (公安局) serves 户籍 (C) with clerk2.
    """
    federation.start(CITY)
    node = federation.start(COUNTY)
    first = open_window(node, "1号窗口", "民政局", ["社会救助", "婚姻登记"])
    second = open_window(node, "2号窗口", "公安局", ["户籍"])
    node.add_user("clerk1", "window_clerk", department="民政局", window_id=first)
    node.add_user("clerk2", "window_clerk", department="公安局", window_id=second)
    node.add_user("clerk3", "window_clerk", department="民政局", window_id=first)
    node.add_user("idle", "window_clerk", department="民政局")
    node.add_user("watcher", "supervisor")
    # Starting the nodes took a moment: the day starts now.
    at(0)
    return node


def open_window(
    node: RunningNode, name: str, department: str, categories: list[str]
) -> int:
    body = {"name": name, "department": department, "categories": categories}
    response = node.post("/api/windows", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def take(node: RunningNode, category: str) -> dict[str, Any]:
    response = node.post("/api/tickets", json={"category": category}, as_user=None)
    assert response.status_code == 201, response.text
    return response.json()


def call(node: RunningNode, clerk: str) -> dict[str, Any]:
    response = node.post("/api/tickets/call-next", as_user=clerk)
    assert response.status_code == 200, response.text
    return response.json()


def finish(
    node: RunningNode, clerk: str, ticket_id: int, **body: Any
) -> dict[str, Any]:
    response = node.post(f"/api/tickets/{ticket_id}/finish", json=body, as_user=clerk)
    assert response.status_code == 200, response.text
    return response.json()


def no_show(node: RunningNode, clerk: str, ticket_id: int) -> dict[str, Any]:
    response = node.post(f"/api/tickets/{ticket_id}/no-show", as_user=clerk)
    assert response.status_code == 200, response.text
    return response.json()


def ticket_count(node: RunningNode) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(QueueTicket)) or 0


def ticket_events(node: RunningNode, origin: str = COUNTY) -> list[Event]:
    with node.context.db.transaction() as session:
        query = (
            select(Event)
            .where(Event.kind.startswith("ticket."), Event.origin == origin)
            .order_by(Event.seq)
        )
        return list(session.scalars(query))


def user_named(node: RunningNode, username: str) -> User:
    with node.context.db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        session.expunge(user)
        return user


# --- taking a ticket ----------------------------------------------------------


def test_numbers_per_category(county: RunningNode) -> None:
    numbers = [
        take(county, category)["number"]
        for category in ("社会救助", "社会救助", "婚姻登记", "户籍", "社会救助")
    ]
    assert numbers == ["A001", "A002", "B001", "C001", "A003"]


def test_ticket_carries_key_and_day(county: RunningNode) -> None:
    ticket = take(county, "户籍")
    assert ticket["ticket"] == "350623-2025-03-03-C001"
    assert ticket["day"] == "2025-03-03"
    assert ticket["status"] == "waiting"
    assert ticket["taken_at"].startswith("2025-03-03T01:00")


def test_waiting_ahead_counts_own_category(county: RunningNode) -> None:
    take(county, "社会救助")
    take(county, "户籍")
    second = take(county, "社会救助")
    assert second["waiting_ahead"] == 1
    assert take(county, "户籍")["waiting_ahead"] == 1
    call(county, "clerk1")
    shown = county.get(f"/api/tickets/{second['id']}", as_user=None).json()
    assert shown["waiting_ahead"] == 0


def test_numbers_restart_next_day(county: RunningNode) -> None:
    take(county, "社会救助")
    take(county, "社会救助")
    at(24 * 60)
    ticket = take(county, "社会救助")
    assert ticket["number"] == "A001"
    assert ticket["day"] == "2025-03-04"


def test_unserved_category_rejected(county: RunningNode) -> None:
    response = county.post("/api/tickets", json={"category": "出入境"}, as_user=None)
    error = response.json()["error"]
    assert response.status_code == 400
    assert "户籍" in error["details"]["fields"]["category"][0]
    assert error["details"]["categories"] == ["婚姻登记", "户籍", "社会救助"]
    assert ticket_count(county) == 0
    assert ticket_events(county) == []


def test_deactivated_window_category_rejected(county: RunningNode) -> None:
    windows = county.get("/api/windows").json()
    county.post(f"/api/windows/{windows[1]['id']}/deactivate")
    response = county.post("/api/tickets", json={"category": "户籍"}, as_user=None)
    assert response.status_code == 400
    assert "户籍" not in response.json()["error"]["details"]["categories"]
    assert ticket_count(county) == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"category": ""}, {"category": 7}, {"category": "类" * 41}, {"kind": "户籍"}],
)
def test_invalid_ticket_request_rejected(
    county: RunningNode, body: dict[str, object]
) -> None:
    response = county.post("/api/tickets", json=body, as_user=None)
    fields = response.json()["error"]["details"]["fields"]
    assert response.status_code == 400
    assert fields.keys() & {"category", "kind"}
    assert ticket_count(county) == 0


# --- calling ------------------------------------------------------------------


def test_call_next_fifo_across_categories(county: RunningNode) -> None:
    take(county, "社会救助")
    at(1)
    take(county, "婚姻登记")
    at(2)
    take(county, "社会救助")
    at(3)
    called = []
    for _ in range(3):
        ticket = call(county, "clerk1")
        called.append(ticket["number"])
        finish(county, "clerk1", ticket["id"])
    assert called == ["A001", "B001", "A002"]


def test_call_next_only_serving_categories(county: RunningNode) -> None:
    take(county, "社会救助")
    take(county, "户籍")
    household = call(county, "clerk2")
    finish(county, "clerk2", household["id"])
    response = county.post("/api/tickets/call-next", as_user="clerk2")
    assert household["number"] == "C001"
    assert response.status_code == 404
    assert "no ticket is waiting" in response.json()["error"]["message"]


def test_call_next_sets_window(county: RunningNode) -> None:
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    assert ticket["status"] == "called"
    assert ticket["window_name"] == "1号窗口"
    assert ticket["waiting_ahead"] == 0


def test_call_next_skips_other_days(county: RunningNode) -> None:
    take(county, "社会救助")
    at(24 * 60)
    response = county.post("/api/tickets/call-next", as_user="clerk1")
    assert response.status_code == 404


def test_call_next_conflicts_while_serving(county: RunningNode) -> None:
    take(county, "社会救助")
    take(county, "社会救助")
    first = call(county, "clerk1")
    response = county.post("/api/tickets/call-next", as_user="clerk1")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["ticket_id"] == first["id"]
    assert call(county, "clerk3")["number"] == "A002"


def test_two_clerks_call_different_tickets(county: RunningNode) -> None:
    take(county, "社会救助")
    take(county, "社会救助")
    assert call(county, "clerk1")["number"] == "A001"
    assert call(county, "clerk3")["number"] == "A002"


@pytest.mark.parametrize(
    ("user", "status"), [(None, 401), ("watcher", 403), ("idle", 403)]
)
def test_only_clerks_with_window_call(
    county: RunningNode, user: str | None, status: int
) -> None:
    take(county, "社会救助")
    response = county.post("/api/tickets/call-next", as_user=user)
    assert response.status_code == status
    assert county.get("/api/tickets/1", as_user=None).json()["status"] == "waiting"


def test_deactivated_window_calls_nothing(county: RunningNode) -> None:
    take(county, "社会救助")
    windows = county.get("/api/windows").json()
    county.post(f"/api/windows/{windows[0]['id']}/deactivate")
    response = county.post("/api/tickets/call-next", as_user="clerk1")
    assert response.status_code == 409


# --- finishing ----------------------------------------------------------------


def test_only_caller_finishes(county: RunningNode) -> None:
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    for path in ("finish", "no-show"):
        response = county.post(
            f"/api/tickets/{ticket['id']}/{path}", json={}, as_user="clerk3"
        )
        assert response.status_code == 403
    anonymous = county.post(
        f"/api/tickets/{ticket['id']}/finish", json={}, as_user=None
    )
    assert anonymous.status_code == 401
    shown = county.get(f"/api/tickets/{ticket['id']}", as_user=None).json()
    assert shown["status"] == "called"


def test_finished_ticket_cannot_finish_again(county: RunningNode) -> None:
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    finish(county, "clerk1", ticket["id"])
    again = county.post(
        f"/api/tickets/{ticket['id']}/finish", json={}, as_user="clerk1"
    )
    no_show_after = county.post(
        f"/api/tickets/{ticket['id']}/no-show", as_user="clerk1"
    )
    assert again.status_code == 409
    assert no_show_after.status_code == 409


def test_waiting_ticket_cannot_be_finished(county: RunningNode) -> None:
    ticket = take(county, "社会救助")
    response = county.post(
        f"/api/tickets/{ticket['id']}/finish", json={}, as_user="clerk1"
    )
    assert response.status_code == 403


def test_unknown_ticket_not_found(county: RunningNode) -> None:
    response = county.post("/api/tickets/99/finish", json={}, as_user="clerk1")
    assert response.status_code == 404


def test_times_follow_the_clock(county: RunningNode) -> None:
    take(county, "社会救助")
    at(5)
    ticket = call(county, "clerk1")
    at(12)
    finish(county, "clerk1", ticket["id"])
    finished = ticket_events(county)[-1].payload
    assert finished["status"] == "done"
    assert finished["waited_seconds"] == 300
    assert finished["service_seconds"] == 420


def test_no_show_has_no_service_time(county: RunningNode) -> None:
    take(county, "社会救助")
    at(2)
    ticket = call(county, "clerk1")
    at(4)
    closed = no_show(county, "clerk1", ticket["id"])
    finished = ticket_events(county)[-1].payload
    assert closed["status"] == "no_show"
    assert finished["status"] == "no_show"
    assert finished["waited_seconds"] == 120
    assert finished["service_seconds"] is None
    assert call_after_no_show(county) == 404


def call_after_no_show(county: RunningNode) -> int:
    return county.post("/api/tickets/call-next", as_user="clerk1").status_code


@pytest.mark.parametrize(
    "body", [{"case_id": ""}, {"case_id": 5}, {"case_id": "x" * 41}, {"note": "x"}]
)
def test_invalid_finish_rejected(county: RunningNode, body: dict[str, object]) -> None:
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    response = county.post(
        f"/api/tickets/{ticket['id']}/finish", json=body, as_user="clerk1"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"].keys() & {"case_id", "note"}
    shown = county.get(f"/api/tickets/{ticket['id']}", as_user=None).json()
    assert shown["status"] == "called"


def test_finish_with_unknown_case_rejected(county: RunningNode) -> None:
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    response = county.post(
        f"/api/tickets/{ticket['id']}/finish",
        json={"case_id": "350623-999999"},
        as_user="clerk1",
    )
    shown = county.get(f"/api/tickets/{ticket['id']}", as_user=None).json()
    assert response.status_code == 400
    assert "case_id" in response.json()["error"]["details"]["fields"]
    assert shown["status"] == "called"
    assert shown["case_id"] is None


def test_finish_links_filed_case(federation: Federation, county: RunningNode) -> None:
    federation.publish_catalog()
    federation.sync(rounds=3)
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    filed = county.post("/api/applications", json=application(), as_user="clerk1")
    case_id = filed.json()["id"]
    finished = finish(county, "clerk1", ticket["id"], case_id=case_id)
    assert filed.status_code == 201
    assert finished["case_id"] == case_id
    assert ticket_events(county)[-1].payload["case_id"] == case_id


# --- linking a case -----------------------------------------------------------


def link(county: RunningNode, ticket_id: int, clerk: str, case_id: str) -> None:
    context = county.context
    with context.db.transaction() as session:
        link_case(context, session, ticket_id, case_id, user_named(county, clerk))


def test_link_case_sets_case(county: RunningNode) -> None:
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    link(county, ticket["id"], "clerk1", "350623-000001")
    finished = finish(county, "clerk1", ticket["id"])
    assert finished["case_id"] == "350623-000001"
    assert ticket_events(county)[-1].payload["case_id"] == "350623-000001"


def test_link_case_rejections(county: RunningNode) -> None:
    waiting = take(county, "社会救助")
    take(county, "社会救助")
    called = call(county, "clerk1")
    link(county, called["id"], "clerk1", "350623-000001")
    cases = [
        (called["id"], "clerk1"),  # linked already
        (called["id"], "clerk3"),  # called by another clerk
        (waiting["id"] + 1, "clerk3"),  # still waiting, not called yet
        (99, "clerk1"),  # no such ticket
    ]
    for ticket_id, clerk in cases:
        with pytest.raises(InvalidInput) as raised:
            link(county, ticket_id, clerk, "350623-000002")
        assert "ticket_id" in raised.value.details["fields"]
    shown = county.get(f"/api/tickets/{called['id']}", as_user=None).json()
    assert shown["case_id"] == "350623-000001"


def test_link_case_rejects_finished_ticket(county: RunningNode) -> None:
    take(county, "社会救助")
    ticket = call(county, "clerk1")
    finish(county, "clerk1", ticket["id"])
    with pytest.raises(InvalidInput) as raised:
        link(county, ticket["id"], "clerk1", "350623-000001")
    assert "ticket_id" in raised.value.details["fields"]


# --- report -------------------------------------------------------------------


def seed_morning(county: RunningNode) -> None:
    """Store the morning that the report figures below were computed by hand from.

    社会救助: A001 taken 09:00, called 09:02, done 09:10 (wait 120 s, service
    480 s); A002 taken 09:01, called 09:10, no-show 09:11 (wait 540 s); A003
    taken 09:03, still waiting. 户籍: C001 taken 09:04, called 09:06, done
    09:09 (wait 120 s, service 180 s). Window 1 and clerk1 served 社会救助,
    window 2 and clerk2 served 户籍.
    """
    clerk1 = user_named(county, "clerk1")
    clerk2 = user_named(county, "clerk2")
    rows = [
        ("A001", "社会救助", "done", (0, 2, 10), clerk1),
        ("A002", "社会救助", "no_show", (1, 10, 11), clerk1),
        ("A003", "社会救助", "waiting", (3, None, None), None),
        ("C001", "户籍", "done", (4, 6, 9), clerk2),
    ]
    with county.context.db.transaction() as session:
        for number, category, status, (taken, called, finished), clerk in rows:
            session.add(
                QueueTicket(
                    day=OPENING.date(),
                    number=number,
                    category=category,
                    status=status,
                    taken_at=minutes_after_opening(taken),
                    called_at=minutes_after_opening(called),
                    finished_at=minutes_after_opening(finished),
                    window_id=clerk.window_id if clerk else None,
                    clerk_id=clerk.id if clerk else None,
                )
            )


def minutes_after_opening(minutes: int | None) -> dt.datetime | None:
    if minutes is None:
        return None
    return OPENING + dt.timedelta(minutes=minutes)


def test_report_by_category(county: RunningNode) -> None:
    seed_morning(county)
    report = county.get("/api/tickets/report?day=2025-03-03", as_user="watcher").json()
    assert report["categories"] == [
        {
            "category": "户籍",
            "taken": 1,
            "waiting": 0,
            "called": 1,
            "served": 1,
            "no_shows": 0,
            "average_wait_seconds": 120.0,
            "max_wait_seconds": 120,
            "average_service_seconds": 180.0,
        },
        {
            "category": "社会救助",
            "taken": 3,
            "waiting": 1,
            "called": 2,
            "served": 1,
            "no_shows": 1,
            "average_wait_seconds": 330.0,
            "max_wait_seconds": 540,
            "average_service_seconds": 480.0,
        },
    ]


def test_report_by_window(county: RunningNode) -> None:
    seed_morning(county)
    report = county.get("/api/tickets/report?day=2025-03-03", as_user="watcher").json()
    first, second = report["windows"]
    assert first["window_name"] == "1号窗口"
    assert first["department"] == "民政局"
    assert (first["called"], first["served"], first["no_shows"]) == (2, 1, 1)
    assert first["average_wait_seconds"] == 330.0
    assert first["max_wait_seconds"] == 540
    assert first["average_service_seconds"] == 480.0
    assert second["window_name"] == "2号窗口"
    assert (second["called"], second["served"], second["no_shows"]) == (1, 1, 0)
    assert second["average_wait_seconds"] == 120.0


def test_report_total(county: RunningNode) -> None:
    seed_morning(county)
    total = county.get("/api/tickets/report", as_user="watcher").json()["total"]
    assert (total["taken"], total["waiting"], total["called"]) == (4, 1, 3)
    assert (total["served"], total["no_shows"]) == (2, 1)
    assert total["average_wait_seconds"] == 260.0
    assert total["max_wait_seconds"] == 540
    assert total["average_service_seconds"] == 330.0


def test_report_of_quiet_day_is_empty(county: RunningNode) -> None:
    seed_morning(county)
    report = county.get("/api/tickets/report?day=2025-03-02", as_user="watcher").json()
    assert report["categories"] == []
    assert report["windows"] == []
    assert report["total"]["taken"] == 0
    assert report["total"]["average_wait_seconds"] is None


@pytest.mark.parametrize(
    ("user", "status"), [("watcher", 200), ("staff", 200), ("clerk1", 403), (None, 401)]
)
def test_report_roles(county: RunningNode, user: str | None, status: int) -> None:
    assert county.get("/api/tickets/report", as_user=user).status_code == status


@pytest.mark.parametrize("query", ["day=2025-02-30", "day=yesterday", "day="])
def test_report_invalid_day_rejected(county: RunningNode, query: str) -> None:
    response = county.get(f"/api/tickets/report?{query}", as_user="watcher")
    assert response.status_code == 400
    assert "day" in response.json()["error"]["details"]["fields"]


# --- events -------------------------------------------------------------------


def test_ticket_events_reach_hub(federation: Federation, county: RunningNode) -> None:
    take(county, "社会救助")
    at(3)
    ticket = call(county, "clerk1")
    at(8)
    finish(county, "clerk1", ticket["id"])
    federation.sync()
    events = ticket_events(federation.nodes[CITY])
    kinds = [e.kind for e in events]
    assert kinds == ["ticket.taken", "ticket.called", "ticket.finished"]
    assert {e.payload["ticket"] for e in events} == {"350623-2025-03-03-A001"}
    assert {e.case_id for e in events} == {None}
    assert {e.destination for e in events} == {None}
    assert events[1].payload["window"] == "1号窗口"
    assert events[2].payload["service_seconds"] == 300


# --- pages --------------------------------------------------------------------


def test_kiosk_takes_and_prints_ticket(county: RunningNode) -> None:
    kiosk = Browser(county, None)
    page = kiosk.get("/tickets/take").text
    taken = kiosk.post("/tickets/take", {"category": "户籍"})
    printed = kiosk.get(taken.headers["Location"].removeprefix(county.url))
    assert "户籍" in page
    assert ">C<" in page
    assert taken.status_code == 303
    assert '<p class="number">C001</p>' in printed.text
    assert "您前面还有 <strong>0</strong> 人等候" in printed.text


def test_kiosk_rejects_unserved_category(county: RunningNode) -> None:
    kiosk = Browser(county, None)
    kiosk.get("/tickets/take")
    response = kiosk.post("/tickets/take", {"category": "出入境"})
    assert response.status_code == 400
    assert "请选择" in response.text
    assert ticket_count(county) == 0


def test_window_page_calls_and_finishes(county: RunningNode) -> None:
    take(county, "社会救助")
    take(county, "婚姻登记")
    clerk = Browser(county, "clerk1")
    before = clerk.get("/tickets").text
    called = clerk.post("/tickets/call-next", {})
    serving = clerk.get("/tickets").text
    finished = clerk.post("/tickets/1/finish", {"case_id": ""})
    after = clerk.get("/tickets").text
    assert "1号窗口" in before
    assert "A001" in before
    assert called.status_code == 303
    assert '<span class="number">A001</span>' in serving
    assert "请 A001 号到1号窗口办理" in serving
    assert finished.status_code == 303
    assert "A001 号已办结" in after
    assert county.get("/api/tickets/1", as_user=None).json()["status"] == "done"


def test_window_page_reports_empty_queue(county: RunningNode) -> None:
    clerk = Browser(county, "clerk1")
    clerk.get("/tickets")
    clerk.post("/tickets/call-next", {})
    assert "当前没有等候本窗口业务的号" in clerk.get("/tickets").text


def test_window_page_without_window(county: RunningNode) -> None:
    assert "您尚未分配窗口" in Browser(county, "idle").get("/tickets").text


def test_window_page_needs_clerk(county: RunningNode) -> None:
    assert Browser(county, "watcher").get("/tickets").status_code == 403


def test_report_page_shows_figures(county: RunningNode) -> None:
    seed_morning(county)
    page = Browser(county, "watcher").get("/tickets/report?day=2025-03-03")
    assert page.status_code == 200
    assert "社会救助" in page.text
    assert "5 分 30 秒" in page.text
    assert "9 分 0 秒" in page.text


def test_report_page_invalid_day(county: RunningNode) -> None:
    page = Browser(county, "watcher").get("/tickets/report?day=2025-13-01")
    assert page.status_code == 400
    assert "YYYY-MM-DD" in page.text
