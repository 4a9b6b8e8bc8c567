"""Electronic supervision: lights on real working days, records, decisions."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from common import clock
from common.models import (
    AccountabilityRecord,
    Breach,
    Case,
    CaseStep,
    Event,
    JointOpinion,
    NodeSetting,
    User,
)
from common.schemas.events import event_errors
from node import supervision
from tests.federation import Browser, Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
DEPARTMENT = "民政局"
SUPERVISION_KINDS = ("case.light_changed", "accountability.opened")


# --- set-up ----------------------------------------------------------------------


@pytest.fixture
def county(federation: Federation) -> RunningNode:
    """漳浦县 under the city, with a clerk, a supervisor and a center administrator."""
    federation.start(CITY)
    node = federation.start(COUNTY)
    node.add_user("clerk1", "window_clerk", department=DEPARTMENT)
    node.add_user("super1", "supervisor")
    node.add_user("admin1", "center_admin")
    return node


@pytest.fixture
def today_is() -> Iterator[Callable[[str], None]]:
    """Set the clock to 10:00 in China on a given day; reset it afterwards."""

    def set_day(day: str) -> None:
        moment = dt.datetime.combine(
            dt.date.fromisoformat(day), dt.time(10), tzinfo=clock.CHINA
        )
        clock.set_now(moment)

    yield set_day
    clock.reset()


def china_time(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(9), clock.CHINA)


def add_case(
    node: RunningNode,
    case_id: str,
    deadline: str | None,
    *,
    status: str = "accepted",
    department: str = DEPARTMENT,
    accepted: str = "2026-09-01",
    **fields: Any,
) -> str:
    """Store a case directly as a row, accepted unless ``status`` says otherwise."""
    with node.context.db.transaction() as session:
        session.add(
            Case(
                id=case_id,
                matter_code="ZZ-MZ-001",
                release=1,
                filed_at_code=node.code,
                applicant_name="张三",
                applicant_id_number="11010519491231002X",
                applicant_phone="13800000000",
                applicant_pseudonym="0" * 64,
                materials=[],
                status=status,
                received_at=china_time(accepted),
                accepted_at=china_time(accepted) if status != "received" else None,
                deadline=dt.date.fromisoformat(deadline) if deadline else None,
                department=department,
                **fields,
            )
        )
    return case_id


def add_step(
    node: RunningNode,
    case_id: str,
    position: int,
    deadline: str,
    *,
    status: str = "active",
    role: str = "department_approver",
    department: str = DEPARTMENT,
    started: str = "2026-09-01",
    **fields: Any,
) -> None:
    with node.context.db.transaction() as session:
        session.add(
            CaseStep(
                case_id=case_id,
                position=position,
                name=f"审核{position}",
                role=role,
                role_text="部门审批人员",
                department=department,
                status=status,
                started_at=china_time(started),
                deadline=dt.date.fromisoformat(deadline),
                **fields,
            )
        )


def add_opinion(
    node: RunningNode, case_id: str, department: str, deadline: str, **fields: Any
) -> None:
    with node.context.db.transaction() as session:
        session.add(
            JointOpinion(
                case_id=case_id,
                department=department,
                deadline=dt.date.fromisoformat(deadline),
                **fields,
            )
        )


def sweep(node: RunningNode, case_id: str) -> str:
    """Sweep one case in its own transaction; return the case's light."""
    with node.context.db.transaction() as session:
        case = session.get(Case, case_id)
        supervision.sweep_case(node.context, session, case)
        return case.light


def light_of(node: RunningNode, model: type, key: Any) -> str:
    with node.context.db.transaction() as session:
        return session.get(model, key).light


def records(node: RunningNode) -> list[AccountabilityRecord]:
    with node.context.db.transaction() as session:
        query = select(AccountabilityRecord).order_by(AccountabilityRecord.id)
        return list(session.scalars(query))


def events(node: RunningNode, kind: str) -> list[dict[str, Any]]:
    with node.context.db.transaction() as session:
        query = (
            select(Event)
            .where(Event.origin == node.code, Event.kind == kind)
            .order_by(Event.seq)
        )
        return [
            {
                "origin": e.origin,
                "kind": e.kind,
                "case_id": e.case_id,
                "destination": e.destination,
                "payload": e.payload,
                "personal": e.personal,
            }
            for e in session.scalars(query)
        ]


