"""Hotline tickets sent down to the routed node, replied to, re-routed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from common import clock
from common.evaluation_models import HotlineTicket
from common.hotline_models import RoutedHotlineTicket
from common.models import Event
from common.schemas.events import event_errors
from hub.rollup_models import HotlineRollup
from node.hotline_routing import reply_received, ticket_closed, ticket_routed
from sync.feed import apply_feed_page
from tests.conftest import at
from tests.federation import Browser, Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
OTHER_COUNTY = "350602"
TOWNSHIP = "350623100"
VILLAGE = "350623100207"
LOW_INCOME = "ZZ-MZ-001"  # 最低生活保障, county tier, 民政局
OLD_AGE = "ZZ-MZ-002"  # 高龄津贴, delegated to township 350623100


@pytest.fixture
def tree(federation: Federation) -> Iterator[dict[str, RunningNode]]:
    """The city, county 350623 and its township 350623100 on release 1."""
    clock.set_now(at("2026-09-30"))
    nodes = {code: federation.start(code) for code in (CITY, COUNTY, TOWNSHIP)}
    federation.publish_catalog()
    federation.sync(rounds=3)
    yield nodes
    clock.reset()


def create(city: RunningNode, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "complaint",
        "channel": "phone",
        "caller_name": "李四",
        "caller_phone": "13900000000",
        "caller_division": COUNTY,
        "subject": "低保申请迟迟没有答复",
        "matter_code": LOW_INCOME,
    }
    body.update(changes)
    body = {name: value for name, value in body.items() if value is not None}
    response = city.post("/api/hotline/tickets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def routed(node: RunningNode, as_user: str = "staff") -> list[dict[str, Any]]:
    response = node.get("/api/hotline-routed/tickets", as_user=as_user)
    assert response.status_code == 200, response.text
    return response.json()


def reply(node: RunningNode, ticket_id: int, text: str = "已受理，五日内办结") -> Any:
    return node.post(
        f"/api/hotline-routed/tickets/{ticket_id}/reply", json={"reply": text}
    )


def city_ticket(city: RunningNode, ticket_id: int) -> dict[str, Any]:
    return city.get(f"/api/hotline/tickets/{ticket_id}").json()


def held_events(node: RunningNode, kind: str) -> list[dict[str, Any]]:
    with node.context.db.transaction() as session:
        rows = session.scalars(select(Event).where(Event.kind == kind))
        return [
            {c.key: getattr(e, c.key) for c in Event.__table__.columns} for e in rows
        ]


def held_row(node: RunningNode, ticket_id: int) -> dict[str, Any] | None:
    with node.context.db.transaction() as session:
        held = session.get(RoutedHotlineTicket, ticket_id)
        if held is None:
            return None
        columns = RoutedHotlineTicket.__table__.columns
        return {c.key: getattr(held, c.key) for c in columns}


# --- sending down -------------------------------------------------------------------


def test_routed_ticket_reaches_county(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)

    tickets = routed(tree[COUNTY])

    assert [t["ticket_id"] for t in tickets] == [ticket["id"]]
    assert tickets[0]["number"] == ticket["number"]
    assert tickets[0]["department"] == "民政局"
    assert tickets[0]["deadline"] == ticket["deadline"]


def test_routed_ticket_has_no_caller_data(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    create(tree[CITY])
    federation.sync(rounds=2)

    event = held_events(tree[COUNTY], "hotline.routed")[0]
    listed = routed(tree[COUNTY])[0]

    assert "caller_name" not in event["payload"]
    assert "caller_phone" not in event["payload"]
    assert event["personal"] is None
    assert "caller_phone" not in listed
    assert "13900000000" not in str(listed)


def test_routed_event_is_valid(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    create(tree[CITY])

    event = held_events(tree[CITY], "hotline.routed")[0]

    assert event_errors(event) == {}
    assert event["destination"] == COUNTY


def test_township_ticket_relayed_by_county(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY], matter_code=OLD_AGE, caller_division=TOWNSHIP)
    federation.sync(rounds=3)

    assert ticket["routed_to"] == TOWNSHIP
    assert [t["ticket_id"] for t in routed(tree[TOWNSHIP])] == [ticket["id"]]
    assert routed(tree[COUNTY]) == []
    assert len(held_events(tree[COUNTY], "hotline.routed")) == 1


def test_city_ticket_listed_at_city(tree: dict[str, RunningNode]) -> None:
    ticket = create(tree[CITY], matter_code=None, department="林业局")

    tickets = routed(tree[CITY])

    assert ticket["routed_to"] == CITY
    assert [t["ticket_id"] for t in tickets] == [ticket["id"]]


def test_routed_page_in_chinese(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)

    response = Browser(tree[COUNTY]).get("/hotline/routed")

    assert response.status_code == 200
    assert ticket["number"] in response.text
    assert "答复期限" in response.text
    assert "2026-10-13" in response.text
    assert "13900000000" not in response.text


def test_working_days_left_counts_holidays(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    create(tree[CITY])
    federation.sync(rounds=2)

    listed = routed(tree[COUNTY])[0]

    # 2026-10-01 to 10-07 are the National Day holiday; 10-08 to 10-13 has
    # 5 working days, 10-10 (Saturday) being a make-up working day.
    assert listed["working_days_left"] == 5
    assert listed["overdue"] is False


# --- access by role --------------------------------------------------------------


def test_approver_sees_own_department(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    county = tree[COUNTY]
    county.add_user("mz", "department_approver", department="民政局")
    county.add_user("cl", "department_approver", department="残疾人联合会")
    create(tree[CITY])
    federation.sync(rounds=2)

    assert len(routed(county, as_user="mz")) == 1
    assert routed(county, as_user="cl") == []


def test_other_department_cannot_reply(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    county = tree[COUNTY]
    county.add_user("cl", "department_approver", department="残疾人联合会")
    ticket = create(tree[CITY])
    federation.sync(rounds=2)

    response = county.post(
        f"/api/hotline-routed/tickets/{ticket['id']}/reply",
        json={"reply": "不归我管"},
        as_user="cl",
    )

    assert response.status_code == 403
    assert held_row(county, ticket["id"])["replied_at"] is None  # type: ignore[index]


def test_clerk_cannot_list(tree: dict[str, RunningNode]) -> None:
    county = tree[COUNTY]
    county.add_user("clerk", "window_clerk", department="民政局")

    response = county.get("/api/hotline-routed/tickets", as_user="clerk")

    assert response.status_code == 403


# --- replying up ------------------------------------------------------------------


def test_reply_reaches_city(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)

    response = reply(tree[COUNTY], ticket["id"])
    federation.sync(rounds=2)

    assert response.status_code == 201, response.text
    at_city = city_ticket(tree[CITY], ticket["id"])
    assert at_city["reply"] == "已受理，五日内办结"
    assert at_city["reply_from"] == COUNTY
    assert at_city["replied_at"] is not None
    assert at_city["closed_at"] is None


def test_close_with_routed_reply(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    reply(tree[COUNTY], ticket["id"])
    federation.sync(rounds=2)

    response = tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/close",
        json={"caller_rating": "satisfied"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["reply"] == "已受理，五日内办结"
    assert response.json()["caller_rating"] == "satisfied"


def test_close_without_any_reply_rejected(tree: dict[str, RunningNode]) -> None:
    ticket = create(tree[CITY])

    response = tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/close",
        json={"caller_rating": "satisfied"},
    )

    assert response.status_code == 400
    assert "reply" in response.json()["error"]["details"]["fields"]
    assert city_ticket(tree[CITY], ticket["id"])["closed_at"] is None


def test_reply_only_once(tree: dict[str, RunningNode], federation: Federation) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    reply(tree[COUNTY], ticket["id"])

    response = reply(tree[COUNTY], ticket["id"], "第二次答复")

    assert response.status_code == 409
    assert len(held_events(tree[COUNTY], "hotline.replied")) == 1


def test_blank_reply_rejected(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)

    response = reply(tree[COUNTY], ticket["id"], "   ")

    assert response.status_code == 400
    assert "reply" in response.json()["error"]["details"]["fields"]
    assert held_events(tree[COUNTY], "hotline.replied") == []


def test_reply_page_sends_reply(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    browser = Browser(tree[COUNTY])
    browser.get("/hotline/routed")

    response = browser.post(
        f"/hotline/routed/{ticket['id']}/reply", {"reply": "已电话联系"}
    )

    assert response.status_code == 303
    assert held_row(tree[COUNTY], ticket["id"])["reply"] == "已电话联系"  # type: ignore[index]


# --- re-routing -------------------------------------------------------------------


def test_reroute_moves_ticket(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)

    response = tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/route", json={"routed_to": TOWNSHIP}
    )
    federation.sync(rounds=3)

    assert response.status_code == 200, response.text
    assert response.json()["routing"] == 2
    assert routed(tree[COUNTY]) == []
    assert [t["ticket_id"] for t in routed(tree[TOWNSHIP])] == [ticket["id"]]
    assert held_row(tree[COUNTY], ticket["id"])["withdrawn_at"] is not None  # type: ignore[index]


def test_withdrawn_ticket_rejects_reply(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/route", json={"routed_to": CITY}
    )
    federation.sync(rounds=2)

    response = reply(tree[COUNTY], ticket["id"])

    assert response.status_code == 404


def test_stale_reply_ignored(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    reply(tree[COUNTY], ticket["id"], "旧网点的答复")
    tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/route", json={"routed_to": CITY}
    )

    federation.sync(rounds=2)

    at_city = city_ticket(tree[CITY], ticket["id"])
    assert at_city["routed_to"] == CITY
    assert at_city["reply"] is None


def test_reroute_back_reopens(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    path = f"/api/hotline/tickets/{ticket['id']}/route"
    federation.sync(rounds=2)
    tree[CITY].post(path, json={"routed_to": CITY})
    tree[CITY].post(path, json={"routed_to": COUNTY})
    federation.sync(rounds=2)

    tickets = routed(tree[COUNTY])

    assert [t["routing"] for t in tickets] == [3]
    assert routed(tree[CITY]) == []


def test_reroute_to_village_rejected(tree: dict[str, RunningNode]) -> None:
    ticket = create(tree[CITY])

    response = tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/route", json={"routed_to": VILLAGE}
    )

    assert response.status_code == 400
    assert "routed_to" in response.json()["error"]["details"]["fields"]
    assert city_ticket(tree[CITY], ticket["id"])["routing"] == 1


def test_reroute_unknown_code_rejected(tree: dict[str, RunningNode]) -> None:
    ticket = create(tree[CITY])

    response = tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/route", json={"routed_to": "350699"}
    )

    assert response.status_code == 400
    assert city_ticket(tree[CITY], ticket["id"])["routing"] == 1


def test_reroute_closed_ticket_conflicts(tree: dict[str, RunningNode]) -> None:
    ticket = create(tree[CITY])
    tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/close",
        json={"reply": "已答复", "caller_rating": "satisfied"},
    )

    response = tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/route", json={"routed_to": CITY}
    )

    assert response.status_code == 409


def test_reroute_moves_rollup_county(tree: dict[str, RunningNode]) -> None:
    ticket = create(tree[CITY])

    tree[CITY].post(
        f"/api/hotline/tickets/{ticket['id']}/route",
        json={"routed_to": OTHER_COUNTY},
    )

    with tree[CITY].context.db.transaction() as session:
        counts = {
            row.county_code: row.tickets
            for row in session.scalars(select(HotlineRollup))
        }
    assert counts[COUNTY] == 0
    assert counts[OTHER_COUNTY] == 1


# --- exactly-once effect on replay ------------------------------------------------


def test_feed_page_applied_twice(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    create(tree[CITY])
    federation.sync(rounds=2)
    county = tree[COUNTY]
    events = held_events(county, "hotline.routed")
    wire = [{k: e[k] for k in FEED_FIELDS} for e in events]

    with county.context.db.transaction() as session:
        stored = apply_feed_page(county.context, session, wire)

    assert stored == 0
    assert len(routed(county)) == 1


def test_routed_handler_replayed(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    county = tree[COUNTY]
    reply(county, ticket["id"])
    event = held_events(county, "hotline.routed")[0]

    with county.context.db.transaction() as session:
        ticket_routed(county.context, session, event)

    row = held_row(county, ticket["id"])
    assert row is not None
    assert row["reply"] == "已受理，五日内办结"
    assert row["routing"] == 1


def test_reply_handler_replayed_after_close(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    city = tree[CITY]
    ticket = create(city)
    federation.sync(rounds=2)
    reply(tree[COUNTY], ticket["id"])
    federation.sync(rounds=2)
    city.post(
        f"/api/hotline/tickets/{ticket['id']}/close",
        json={"reply": "话务员补充的答复", "caller_rating": "satisfied"},
    )
    event = held_events(city, "hotline.replied")[0]

    with city.context.db.transaction() as session:
        reply_received(city.context, session, event)

    assert city_ticket(city, ticket["id"])["reply"] == "话务员补充的答复"


def test_reply_counted_once_at_city(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    city = tree[CITY]
    ticket = create(city)
    federation.sync(rounds=2)
    reply(tree[COUNTY], ticket["id"])
    federation.sync(rounds=2)
    event = held_events(city, "hotline.replied")[0]

    with city.context.db.transaction() as session:
        reply_received(city.context, session, event)
        replied_at = session.get(HotlineTicket, ticket["id"]).replied_at  # type: ignore[union-attr]

    assert len(held_events(city, "hotline.replied")) == 1
    assert replied_at.isoformat() == event["payload"]["replied_at"]  # type: ignore[union-attr]


# --- closing at the city --------------------------------------------------------------


def close(city: RunningNode, ticket_id: int) -> Any:
    return city.post(
        f"/api/hotline/tickets/{ticket_id}/close",
        json={"reply": "话务员已答复来电人", "caller_rating": "satisfied"},
    )


@pytest.fixture
def closed(tree: dict[str, RunningNode], federation: Federation) -> dict[str, Any]:
    """A ticket routed to the county and closed at the city without its reply."""
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    assert close(tree[CITY], ticket["id"]).status_code == 200
    federation.sync(rounds=2)
    return ticket


def test_close_reaches_routed_node(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    listed = routed(tree[COUNTY])[0]

    assert listed["closed_at"] is not None


def test_closed_event_is_valid(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    event = held_events(tree[CITY], "hotline.closed")[0]

    assert event_errors(event) == {}
    assert event["destination"] == COUNTY
    assert event["payload"]["routing"] == 1


def test_closed_ticket_rejects_reply(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    response = reply(tree[COUNTY], closed["id"])

    assert response.status_code == 409
    assert "closed by the city" in response.json()["error"]["message"]
    assert held_events(tree[COUNTY], "hotline.replied") == []


def test_closed_ticket_not_open(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    response = tree[COUNTY].get("/api/hotline-routed/tickets?status=open")

    assert response.json() == []


def test_closed_ticket_stops_countdown(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    clock.set_now(at("2026-10-20"))

    listed = routed(tree[COUNTY])[0]

    assert listed["working_days_left"] == 5
    assert listed["overdue"] is False


def test_closed_ticket_page(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    response = Browser(tree[COUNTY]).get("/hotline/routed")

    assert "市热线已办结" in response.text
    assert f"/hotline/routed/{closed['id']}/reply" not in response.text


def test_closed_handler_replayed(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    county = tree[COUNTY]
    event = held_events(county, "hotline.closed")[0]
    before = held_row(county, closed["id"])["closed_at"]  # type: ignore[index]

    with county.context.db.transaction() as session:
        ticket_closed(county.context, session, event)

    assert held_row(county, closed["id"])["closed_at"] == before  # type: ignore[index]


def test_close_of_unknown_ticket_ignored(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    county = tree[COUNTY]
    event = held_events(county, "hotline.closed")[0]
    unknown = {**event, "payload": {**event["payload"], "ticket_id": 99}}

    with county.context.db.transaction() as session:
        ticket_closed(county.context, session, unknown)

    assert held_row(county, 99) is None


def test_city_closed_ticket_rejects_reply(tree: dict[str, RunningNode]) -> None:
    ticket = create(tree[CITY], matter_code=None, department="林业局")
    close(tree[CITY], ticket["id"])

    response = reply(tree[CITY], ticket["id"])

    assert response.status_code == 409


# --- approver without a department ------------------------------------------------


def test_approver_without_department_lists(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    county = tree[COUNTY]
    county.add_user("all", "department_approver")
    create(tree[CITY])
    federation.sync(rounds=2)

    assert len(routed(county, as_user="all")) == 1


def test_approver_without_department_replies(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    county = tree[COUNTY]
    county.add_user("all", "department_approver")
    ticket = create(tree[CITY])
    federation.sync(rounds=2)

    response = county.post(
        f"/api/hotline-routed/tickets/{ticket['id']}/reply",
        json={"reply": "已受理"},
        as_user="all",
    )

    assert response.status_code == 201, response.text


# --- the reply form's reasons -----------------------------------------------------


def test_long_reply_page_says_too_long(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    browser = Browser(tree[COUNTY])
    browser.get("/hotline/routed")
    browser.post(f"/hotline/routed/{ticket['id']}/reply", {"reply": "长" * 2001})

    response = browser.get("/hotline/routed")

    assert "答复内容过长，最多 2000 个字" in response.text


def test_blank_reply_page_says_blank(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    browser = Browser(tree[COUNTY])
    browser.get("/hotline/routed")
    browser.post(f"/hotline/routed/{ticket['id']}/reply", {"reply": "  "})

    response = browser.get("/hotline/routed")

    assert "请填写答复内容" in response.text


# --- the hub's hotline figures ----------------------------------------------------


def hotline_rows(city: RunningNode, **query: str) -> dict[str, dict[str, Any]]:
    response = city.get("/api/hub/rollups", params=query)
    assert response.status_code == 200, response.text
    return {row["kind"]: row for row in response.json()["hotline"]}


@pytest.fixture
def two_handlers(tree: dict[str, RunningNode]) -> None:
    """A complaint routed to the county and a query routed to its township."""
    create(tree[CITY])
    create(tree[CITY], kind="query", matter_code=OLD_AGE, caller_division=TOWNSHIP)


def test_hotline_rollup_by_handler(
    tree: dict[str, RunningNode], two_handlers: None
) -> None:
    rows = hotline_rows(tree[CITY], handler=TOWNSHIP)

    assert list(rows) == ["query"]
    assert rows["query"]["tickets"] == 1


def test_hotline_rollup_by_county_keeps_both(
    tree: dict[str, RunningNode], two_handlers: None
) -> None:
    rows = hotline_rows(tree[CITY], county=COUNTY)

    assert sorted(rows) == ["complaint", "query"]


def test_hotline_rollup_handler_counts_closed(
    tree: dict[str, RunningNode], closed: dict[str, Any]
) -> None:
    rows = hotline_rows(tree[CITY], handler=COUNTY)

    assert rows["complaint"]["replied"] == 1


def test_hotline_rollup_reply_not_closed(
    tree: dict[str, RunningNode], federation: Federation
) -> None:
    ticket = create(tree[CITY])
    federation.sync(rounds=2)
    reply(tree[COUNTY], ticket["id"])
    federation.sync(rounds=2)

    rows = hotline_rows(tree[CITY])

    assert rows["complaint"]["replied"] == 0


def test_hub_hotline_column_says_closed(
    tree: dict[str, RunningNode], two_handlers: None
) -> None:
    response = Browser(tree[CITY]).get("/hub")

    assert "已办结" in response.text
    assert "已答复" not in response.text


FEED_FIELDS = (
    "origin",
    "seq",
    "kind",
    "case_id",
    "destination",
    "created_at",
    "payload",
    "key_id",
    "signature",
)
