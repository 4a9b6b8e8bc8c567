"""Window staffing: signing in and out, the roster, and staffing gaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from common import clock
from common.assessment_models import StaffingGap, StaffingShift
from common.models import Event, NodeSetting, ServiceWindow, User
from common.schemas.events import event_errors
from node.staffing import WORKING_HOURS_SETTING
from tests.conftest import at
from tests.federation import Browser, Federation, RunningNode

# Windows of these tests exist before every month and day they score.
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

CITY = "350600"
# A Monday and a working day.
MONDAY = "2026-11-02"


@pytest.fixture
def center(federation: Federation) -> RunningNode:
    """The city center with window 1 of 民政局 staffed by clerk1 and clerk2."""
    node = federation.start(CITY)
    federation.publish_catalog()
    node.add_user("clerk1", "window_clerk", department="民政局")
    node.add_user("clerk2", "window_clerk", department="民政局")
    node.add_user("loose", "window_clerk", department="民政局")
    node.add_user("super1", "supervisor")
    node.add_user("admin1", "center_admin")
    with node.context.db.transaction() as session:
        window = ServiceWindow(
            name="1号窗口",
            department="民政局",
            categories=["救助"],
            created_at=LONG_AGO,
        )
        session.add(window)
        session.flush()
        for user in session.scalars(select(User)):
            if user.username in ("clerk1", "clerk2"):
                user.window_id = window.id
    return node


@pytest.fixture
def now_is() -> Iterator[Callable[[dt.datetime], None]]:
    yield clock.set_now
    clock.reset()


def count(node: RunningNode, model: type) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def events_of(node: RunningNode, kind: str) -> list[Event]:
    with node.context.db.transaction() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind)))


def work_full_day(node: RunningNode, now_is: Callable[[dt.datetime], None]) -> None:
    """Sign clerk1 in before 09:00 and out after 17:30 on MONDAY."""
    now_is(at(MONDAY, 8))
    assert node.post("/api/staffing/sign-in", as_user="clerk1").status_code == 201
    now_is(at(MONDAY, 18))
    assert node.post("/api/staffing/sign-out", as_user="clerk1").status_code == 200


def compute(node: RunningNode, day: str, as_user: str = "super1") -> dict:
    response = node.post(
        "/api/staffing/gaps/compute", json={"day": day}, as_user=as_user
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- signing in and out ------------------------------------------------------------


def test_sign_in_then_out(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    now_is(at(MONDAY, 9))
    signed_in = center.post("/api/staffing/sign-in", as_user="clerk1").json()
    now_is(at(MONDAY, 12))
    signed_out = center.post("/api/staffing/sign-out", as_user="clerk1").json()
    assert signed_in["window"] == "1号窗口"
    assert signed_in["signed_out_at"] is None
    assert signed_out["id"] == signed_in["id"]
    assert signed_out["signed_out_at"] is not None


def test_sign_events_match_schemas(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    work_full_day(center, now_is)
    for kind in ("staffing.signed_in", "staffing.signed_out"):
        (event,) = events_of(center, kind)
        assert event_errors({"kind": kind, "payload": event.payload}) == {}


def test_second_sign_in_conflicts(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    now_is(at(MONDAY, 9))
    center.post("/api/staffing/sign-in", as_user="clerk1")
    again = center.post("/api/staffing/sign-in", as_user="clerk1")
    assert again.status_code == 409
    assert count(center, StaffingShift) == 1


def test_sign_out_without_shift_conflicts(center: RunningNode) -> None:
    response = center.post("/api/staffing/sign-out", as_user="clerk1")
    assert response.status_code == 409
    assert events_of(center, "staffing.signed_out") == []


def test_unassigned_clerk_cannot_sign_in(center: RunningNode) -> None:
    response = center.post("/api/staffing/sign-in", as_user="loose")
    assert response.status_code == 409
    assert count(center, StaffingShift) == 0


def test_open_shift_closes_at_midnight(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    now_is(at(MONDAY, 9))
    center.post("/api/staffing/sign-in", as_user="clerk1")
    now_is(at("2026-11-03", 9))
    assert center.post("/api/staffing/sign-in", as_user="clerk1").status_code == 201
    with center.context.db.transaction() as session:
        first = session.scalars(
            select(StaffingShift).order_by(StaffingShift.id)
        ).first()
        assert first is not None
        assert first.signed_out_at == at("2026-11-03", 0)


def test_sign_in_needs_clerk_role(center: RunningNode) -> None:
    assert center.post("/api/staffing/sign-in", as_user="super1").status_code == 403
    assert center.post("/api/staffing/sign-in", as_user=None).status_code == 401


# --- gaps --------------------------------------------------------------------------


def test_absent_clerk_gets_gap(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    work_full_day(center, now_is)
    now_is(at("2026-11-03", 10))
    result = compute(center, MONDAY)
    assert result["recorded"] == 1
    (gap,) = result["gaps"]
    assert gap["username"] == "clerk2"
    # 09:00–12:00 and 13:30–17:30 make 420 minutes.
    assert gap["minutes_missing"] == 420


def test_partial_absence_counts_minutes(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    work_full_day(center, now_is)
    now_is(at(MONDAY, 9))
    center.post("/api/staffing/sign-in", as_user="clerk2")
    now_is(at(MONDAY, 16))
    center.post("/api/staffing/sign-out", as_user="clerk2")
    now_is(at("2026-11-03", 10))
    (gap,) = compute(center, MONDAY)["gaps"]
    assert gap["minutes_missing"] == 90


def test_gap_computed_once(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    now_is(at("2026-11-03", 10))
    first = compute(center, MONDAY)
    second = compute(center, MONDAY, as_user="admin1")
    assert first["recorded"] == 2
    assert second["recorded"] == 0
    assert len(second["gaps"]) == 2
    assert count(center, StaffingGap) == 2
    assert len(events_of(center, "staffing.gap")) == 2


def test_gap_event_matches_schema(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    now_is(at("2026-11-03", 10))
    compute(center, MONDAY)
    for event in events_of(center, "staffing.gap"):
        assert event_errors({"kind": event.kind, "payload": event.payload}) == {}


def test_weekend_has_no_gaps(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    now_is(at("2026-11-03", 10))
    result = compute(center, "2026-11-01")
    assert result["working_day"] is False
    assert count(center, StaffingGap) == 0


def test_gap_job_is_idempotent(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    from node.staffing import record_staffing_gaps

    now_is(at("2026-11-03", 10))
    first = record_staffing_gaps(CITY)
    second = record_staffing_gaps(CITY)
    # 27 October to 2 November has five working days, with two absent clerks.
    assert first == 10
    assert second == 0
    assert count(center, StaffingGap) == 10


@pytest.mark.parametrize("day", ["", "2026-02-30", "yesterday", None])
def test_gap_compute_rejects_bad_day(center: RunningNode, day: object) -> None:
    response = center.post(
        "/api/staffing/gaps/compute", json={"day": day}, as_user="super1"
    )
    assert response.status_code == 400
    assert "day" in response.json()["error"]["details"]["fields"]
    assert count(center, StaffingGap) == 0


def test_gap_compute_rejects_today(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    now_is(at(MONDAY, 18))
    response = center.post(
        "/api/staffing/gaps/compute", json={"day": MONDAY}, as_user="super1"
    )
    assert response.status_code == 400
    assert "day" in response.json()["error"]["details"]["fields"]
    assert count(center, StaffingGap) == 0


def test_gap_compute_needs_role(center: RunningNode) -> None:
    body = {"day": "2026-11-02"}
    forbidden = center.post("/api/staffing/gaps/compute", json=body, as_user="clerk1")
    anonymous = center.post("/api/staffing/gaps/compute", json=body, as_user=None)
    assert forbidden.status_code == 403
    assert anonymous.status_code == 401


# --- working hours -----------------------------------------------------------------


def test_working_hours_change_gap_minutes(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    hours = {"periods": [{"start": "08:30", "end": "12:00"}]}
    response = center.request(
        "PUT", "/api/staffing/working-hours", json=hours, as_user="admin1"
    )
    assert response.status_code == 200, response.text
    now_is(at("2026-11-03", 10))
    gaps = compute(center, MONDAY)["gaps"]
    assert [gap["minutes_missing"] for gap in gaps] == [210, 210]


@pytest.mark.parametrize(
    "periods",
    [
        [],
        [{"start": "12:00", "end": "09:00"}],
        [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "17:00"}],
        [{"start": "9h", "end": "12:00"}],
    ],
)
def test_invalid_working_hours_rejected(center: RunningNode, periods: list) -> None:
    response = center.request(
        "PUT",
        "/api/staffing/working-hours",
        json={"periods": periods},
        as_user="admin1",
    )
    assert response.status_code == 400
    assert "periods" in response.json()["error"]["details"]["fields"]
    with center.context.db.transaction() as session:
        assert session.get(NodeSetting, WORKING_HOURS_SETTING) is None


def test_working_hours_need_admin(center: RunningNode) -> None:
    hours = {"periods": [{"start": "08:30", "end": "12:00"}]}
    response = center.request(
        "PUT", "/api/staffing/working-hours", json=hours, as_user="super1"
    )
    assert response.status_code == 403


# --- page --------------------------------------------------------------------------


def test_page_signs_clerk_in(center: RunningNode) -> None:
    browser = Browser(center, "clerk1")
    page = browser.get("/staffing")
    assert "签到" in page.text
    response = browser.post("/staffing/sign-in", {})
    assert response.status_code == 303
    assert "在岗" in browser.get("/staffing").text
    assert count(center, StaffingShift) == 1


def test_roster_lists_assigned_clerks(center: RunningNode) -> None:
    roster = center.get("/api/staffing/roster", as_user="super1").json()
    (window,) = roster["windows"]
    assert [c["username"] for c in window["clerks"]] == ["clerk1", "clerk2"]


def test_no_gap_before_window_existed(center: RunningNode, now_is) -> None:  # type: ignore[no-untyped-def]
    with center.context.db.transaction() as session:
        window = session.scalar(select(ServiceWindow))
        assert window is not None
        window.created_at = at("2026-11-03", 8)
    now_is(at("2026-11-04", 10))
    assert compute(center, MONDAY)["recorded"] == 0