def set_threshold(node: RunningNode, value: dict[str, Any]) -> None:
    with node.context.db.transaction() as session:
        session.merge(NodeSetting(key=supervision.THRESHOLD_KEY, value=value))


def user_id(node: RunningNode, username: str) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(User.id).where(User.username == username))


# --- lights on the working-day calendar --------------------------------------------


# National Day 2026: 10-01 to 10-07 off, Saturday 10-10 worked.
NATIONAL_DAY = [
    ("2026-09-29", "green"),  # 09-30 and 10-08 are left
    ("2026-09-30", "yellow"),  # only 10-08 is left
    ("2026-10-05", "yellow"),  # a holiday, 10-08 still left
    ("2026-10-08", "yellow"),  # the deadline itself
    ("2026-10-09", "red"),
]


@pytest.mark.parametrize(("day", "expected"), NATIONAL_DAY)
def test_case_light_around_national_day(
    county: RunningNode, today_is: Callable[[str], None], day: str, expected: str
) -> None:
    add_case(county, "C1", "2026-10-08")
    today_is(day)
    assert sweep(county, "C1") == expected


def test_make_up_sunday_counts_as_working_day(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    # Sunday 09-20 is worked before National Day: on Saturday 09-19 two
    # working days (09-20 and 09-21) are left, so the case is still green.
    add_case(county, "C1", "2026-09-21")
    today_is("2026-09-19")
    assert sweep(county, "C1") == "green"
    today_is("2026-09-20")
    assert sweep(county, "C1") == "yellow"


def test_received_case_is_green(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", None, status="received", light="yellow")
    today_is("2026-09-02")
    assert sweep(county, "C1") == "green"


def test_red_case_opens_record(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    clerk = user_id(county, "clerk1")
    add_case(county, "C1", "2026-09-30", intake_by=clerk)
    today_is("2026-10-08")
    sweep(county, "C1")
    [record] = records(county)
    assert record.breach == Breach.CASE_OVERDUE
    assert record.subject == ""
    assert record.department == DEPARTMENT
    assert record.user_id == clerk
    assert record.deadline == dt.date(2026, 9, 30)
    assert record.working_days_late == 1
    assert record.decision is None


def test_lateness_counts_working_days(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30")
    lateness = []
    for day in ("2026-10-01", "2026-10-08", "2026-10-10", "2026-10-11", "2026-10-12"):
        today_is(day)
        sweep(county, "C1")
        lateness.append(records(county)[0].working_days_late)
    # Red from the first day after the deadline, a holiday with no working
    # day late yet; 10-08 to 10-10 (a worked Saturday) count, Sunday does not.
    assert lateness == [0, 1, 3, 3, 4]


def test_decided_record_keeps_lateness(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30")
    today_is("2026-10-08")
    sweep(county, "C1")
    with county.context.db.transaction() as session:
        session.scalar(select(AccountabilityRecord)).decision = "excused"
    today_is("2026-10-12")
    sweep(county, "C1")
    assert records(county)[0].working_days_late == 1


def test_repeated_sweep_adds_nothing(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30")
    add_step(county, "C1", 1, "2026-09-29")
    today_is("2026-10-08")
    sweep(county, "C1")
    changes = len(events(county, "case.light_changed"))
    opened = len(events(county, "accountability.opened"))
    sweep(county, "C1")
    assert len(records(county)) == 2
    assert len(events(county, "case.light_changed")) == changes
    assert len(events(county, "accountability.opened")) == opened


def test_light_change_emits_one_event(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-10-08")
    today_is("2026-09-30")
    sweep(county, "C1")
    [event] = events(county, "case.light_changed")
    assert event["destination"] is None
    assert event["payload"]["item"] == "case"
    assert event["payload"]["subject"] == ""
    assert event["payload"]["light"] == "yellow"
    assert event["payload"]["deadline"] == "2026-10-08"


def test_events_match_payload_schemas(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30")
    add_step(county, "C1", 1, "2026-09-29")
    add_opinion(county, "C1", "自然资源局", "2026-09-29")
    today_is("2026-10-08")
    sweep(county, "C1")
    found = [e for kind in SUPERVISION_KINDS for e in events(county, kind)]
    assert len(found) == 6
    for event in found:
        assert event_errors(event) == {}, event


def test_open_record_twice_gives_none(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-10-30")
    today_is("2026-09-30")
    opened = []
    for _ in range(2):
        with county.context.db.transaction() as session:
            case = session.get(Case, "C1")
            record = supervision.open_record(
                county.context,
                session,
                case,
                Breach.SECOND_NOTICE,
                "2",
                department=DEPARTMENT,
            )
            opened.append(record is not None)
    assert opened == [True, False]
    assert len(events(county, "accountability.opened")) == 1


def test_concurrent_sweeps_open_one_record(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30")
    today_is("2026-10-08")
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def sweep_at_once() -> None:
        try:
            start.wait()
            sweep(county, "C1")
        except BaseException as exc:  # reported by the assert below
            failures.append(exc)

    threads = [threading.Thread(target=sweep_at_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(records(county)) == 1
    assert len(events(county, "case.light_changed")) == 1
    assert len(events(county, "accountability.opened")) == 1


# --- paused, steps, opinions, finished items ------------------------------------------


def test_paused_case_opens_no_record(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30", clock_stopped_at=china_time("2026-09-28"))
    add_step(county, "C1", 1, "2026-09-29")
    today_is("2026-10-08")
    assert sweep(county, "C1") == "paused"
    assert light_of(county, CaseStep, ("C1", 1)) == "paused"
    assert records(county) == []


def test_resumed_case_turns_red(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30", clock_stopped_at=china_time("2026-09-28"))
    today_is("2026-10-08")
    sweep(county, "C1")
    with county.context.db.transaction() as session:
        session.get(Case, "C1").clock_stopped_at = None
    assert sweep(county, "C1") == "red"
    assert len(records(county)) == 1


def test_active_step_turns_red(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-10-30")
    add_step(county, "C1", 2, "2026-09-29")
    today_is("2026-09-30")
    assert sweep(county, "C1") == "green"
    assert light_of(county, CaseStep, ("C1", 2)) == "red"
    [record] = records(county)
    assert record.breach == Breach.STEP_OVERDUE
    assert record.subject == "2"


def test_pending_step_is_not_swept(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-10-30")
    add_step(county, "C1", 3, "2026-09-29", status="pending")
    today_is("2026-09-30")
    sweep(county, "C1")
    assert light_of(county, CaseStep, ("C1", 3)) == "green"


def test_pending_opinion_turns_red(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-10-30", joint=True)
    add_opinion(county, "C1", "自然资源局", "2026-09-29")
    add_opinion(county, "C1", "农业农村局", "2026-10-30")
    today_is("2026-09-30")
    sweep(county, "C1")
    assert light_of(county, JointOpinion, ("C1", "自然资源局")) == "red"
    assert light_of(county, JointOpinion, ("C1", "农业农村局")) == "green"
    [record] = records(county)
    assert record.breach == Breach.OPINION_OVERDUE
    assert record.subject == "自然资源局"
    assert record.department == "自然资源局"


def test_finished_step_keeps_light(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-10-30")
    add_step(
        county,
        "C1",
        1,
        "2026-09-29",
        status="approved",
        light="yellow",
        finished_at=china_time("2026-09-29"),
    )
    today_is("2026-10-08")
    sweep(county, "C1")
    assert light_of(county, CaseStep, ("C1", 1)) == "yellow"
    assert records(county) == []


def test_late_finished_step_gets_record(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    # Approved after its deadline, with no sweep in between that saw it red.
    approver = user_id(county, "staff")
    add_case(county, "C1", "2026-10-30")
    add_step(
        county,
        "C1",
        1,
        "2026-09-29",
        status="approved",
        finished_at=china_time("2026-10-09"),
        actor_id=approver,
    )
    today_is("2026-10-12")
    sweep(county, "C1")
    assert light_of(county, CaseStep, ("C1", 1)) == "red"
    [record] = records(county)
    assert record.user_id == approver
    assert record.working_days_late == 3  # 09-30, 10-08 and 10-09


def test_completed_case_keeps_light(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(
        county,
        "C1",
        "2026-09-30",
        status="completed",
        light="yellow",
        completed_at=china_time("2026-09-30"),
    )
    today_is("2026-10-12")
    assert sweep(county, "C1") == "yellow"
    assert records(county) == []


# --- warning threshold --------------------------------------------------------------


def test_threshold_in_working_days(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    set_threshold(county, {"kind": "working_days", "value": 3})
    add_case(county, "C1", "2026-10-13")
    today_is("2026-10-08")  # 10-09, 10-10, 10-12 and 10-13 are left
    assert sweep(county, "C1") == "green"
    today_is("2026-10-09")
    assert sweep(county, "C1") == "yellow"


def test_threshold_as_share_of_step_limit(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    # A step of 10 working days warns at 20 %: two working days or less left.
    set_threshold(county, {"kind": "share", "value": 0.2})
    add_case(county, "C1", "2026-11-30")
    add_step(county, "C1", 1, "2026-10-16", started="2026-09-29", limit_working_days=10)
    today_is("2026-10-13")  # 10-14, 10-15 and 10-16 are left
    sweep(county, "C1")
    assert light_of(county, CaseStep, ("C1", 1)) == "green"
    today_is("2026-10-14")
    sweep(county, "C1")
    assert light_of(county, CaseStep, ("C1", 1)) == "yellow"


def test_threshold_as_share_of_case_limit(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    # Accepted 09-01 with a deadline 20 working days later (09-29); 50 %
    # warns with 10 working days or less left.
    set_threshold(county, {"kind": "share", "value": 0.5})
    add_case(county, "C1", "2026-09-29")
    today_is("2026-09-14")  # 11 working days left
    assert sweep(county, "C1") == "green"
    today_is("2026-09-15")
    assert sweep(county, "C1") == "yellow"


def test_invalid_stored_threshold_uses_default(county: RunningNode) -> None:
    set_threshold(county, {"kind": "working_days", "value": -4})
    with county.context.db.transaction() as session:
        threshold = supervision.load_threshold(session)
    assert threshold == supervision.DEFAULT_THRESHOLD


# --- scheduled sweep ----------------------------------------------------------------


def test_sweep_all_counts_changed_cases(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30")
    add_case(county, "C2", "2026-10-08")
    add_case(county, "C3", "2026-12-31")
    add_case(
        county,
        "C4",
        "2026-09-30",
        status="completed",
        completed_at=china_time("2026-09-30"),
    )
    today_is("2026-09-30")
    assert supervision.sweep_all(COUNTY) == 2
    assert supervision.sweep_all(COUNTY) == 0


def test_sweep_schedule_runs_once_per_interval(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    today_is("2026-09-30")
    schedule = supervision.SweepSchedule(county.context)
    assert schedule.enqueue_if_due() is True
    county.context.redis.flushdb()
    assert schedule.enqueue_if_due() is False


def test_sweep_schedule_runs_on_new_date(
    county: RunningNode, today_is: Callable[[str], None]
) -> None:
    today_is("2026-09-30")
    schedule = supervision.SweepSchedule(county.context)
    schedule.enqueue_if_due()
    county.context.redis.flushdb()
    today_is("2026-10-08")
    assert schedule.enqueue_if_due() is True


def test_scheduled_sweep_runs_in_worker(
    federation: Federation, county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-09-30")
    today_is("2026-10-08")
    supervision.SweepSchedule(county.context).enqueue_if_due()
    federation.drain([COUNTY])
    assert light_of(county, Case, "C1") == "red"


# --- settings API ---------------------------------------------------------------------


def test_settings_default(county: RunningNode) -> None:
    response = county.get("/api/supervision/settings", as_user="super1")
    assert response.status_code == 200
    assert response.json() == {"kind": "working_days", "value": 1}


def test_admin_changes_threshold(county: RunningNode) -> None:
    body = {"kind": "share", "value": 0.25}
    response = county.request(
        "PUT", "/api/supervision/settings", json=body, as_user="admin1"
    )
    assert response.status_code == 200
    assert county.get("/api/supervision/settings", as_user="admin1").json() == body


def test_threshold_change_sweeps_cases(
    federation: Federation, county: RunningNode, today_is: Callable[[str], None]
) -> None:
    add_case(county, "C1", "2026-10-13")
    today_is("2026-10-08")
    sweep(county, "C1")
    body = {"kind": "working_days", "value": 5}
    county.request("PUT", "/api/supervision/settings", json=body, as_user="admin1")
    federation.drain([COUNTY])
    assert light_of(county, Case, "C1") == "yellow"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "working_days", "value": 1.5}, "value"),
        ({"kind": "working_days", "value": -1}, "value"),
        ({"kind": "working_days", "value": 31}, "value"),
        ({"kind": "share", "value": 0}, "value"),
        ({"kind": "share", "value": 1.5}, "value"),
        ({"kind": "share", "value": "NaN"}, "value"),
        ({"kind": "share", "value": True}, "value"),
        ({"kind": "share"}, "value"),
        ({"kind": "percent", "value": 20}, "kind"),
        ({"kind": "share", "value": 0.2, "extra": 1}, "extra"),
    ],
)
def test_bad_threshold_rejected(
    county: RunningNode, body: dict[str, Any], field: str
) -> None:
    response = county.request(
        "PUT", "/api/supervision/settings", json=body, as_user="admin1"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert county.get("/api/supervision/settings").json()["value"] == 1


@pytest.mark.parametrize(
    ("method", "user", "status"),
    [
        ("GET", "clerk1", 403),
        ("GET", None, 401),
        ("PUT", "super1", 403),
        ("PUT", "clerk1", 403),
    ],
)
def test_settings_roles(
    county: RunningNode, method: str, user: str | None, status: int
) -> None:
    body = {"kind": "working_days", "value": 2}
    response = county.request(
        method, "/api/supervision/settings", json=body, as_user=user
    )
    assert response.status_code == status


# --- accountability API ---------------------------------------------------------------


@pytest.fixture
def overdue(county: RunningNode, today_is: Callable[[str], None]) -> int:
    """A case overdue on 10-08 with its open record; returns the record id."""
    add_case(county, "C1", "2026-09-30")
    today_is("2026-10-08")
    sweep(county, "C1")
    return records(county)[0].id


def decide(
    node: RunningNode, record_id: int, body: dict[str, Any], user: str | None = "super1"
) -> Any:
    path = f"/api/accountability/{record_id}/decision"
    return node.post(path, json=body, as_user=user)


def test_record_excused(county: RunningNode, overdue: int) -> None:
    body = {"explanation": "系统停电", "decision": "excused"}
    response = decide(county, overdue, body)
    assert response.status_code == 200
    assert response.json()["decision"] == "excused"
    assert response.json()["points"] is None
    assert response.json()["decided_by"] == user_id(county, "super1")


def test_record_deducted(county: RunningNode, overdue: int) -> None:
    body = {"explanation": "审批拖延", "decision": "deducted", "points": 2}
    decide(county, overdue, body)
    [event] = events(county, "accountability.decided")
    assert event["payload"]["record_id"] == overdue
    assert event["payload"]["decision"] == "deducted"
    assert event["payload"]["points"] == 2
    assert event_errors(event) == {}


def test_decided_record_conflicts(county: RunningNode, overdue: int) -> None:
    decide(county, overdue, {"explanation": "停电", "decision": "excused"})
    body = {"explanation": "改判", "decision": "deducted", "points": 5}
    response = decide(county, overdue, body)
    assert response.status_code == 409
    assert records(county)[0].decision == "excused"
    assert len(events(county, "accountability.decided")) == 1


def test_unknown_record_not_found(county: RunningNode, overdue: int) -> None:
    response = decide(county, overdue + 1, {"explanation": "x", "decision": "excused"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "excused"}, "explanation"),
        ({"explanation": "  ", "decision": "excused"}, "explanation"),
        ({"explanation": "x", "decision": "pardoned"}, "decision"),
        ({"explanation": "x", "decision": "deducted"}, "points"),
        ({"explanation": "x", "decision": "deducted", "points": 0}, "points"),
        ({"explanation": "x", "decision": "deducted", "points": 101}, "points"),
        ({"explanation": "x", "decision": "deducted", "points": "5"}, "points"),
        ({"explanation": "x", "decision": "excused", "points": 3}, "points"),
        ({"explanation": "x" * 2001, "decision": "excused"}, "explanation"),
    ],
)
def test_bad_decision_rejected(
    county: RunningNode, overdue: int, body: dict[str, Any], field: str
) -> None:
    response = decide(county, overdue, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert records(county)[0].decision is None


@pytest.mark.parametrize(
    ("user", "status"), [("clerk1", 403), ("admin1", 403), (None, 401)]
)
def test_decision_needs_supervisor(
    county: RunningNode, overdue: int, user: str | None, status: int
) -> None:
    body = {"explanation": "停电", "decision": "excused"}
    assert decide(county, overdue, body, user).status_code == status


def test_records_list_open_first(county: RunningNode, overdue: int) -> None:
    add_case(county, "C2", "2026-09-29")
    sweep(county, "C2")
    decide(county, overdue, {"explanation": "停电", "decision": "excused"})
    listed = county.get("/api/accountability", as_user="super1").json()
    assert [r["case_id"] for r in listed] == ["C2", "C1"]
    assert listed[0]["breach_label"] == "办件超时"


def test_records_list_open_only(county: RunningNode, overdue: int) -> None:
    add_case(county, "C2", "2026-09-29")
    sweep(county, "C2")
    decide(county, overdue, {"explanation": "停电", "decision": "excused"})
    listed = county.get("/api/accountability?open=true", as_user="super1").json()
    assert [r["case_id"] for r in listed] == ["C2"]


def test_records_list_rejects_bad_query(county: RunningNode) -> None:
    response = county.get("/api/accountability?open=maybe", as_user="super1")
    assert response.status_code == 400
    assert "open" in response.json()["error"]["details"]["fields"]


# --- pages ----------------------------------------------------------------------------


def test_supervision_page_lists_overdue(county: RunningNode, overdue: int) -> None:
    page = Browser(county, "super1").get("/supervision")
    assert page.status_code == 200
    assert "红灯（超时）" in page.text
    assert 'href="/cases/C1"' in page.text
    assert f"/supervision/records/{overdue}" in page.text


def test_supervision_page_needs_sign_in(county: RunningNode) -> None:
    page = Browser(county, None).session.get(
        county.url + "/supervision", allow_redirects=False
    )
    assert page.status_code == 302
    assert "/login" in page.headers["Location"]


def test_record_form_decides(county: RunningNode, overdue: int) -> None:
    browser = Browser(county, "super1")
    browser.get(f"/supervision/records/{overdue}")
    form = {"explanation": "审批拖延", "decision": "deducted", "points": "3"}
    response = browser.post(f"/supervision/records/{overdue}", form)
    assert response.status_code == 303
    assert records(county)[0].points == 3


def test_record_form_shows_errors(county: RunningNode, overdue: int) -> None:
    browser = Browser(county, "super1")
    browser.get(f"/supervision/records/{overdue}")
    form = {"explanation": "审批拖延", "decision": "deducted"}
    response = browser.post(f"/supervision/records/{overdue}", form)
    assert response.status_code == 400
    assert "扣分" in response.text
    assert records(county)[0].decision is None


def test_record_form_needs_csrf_token(county: RunningNode, overdue: int) -> None:
    browser = Browser(county, "super1")
    browser.token = "forged"
    form = {"explanation": "停电", "decision": "excused"}
    response = browser.post(f"/supervision/records/{overdue}", form)
    assert response.status_code == 400
    assert records(county)[0].decision is None


def test_settings_form_changes_threshold(county: RunningNode) -> None:
    browser = Browser(county, "admin1")
    browser.get("/supervision")
    response = browser.post("/supervision/settings", {"kind": "share", "value": "0.3"})
    assert response.status_code == 303
    setting = county.get("/api/supervision/settings", as_user="admin1").json()
    assert setting == {"kind": "share", "value": 0.3}


def test_settings_form_rejects_bad_value(county: RunningNode) -> None:
    browser = Browser(county, "admin1")
    browser.get("/supervision")
    response = browser.post("/supervision/settings", {"kind": "share", "value": "2"})
    assert response.status_code == 400
    assert "数值" in response.text
    assert county.get("/api/supervision/settings").json()["value"] == 1
