"""Monthly window assessment: deductions, red-flag and five-star windows, the year."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from common import clock
from common.assessment_models import Deduction, StaffingGap, WindowScore
from common.models import AccountabilityRecord, Case, Event, ServiceWindow, User
from common.schemas.events import event_errors
from sync.outbox import emit
from tests.conftest import at
from tests.federation import Federation, RunningNode

# Windows of these tests exist before every month and day they score.
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

CITY = "350600"
MONTH = "2026-10"


@pytest.fixture
def center(federation: Federation) -> Iterator[RunningNode]:
    """Windows A and C of 民政局, B of 公安局, D of 人社局; clock on 2 November.

    clerk1 and clerk2 staff A, clerk3 staffs B; C and D have no clerks.
    """
    node = federation.start(CITY)
    federation.publish_catalog()
    for name, department in (
        ("clerk1", "民政局"),
        ("clerk2", "民政局"),
        ("clerk3", "公安局"),
    ):
        node.add_user(name, "window_clerk", department=department)
    node.add_user("super1", "supervisor")
    node.add_user("admin1", "center_admin")
    with node.context.db.transaction() as session:
        for name, department in (("A", "民政局"), ("B", "公安局"), ("C", "民政局")):
            session.add(
                ServiceWindow(
                    name=name, department=department, categories=[], created_at=LONG_AGO
                )
            )
        session.add(
            ServiceWindow(
                name="D", department="人社局", categories=[], created_at=LONG_AGO
            )
        )
        session.flush()
        for username, window in (("clerk1", "A"), ("clerk2", "A"), ("clerk3", "B")):
            user_of(session, username).window_id = window_id(session, window)
    clock.set_now(at("2026-11-02", 10))
    yield node
    clock.reset()


def user_of(session: Any, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def window_id(session: Any, name: str) -> int:
    return session.scalar(select(ServiceWindow.id).where(ServiceWindow.name == name))


def add_record(
    node: RunningNode,
    breach: str,
    department: str,
    username: str | None,
    opened: str = "2026-10-15",
    decision: str | None = None,
) -> int:
    """Store an accountability record of a new case, opened on ``opened``."""
    with node.context.db.transaction() as session:
        case_id = f"C-{session.scalar(select(func.count()).select_from(Case))}"
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
                department=department,
            )
        )
        session.flush()
        record = AccountabilityRecord(
            case_id=case_id,
            breach=breach,
            department=department,
            user_id=user_of(session, username).id if username else None,
            opened_at=at(opened),
            decision=decision,
        )
        session.add(record)
        session.flush()
        return record.id


def add_gap(node: RunningNode, username: str, window: str, day: str) -> None:
    with node.context.db.transaction() as session:
        session.add(
            StaffingGap(
                window_id=window_id(session, window),
                user_id=user_of(session, username).id,
                day=dt.date.fromisoformat(day),
                minutes_missing=420,
                recorded_at=at(day, 18),
            )
        )


def add_complaint(node: RunningNode, department: str) -> None:
    """Emit a verified complaint at this node, dated 20 October."""
    clock.set_now(at("2026-10-20"))
    with node.context.db.transaction() as session:
        payload = {"ticket": "T-1", "department": department, "handler": node.code}
        emit(node.context, session, "hotline.complaint_verified", payload)
    clock.set_now(at("2026-11-02"))


def add_hand_computed_month(node: RunningNode) -> None:
    """A: gap −1, own overdue −2, department overdue −2 → 95.

    B: second notice −1, complaint −2 → 97. C: department overdue −2 → 98.
    D: nothing → 100 and red flag.
    """
    add_gap(node, "clerk2", "A", "2026-10-12")
    add_record(node, "case_overdue", "民政局", "clerk1")
    add_record(node, "step_overdue", "民政局", None)
    add_record(node, "step_overdue", "民政局", "clerk1", decision="excused")
    add_record(node, "case_overdue", "民政局", "clerk1", opened="2026-09-30")
    add_record(node, "second_notice", "公安局", "clerk3")
    add_complaint(node, "公安局")


def compute(node: RunningNode, month: str = MONTH) -> dict[str, Any]:
    response = node.post(f"/api/assessment/{month}/compute", as_user="super1")
    assert response.status_code == 200, response.text
    return response.json()


def scores_by_window(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {window["window"]: window for window in result["windows"]}


def count(node: RunningNode, model: type) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def month_events(node: RunningNode) -> list[Event]:
    with node.context.db.transaction() as session:
        query = select(Event).where(Event.kind == "assessment.month")
        return list(session.scalars(query))


# --- monthly scores ----------------------------------------------------------------


def test_hand_computed_scores(center: RunningNode) -> None:
    add_hand_computed_month(center)
    scores = scores_by_window(compute(center))
    assert scores["A"]["score"] == 95
    assert scores["B"]["score"] == 97
    assert scores["C"]["score"] == 98
    assert scores["D"]["score"] == 100


def test_red_flag_needs_no_deduction(center: RunningNode) -> None:
    add_hand_computed_month(center)
    result = compute(center)
    assert result["red_flag_windows"] == ["D"]


def test_gap_deducts_per_absent_clerk(center: RunningNode) -> None:
    add_gap(center, "clerk1", "A", "2026-10-12")
    add_gap(center, "clerk2", "A", "2026-10-12")
    window_a = scores_by_window(compute(center))["A"]
    assert window_a["score"] == 98
    assert window_a["red_flag"] is False
    assert [d["rule"] for d in window_a["deductions"]] == ["staffing_gap"] * 2


def test_gap_with_zero_points_removes_red_flag(center: RunningNode) -> None:
    from node import assessment

    add_gap(center, "clerk1", "A", "2026-10-12")
    with center.context.db.transaction() as session:
        window = session.get(ServiceWindow, window_id(session, "A"))
        score, _ = assessment.store_score(
            session,
            window,
            MONTH,
            100,
            assessment.gap_charges(session, window, MONTH, 0),
        )
        assert score.score == 100
        assert score.red_flag is False


def test_excused_record_does_not_deduct(center: RunningNode) -> None:
    record_id = add_record(
        center, "case_overdue", "民政局", "clerk1", decision="excused"
    )
    window_a = scores_by_window(compute(center))["A"]
    assert window_a["score"] == 100
    assert str(record_id) not in [d["source_id"] for d in window_a["deductions"]]


def test_other_clerks_record_spares_window(center: RunningNode) -> None:
    add_record(center, "case_overdue", "民政局", "clerk1")
    scores = scores_by_window(compute(center))
    assert scores["A"]["score"] == 98
    assert scores["C"]["score"] == 100


def test_every_deduction_traces_to_source(center: RunningNode) -> None:
    add_hand_computed_month(center)
    compute(center)
    with center.context.db.transaction() as session:
        deductions = list(session.scalars(select(Deduction)))
        assert len(deductions) == 6
        for deduction in deductions:
            if deduction.source_kind == "staffing_gap":
                source = session.get(StaffingGap, int(deduction.source_id))
            elif deduction.source_kind == "accountability_record":
                source = session.get(AccountabilityRecord, int(deduction.source_id))
            else:
                origin, seq = deduction.source_id.split("#")
                source = session.scalar(
                    select(Event).where(
                        Event.origin == origin,
                        Event.seq == int(seq),
                        Event.kind == deduction.source_kind,
                    )
                )
            assert source is not None, deduction.source_id


def test_bad_review_deducts_unless_excluded(center: RunningNode) -> None:
    clock.set_now(at("2026-10-20"))
    with center.context.db.transaction() as session:
        for case_id, window in (("R-1", "A"), ("R-2", "B")):
            payload = {
                "case_id": case_id,
                "action": "opened",
                "window": window,
                "department": "民政局",
            }
            emit(
                center.context,
                session,
                "evaluation.follow_up",
                payload,
                case_id=case_id,
            )
        excluded = {
            "case_id": "R-2",
            "action": "excluded",
            "window": "B",
            "department": "公安局",
        }
        emit(center.context, session, "evaluation.follow_up", excluded, case_id="R-2")
    clock.set_now(at("2026-11-02"))
    scores = scores_by_window(compute(center))
    assert scores["A"]["score"] == 99
    assert scores["B"]["score"] == 100


# --- recomputing -------------------------------------------------------------------


def test_recompute_emits_only_changes(center: RunningNode) -> None:
    add_hand_computed_month(center)
    first = compute(center)
    second = compute(center)
    assert len(first["changed"]) == 4
    assert second["changed"] == []
    assert len(month_events(center)) == 4
    assert count(center, Deduction) == 6
    assert count(center, WindowScore) == 4


def test_recompute_replaces_scores(center: RunningNode) -> None:
    compute(center)
    add_record(center, "second_notice", "公安局", "clerk3")
    result = compute(center)
    with center.context.db.transaction() as session:
        assert result["changed"] == [window_id(session, "B")]
    assert scores_by_window(result)["B"]["score"] == 99
    assert len(month_events(center)) == 5


def test_month_events_match_schema(center: RunningNode) -> None:
    add_hand_computed_month(center)
    compute(center)
    for event in month_events(center):
        assert event_errors({"kind": event.kind, "payload": event.payload}) == {}


def test_stored_scores_are_listed(center: RunningNode) -> None:
    add_hand_computed_month(center)
    computed = compute(center)
    listed = center.get(f"/api/assessment/{MONTH}", as_user="admin1").json()
    assert listed["windows"] == computed["windows"]


# --- the year ----------------------------------------------------------------------


def add_year(node: RunningNode, window: str, scores: list[int]) -> None:
    """Store one score per month of 2025; 100 is a red-flag month."""
    with node.context.db.transaction() as session:
        wid = window_id(session, window)
        department = session.get(ServiceWindow, wid).department
        for month, value in enumerate(scores, start=1):
            session.add(
                WindowScore(
                    month=f"2025-{month:02d}",
                    window_id=wid,
                    department=department,
                    full_marks=100,
                    score=value,
                    red_flag=value == 100,
                    computed_at=at("2026-01-05"),
                )
            )


def year(node: RunningNode) -> dict[str, Any]:
    response = node.get("/api/assessment/years/2025", as_user="super1")
    assert response.status_code == 200, response.text
    return response.json()


def test_five_star_needs_ten_red_flag_months(center: RunningNode) -> None:
    add_year(center, "D", [100] * 10 + [97, 98])
    add_year(center, "B", [100] * 9 + [97, 98, 99])
    windows = {w["window"]: w for w in year(center)["windows"]}
    assert windows["D"]["five_star"] is True
    assert windows["B"]["five_star"] is False
    assert windows["B"]["red_flag_months"] == 9


def test_annual_component_of_160(center: RunningNode) -> None:
    # 民政局: A scores 95 and C 98 in every month, an average of 96.5,
    # so 160 × 0.965 = 154.4. 人社局: (10 × 100 + 2 × 97) / 12 = 99.5,
    # so 160 × 0.995 = 159.2.
    add_year(center, "A", [95] * 12)
    add_year(center, "C", [98] * 12)
    add_year(center, "D", [100] * 10 + [97, 97])
    departments = {d["department"]: d for d in year(center)["departments"]}
    assert departments["民政局"]["component"] == 154.4
    assert departments["民政局"]["average_score"] == 96.5
    assert departments["人社局"]["component"] == 159.2


def test_component_rounds_half_up(center: RunningNode) -> None:
    # 160 × 609 / 640 = 152.25 exactly, which rounds half up to 152.3.
    add_year(center, "D", [100])
    with center.context.db.transaction() as session:
        score = session.get(WindowScore, ("2025-01", window_id(session, "D")))
        score.full_marks, score.score = 640, 609
    (department,) = year(center)["departments"]
    assert department["component"] == 152.3


# --- bad input and roles -------------------------------------------------------------


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-10", "abcd-ef", "1999-12"])
def test_bad_month_rejected(center: RunningNode, month: str) -> None:
    response = center.post(f"/api/assessment/{month}/compute", as_user="super1")
    assert response.status_code == 400
    assert "month" in response.json()["error"]["details"]["fields"]
    assert count(center, WindowScore) == 0


def test_unfinished_month_rejected(center: RunningNode) -> None:
    response = center.post("/api/assessment/2026-11/compute", as_user="super1")
    assert response.status_code == 400
    assert "month" in response.json()["error"]["details"]["fields"]
    assert count(center, WindowScore) == 0


def test_bad_year_rejected(center: RunningNode) -> None:
    response = center.get("/api/assessment/years/twenty", as_user="super1")
    assert response.status_code == 400
    assert "year" in response.json()["error"]["details"]["fields"]


def test_compute_needs_supervisor(center: RunningNode) -> None:
    admin = center.post(f"/api/assessment/{MONTH}/compute", as_user="admin1")
    clerk = center.post(f"/api/assessment/{MONTH}/compute", as_user="clerk1")
    anonymous = center.post(f"/api/assessment/{MONTH}/compute", as_user=None)
    assert admin.status_code == 403
    assert clerk.status_code == 403
    assert anonymous.status_code == 401
    assert count(center, WindowScore) == 0


def test_scores_hidden_from_clerks(center: RunningNode) -> None:
    response = center.get(f"/api/assessment/{MONTH}", as_user="clerk1")
    assert response.status_code == 403


def test_pages_show_results(center: RunningNode) -> None:
    from tests.federation import Browser

    add_hand_computed_month(center)
    browser = Browser(center, "super1")
    browser.get(f"/assessment?month={MONTH}")
    response = browser.post("/assessment/compute", {"month": MONTH})
    assert response.status_code == 303
    assert "红旗" in browser.get(f"/assessment?month={MONTH}").text
    assert "五星级" in browser.get("/assessment/year?year=2026").text
