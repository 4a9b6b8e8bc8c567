"""Evaluations: one rating per case, bad-review follow-ups, published results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from common import clock
from common.calendar import load_calendar
from common.catalog import policies
from common.evaluation_models import Evaluation, FollowUp
from common.models import Event
from common.schemas.events import event_errors
from tests.conftest import application, at
from tests.federation import Browser, Federation, RunningNode, complete_case

CITY = "350600"
COUNTY = "350623"
MARRIAGE = "ZZ-MZ-001"  # 结婚登记, handled by the county
PHONE_LAST4 = "0000"  # the applicant's phone in tests.conftest.application


@pytest.fixture
def county(federation: Federation) -> Iterator[RunningNode]:
    """A county node holding release 1, with the clock on Monday 2026-11-02."""
    clock.set_now(at("2026-11-02"))
    federation.start(CITY)
    node = federation.start(COUNTY)
    federation.publish_catalog()
    federation.sync(rounds=2)
    yield node
    clock.reset()


def file_case(node: RunningNode) -> str:
    """File a case at the county and complete it: only finished cases are rated.

    A window clerk of the county takes it in, so the staff user, who holds
    every role, may follow up its review.
    """
    if "intake" not in node.tokens:
        node.add_user("intake", "window_clerk", department="民政局")
    response = node.post(
        "/api/applications", json=application(MARRIAGE), as_user="intake"
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    assert node.post(f"/api/cases/{case_id}/accept").status_code == 200
    assert complete_case(node, case_id).status_code == 200
    return case_id


def rate(node: RunningNode, case_id: str, level: str, **changes: Any) -> Any:
    body = {
        "case_id": case_id,
        "level": level,
        "channel": "device",
        "phone_last4": PHONE_LAST4,
        **changes,
    }
    return node.post("/api/evaluations", json=body, as_user=None)


def count(node: RunningNode, table: Any) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def follow_up_id(node: RunningNode, case_id: str) -> int:
    with node.context.db.transaction() as session:
        query = (
            select(FollowUp.id)
            .join(Evaluation, Evaluation.id == FollowUp.evaluation_id)
            .where(Evaluation.case_id == case_id)
        )
        found = session.scalar(query)
    assert found is not None
    return found


def department_result(node: RunningNode) -> dict[str, Any]:
    summary = node.get("/api/evaluations/summary", as_user=None).json()
    return summary["departments"][0]


# --- rating -------------------------------------------------------------------


def test_device_rating_is_stored(county: RunningNode) -> None:
    case_id = file_case(county)

    response = rate(county, case_id, "very_satisfied")

    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "device"
    assert response.json()["follow_up_id"] is None


def test_case_takes_one_rating(county: RunningNode) -> None:
    case_id = file_case(county)
    assert rate(county, case_id, "satisfied").status_code == 201

    second = rate(county, case_id, "very_satisfied")

    assert second.status_code == 409
    assert count(county, Evaluation) == 1


def test_clerk_cannot_rate_by_api(county: RunningNode) -> None:
    case_id = file_case(county)
    county.add_user("clerk1", "window_clerk", department="民政局")

    response = county.post(
        "/api/evaluations",
        json={
            "case_id": case_id,
            "level": "very_satisfied",
            "channel": "device",
            "phone_last4": PHONE_LAST4,
        },
        as_user="clerk1",
    )

    assert response.status_code == 403
    assert "不得代替申请人评价" in response.json()["error"]["message"]
    assert count(county, Evaluation) == 0


def test_clerk_cannot_open_rating_page(county: RunningNode) -> None:
    case_id = file_case(county)
    county.add_user("clerk1", "window_clerk", department="民政局")

    response = Browser(county, user="clerk1").get(f"/rate/{case_id}")

    assert response.status_code == 403
    assert "不得代替申请人评价" in response.text


def test_rating_page_without_login(county: RunningNode) -> None:
    case_id = file_case(county)
    browser = Browser(county, user=None)
    page = browser.get(f"/rate/{case_id}")
    assert page.status_code == 200
    assert case_id in page.text

    response = browser.post(
        f"/rate/{case_id}", {"level": "satisfied", "phone_last4": PHONE_LAST4}
    )

    assert response.status_code == 200
    assert "感谢您的评价" in response.text
    assert count(county, Evaluation) == 1


def test_web_rating_checks_phone(county: RunningNode) -> None:
    case_id = file_case(county)

    wrong = rate(county, case_id, "satisfied", channel="web", phone_last4="1234")
    right = rate(county, case_id, "satisfied", channel="web", phone_last4=PHONE_LAST4)

    assert wrong.status_code == 400
    assert "phone_last4" in wrong.json()["error"]["details"]["fields"]
    assert right.status_code == 201


def test_web_rating_needs_phone(county: RunningNode) -> None:
    case_id = file_case(county)

    body = {"case_id": case_id, "level": "satisfied", "channel": "web"}
    response = county.post("/api/evaluations", json=body, as_user=None)

    assert response.status_code == 400
    assert "phone_last4" in response.json()["error"]["details"]["fields"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"level": "great"}, "level"),
        ({"channel": "slip"}, "channel"),
        ({"case_id": ""}, "case_id"),
        ({"phone_last4": "12a4", "channel": "web"}, "phone_last4"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_rating_stores_nothing(
    county: RunningNode, changes: dict[str, Any], field: str
) -> None:
    case_id = file_case(county)
    body = {
        "case_id": case_id,
        "level": "satisfied",
        "channel": "device",
        "phone_last4": PHONE_LAST4,
        **changes,
    }

    response = county.post("/api/evaluations", json=body, as_user=None)

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert count(county, Evaluation) == 0


def test_rating_of_unknown_case(county: RunningNode) -> None:
    response = rate(county, "no-such-case", "satisfied")

    assert response.status_code == 404


def test_slip_records_who_entered_it(county: RunningNode) -> None:
    case_id = file_case(county)
    body = {
        "case_id": case_id,
        "level": "satisfied",
        "channel": "slip",
        "slip_number": "P-0001",
    }
    response = county.post("/api/evaluations/entered", json=body)

    assert response.status_code == 201, response.text
    with county.context.db.transaction() as session:
        evaluation = session.scalar(select(Evaluation))
        assert evaluation is not None
        assert evaluation.entered_by is not None
        assert evaluation.slip_number == "P-0001"


def test_slip_needs_number(county: RunningNode) -> None:
    case_id = file_case(county)
    body = {"case_id": case_id, "level": "satisfied", "channel": "slip"}

    response = county.post("/api/evaluations/entered", json=body)

    assert response.status_code == 400
    assert "slip_number" in response.json()["error"]["details"]["fields"]


def test_clerk_cannot_enter_slip(county: RunningNode) -> None:
    case_id = file_case(county)
    county.add_user("clerk1", "window_clerk", department="民政局")
    body = {"case_id": case_id, "level": "satisfied", "channel": "slip"}

    response = county.post("/api/evaluations/entered", json=body, as_user="clerk1")

    assert response.status_code == 403


def test_rating_event_has_no_personal_data(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")

    with county.context.db.transaction() as session:
        events = session.scalars(
            select(Event).where(Event.kind.like("evaluation.%"))
        ).all()
        kinds = sorted(event.kind for event in events)
        views = [
            {c.key: getattr(e, c.key) for c in Event.__table__.columns} for e in events
        ]

    assert kinds == ["evaluation.follow_up", "evaluation.recorded"]
    assert all(view["personal"] is None for view in views)
    assert all(event_errors(view) == {} for view in views)


def test_rating_reaches_hub(county: RunningNode, federation: Federation) -> None:
    case_id = file_case(county)
    rate(county, case_id, "satisfied")

    federation.sync(rounds=3)

    city = federation.nodes[CITY]
    with city.context.db.transaction() as session:
        found = session.scalar(
            select(func.count()).where(
                Event.kind == "evaluation.recorded", Event.case_id == case_id
            )
        )
    assert found == 1


# --- follow-ups of bad reviews ----------------------------------------------------


def test_bad_review_opens_one_follow_up(county: RunningNode) -> None:
    case_id = file_case(county)

    response = rate(county, case_id, "very_dissatisfied")

    assert response.status_code == 201
    assert response.json()["follow_up_id"] is not None
    assert count(county, FollowUp) == 1


def test_follow_up_deadline_follows_policy(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    with county.context.db.transaction() as session:
        days = policies(session)["bad_review_rectify_working_days"]
        expected = load_calendar(session).add_working_days(clock.today(), days)

    rows = county.get("/api/evaluations/follow-ups").json()

    assert rows[0]["deadline"] == expected.date.isoformat()
    assert rows[0]["deadline"] == "2026-11-09"  # 5 working days after Monday 11-02


def test_good_review_opens_no_follow_up(county: RunningNode) -> None:
    rate(county, file_case(county), "basically_satisfied")

    assert count(county, FollowUp) == 0


def test_rectified_on_time(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    follow_up = follow_up_id(county, case_id)
    path = f"/api/evaluations/follow-ups/{follow_up}"
    verified = county.post(f"{path}/verify", json={"verified": True, "note": "属实"})
    assert verified.status_code == 200, verified.text

    response = county.post(f"{path}/rectify", json={"note": "已加强培训"})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "rectified"
    assert response.json()["on_time"] is True


def test_rectified_late(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    path = f"/api/evaluations/follow-ups/{follow_up_id(county, case_id)}"
    county.post(f"{path}/verify", json={"verified": True, "note": "属实"})
    clock.set_now(at("2026-11-10"))

    response = county.post(f"{path}/rectify", json={"note": "已整改"})

    assert response.json()["on_time"] is False


def test_rectify_needs_verification(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    path = f"/api/evaluations/follow-ups/{follow_up_id(county, case_id)}"

    response = county.post(f"{path}/rectify", json={"note": "已整改"})

    assert response.status_code == 409


def test_verify_rejects_blank_note(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    path = f"/api/evaluations/follow-ups/{follow_up_id(county, case_id)}"

    response = county.post(f"{path}/verify", json={"verified": True, "note": "  "})

    assert response.status_code == 400
    assert "note" in response.json()["error"]["details"]["fields"]


def test_clerk_cannot_act_on_follow_up(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    county.add_user("clerk1", "window_clerk", department="民政局")
    path = f"/api/evaluations/follow-ups/{follow_up_id(county, case_id)}"

    response = county.post(
        f"{path}/verify", json={"verified": False, "note": "x"}, as_user="clerk1"
    )

    assert response.status_code == 403


def test_exclusion_reason_must_be_known(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    path = f"/api/evaluations/follow-ups/{follow_up_id(county, case_id)}"

    response = county.post(f"{path}/exclude", json={"reason": "rude", "note": "x"})

    assert response.status_code == 400
    assert "reason" in response.json()["error"]["details"]["fields"]


# --- published results ----------------------------------------------------------------


def test_satisfaction_counts_bad_reviews(county: RunningNode) -> None:
    rate(county, file_case(county), "satisfied")
    rate(county, file_case(county), "dissatisfied")

    result = department_result(county)

    assert result["counted"] == 2
    assert result["bad"] == 1
    assert result["satisfaction_rate"] == 0.5


def test_appeal_excludes_from_satisfaction(county: RunningNode) -> None:
    rate(county, file_case(county), "satisfied")
    bad_case = file_case(county)
    rate(county, bad_case, "very_dissatisfied")
    path = f"/api/evaluations/follow-ups/{follow_up_id(county, bad_case)}"

    response = county.post(
        f"{path}/exclude", json={"reason": "malicious", "note": "申请人误操作后承认"}
    )

    assert response.status_code == 200, response.text
    result = department_result(county)
    assert result["excluded"] == 1
    assert result["counted"] == 1
    assert result["satisfaction_rate"] == 1.0


def test_excluded_review_cannot_be_rectified(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    path = f"/api/evaluations/follow-ups/{follow_up_id(county, case_id)}"
    county.post(f"{path}/exclude", json={"reason": "mistaken", "note": "误评"})

    response = county.post(f"{path}/verify", json={"verified": True, "note": "属实"})

    assert response.status_code == 409


def test_results_page_is_public(county: RunningNode) -> None:
    rate(county, file_case(county), "satisfied")

    response = Browser(county, user=None).get("/evaluations")

    assert response.status_code == 200
    assert "民政局" in response.text


def test_follow_up_page_steps(county: RunningNode) -> None:
    case_id = file_case(county)
    rate(county, case_id, "dissatisfied")
    follow_up = follow_up_id(county, case_id)
    browser = Browser(county)
    browser.get("/evaluations/follow-ups")

    response = browser.post(
        f"/evaluations/follow-ups/{follow_up}/verify",
        {"verified": "true", "note": "属实"},
    )

    assert response.status_code == 303
    rows = county.get("/api/evaluations/follow-ups").json()
    assert rows[0]["status"] == "verified"


def test_unfinished_case_cannot_be_rated(county: RunningNode) -> None:
    response = county.post("/api/applications", json=application(MARRIAGE))
    case_id = response.json()["id"]
    assert rate(county, case_id, "very_dissatisfied").status_code == 409
    assert count(county, Evaluation) == 0


def test_device_rating_needs_phone_digits(county: RunningNode) -> None:
    case_id = file_case(county)
    response = rate(county, case_id, "very_dissatisfied", phone_last4="9999")
    assert response.status_code == 400
    assert count(county, Evaluation) == 0


def test_handler_cannot_enter_slip(county: RunningNode) -> None:
    # The staff user takes this case in, so may not enter its rating.
    filed = county.post("/api/applications", json=application(MARRIAGE))
    case_id = filed.json()["id"]
    county.post(f"/api/cases/{case_id}/accept")
    complete_case(county, case_id)
    body = {
        "case_id": case_id,
        "level": "satisfied",
        "channel": "slip",
        "slip_number": "P-2",
    }
    response = county.post("/api/evaluations/entered", json=body)
    assert response.status_code == 403
