"""Evaluations (好差评) after GB/T 39735-2020, bad-review follow-ups and results.

A case's evaluation is written at the node that handles the case, once.
Every bad review opens one follow-up that a supervisor takes through the
call-back and either rectification within the city's deadline or exclusion
on appeal. Each function runs in the caller's transaction and writes its
change together with the event that announces it; no event carries
personal data.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.calendar import load_calendar
from common.catalog import policies
from common.clock import local_date, today, utcnow
from common.context import NodeContext
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.evaluation_models import (
    Evaluation,
    FollowUp,
    FollowUpStatus,
    Level,
)
from common.models import Case, CaseStatus, ServiceWindow, User
from sync.outbox import emit

logger = logging.getLogger(__name__)


# --- rating -------------------------------------------------------------------


def get_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(
            f"case {case_id} not found at this center; rate it at the center "
            "that handles it",
            {"case_id": case_id},
        )
    return case


def check_not_own_case(session: Session, follow_up: FollowUp, supervisor: User) -> None:
    """Raise ``Forbidden`` if the supervisor took in the reviewed case."""
    case = session.get(Case, evaluation_of(session, follow_up).case_id)
    if case is not None and case.intake_by == supervisor.id:
        raise Forbidden(
            f"user {supervisor.username} handled case {case.id}; another "
            "supervisor follows up its review",
            {"case_id": case.id},
        )


def check_phone(case: Case, phone_last4: str) -> None:
    """Raise ``InvalidInput`` unless the digits end the applicant's phone number."""
    if len(phone_last4) != 4 or not case.applicant_phone.endswith(phone_last4):
        raise InvalidInput(
            "the last 4 digits do not match the applicant's phone number",
            {"fields": {"phone_last4": ["does not match the applicant's phone"]}},
        )


def record_rating(
    context: NodeContext,
    session: Session,
    data: dict[str, Any],
    entered_by: User | None = None,
) -> Evaluation:
    """Store the one rating of a case, and open a follow-up if it is a bad review.

    ``data`` is a loaded rating schema. Raises ``NotFound`` for a case not
    handled here, ``InvalidInput`` for a wrong phone check on the web and
    ``Conflict`` if the case has been rated already.
    """
    case = get_case(session, data["case_id"])
    if case.status not in (CaseStatus.COMPLETED, CaseStatus.REJECTED):
        raise Conflict(
            f"case {case.id} is {case.status}; a case is rated once it is "
            "completed or rejected",
            {"case_id": case.id, "status": case.status},
        )
    if entered_by is not None and case.intake_by == entered_by.id:
        raise Forbidden(
            f"user {entered_by.username} handled case {case.id} and may not "
            "enter its rating; another member of staff enters the slip",
            {"case_id": case.id},
        )
    # The applicant proves the case is theirs with the last 4 digits of their
    # phone, at the window device as on the web.
    # The device is not authenticated, so the views limit tries per case and
    # per client address and lock a case after 5 wrong checks
    # (node.rate_limits).
    if entered_by is None:
        check_phone(case, data.get("phone_last4") or "")
    existing = session.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    if existing is not None:
        raise Conflict(
            f"case {case.id} has been rated already, and a case takes one rating",
            {"case_id": case.id, "evaluation_id": existing.id},
        )

    evaluation = Evaluation(
        case_id=case.id,
        level=data["level"],
        channel=data["channel"],
        slip_number=data.get("slip_number"),
        comment=data.get("comment"),
        department=case.department,
        window=window_of(session, case),
        entered_by=entered_by.id if entered_by else None,
        rated_at=utcnow(),
        excluded=False,
    )
    session.add(evaluation)
    session.flush()
    emit(
        context,
        session,
        "evaluation.recorded",
        recorded_payload(evaluation),
        case_id=case.id,
    )
    logger.info(
        "Node %s: case %s rated %s by %s",
        context.code,
        case.id,
        evaluation.level,
        evaluation.channel,
    )

    if Level(evaluation.level).bad:
        open_follow_up(context, session, evaluation)
    return evaluation


def window_of(session: Session, case: Case) -> str | None:
    """Return the name of the window whose clerk took the case in, if known."""
    if case.intake_by is None:
        return None
    clerk = session.get(User, case.intake_by)
    if clerk is None or clerk.window_id is None:
        return None
    window = session.get(ServiceWindow, clerk.window_id)
    return window.name if window else None


def recorded_payload(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "case_id": evaluation.case_id,
        "level": evaluation.level,
        "bad": Level(evaluation.level).bad,
        "channel": evaluation.channel,
        "department": evaluation.department,
        "window": evaluation.window,
        "rated_at": evaluation.rated_at.isoformat(),
    }


def reject_clerk(user: User | None) -> None:
    """Raise ``Forbidden`` if the signed-in user is a window clerk, who may not rate."""
    if user is not None and "window_clerk" in user.roles:
        raise Forbidden(
            "窗口工作人员不得代替申请人评价，请由申请人本人在评价器或网上评价。"
            "(a window clerk may not rate for an applicant; sign out and let "
            "the applicant rate)",
            {"username": user.username},
        )


# --- follow-ups of bad reviews --------------------------------------------------


def open_follow_up(
    context: NodeContext, session: Session, evaluation: Evaluation
) -> FollowUp:
    """Open the follow-up of a bad review, due the policy's working days later."""
    days = policies(session)["bad_review_rectify_working_days"]
    rating_day = local_date(evaluation.rated_at)
    due = load_calendar(session).add_working_days(rating_day, days)
    follow_up = FollowUp(
        evaluation_id=evaluation.id,
        status=FollowUpStatus.OPEN,
        opened_at=utcnow(),
        deadline=due.date,
        deadline_provisional=due.provisional,
    )
    session.add(follow_up)
    session.flush()
    emit_follow_up(context, session, evaluation, follow_up, "opened")
    return follow_up


def emit_follow_up(
    context: NodeContext,
    session: Session,
    evaluation: Evaluation,
    follow_up: FollowUp,
    action: str,
) -> None:
    payload = {
        "case_id": evaluation.case_id,
        "action": action,
        "department": evaluation.department,
        "window": evaluation.window,
        "deadline": follow_up.deadline.isoformat(),
        "verified": follow_up.verified,
        "on_time": follow_up.on_time,
        "exclusion_reason": follow_up.exclusion_reason,
        "at": utcnow().isoformat(),
    }
    emit(
        context,
        session,
        "evaluation.follow_up",
        payload,
        case_id=evaluation.case_id,
    )
    logger.info(
        "Node %s: follow-up %s of case %s %s",
        context.code,
        follow_up.id,
        evaluation.case_id,
        action,
    )


def get_follow_up(session: Session, follow_up_id: int) -> FollowUp:
    follow_up = session.get(FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound(
            f"no follow-up {follow_up_id} at this center",
            {"follow_up_id": follow_up_id},
        )
    return follow_up


def require_status(follow_up: FollowUp, allowed: tuple[str, ...], step: str) -> None:
    if follow_up.status not in allowed:
        raise Conflict(
            f"follow-up {follow_up.id} is {follow_up.status}, so it cannot be "
            f"{step}; it must be {' or '.join(allowed)}",
            {"follow_up_id": follow_up.id, "status": follow_up.status},
        )


def verify(
    context: NodeContext,
    session: Session,
    follow_up_id: int,
    data: dict[str, Any],
    supervisor: User,
) -> FollowUp:
    """Record the call-back: whether the bad review was found true, with a note.

    A review found untrue stays open for an appeal to exclude it.
    """
    follow_up = get_follow_up(session, follow_up_id)
    check_not_own_case(session, follow_up, supervisor)
    require_status(follow_up, (FollowUpStatus.OPEN,), "verified")
    if follow_up.verified_at is not None:
        raise Conflict(
            f"follow-up {follow_up.id} has been called back already",
            {"follow_up_id": follow_up.id},
        )
    follow_up.verified = data["verified"]
    follow_up.verification_note = data["note"].strip()
    follow_up.verified_at = utcnow()
    follow_up.acted_by = supervisor.id
    if data["verified"]:
        follow_up.status = FollowUpStatus.VERIFIED
    emit_follow_up(
        context, session, evaluation_of(session, follow_up), follow_up, "verified"
    )
    return follow_up


def rectify(
    context: NodeContext,
    session: Session,
    follow_up_id: int,
    data: dict[str, Any],
    supervisor: User,
) -> FollowUp:
    """Record the rectification of a verified bad review, on time or late."""
    follow_up = get_follow_up(session, follow_up_id)
    check_not_own_case(session, follow_up, supervisor)
    require_status(follow_up, (FollowUpStatus.VERIFIED,), "rectified")
    follow_up.rectification_note = data["note"].strip()
    follow_up.rectified_at = utcnow()
    follow_up.on_time = today() <= follow_up.deadline
    follow_up.status = FollowUpStatus.RECTIFIED
    follow_up.acted_by = supervisor.id
    emit_follow_up(
        context, session, evaluation_of(session, follow_up), follow_up, "rectified"
    )
    return follow_up


def exclude(
    context: NodeContext,
    session: Session,
    follow_up_id: int,
    data: dict[str, Any],
    supervisor: User,
) -> FollowUp:
    """Exclude a bad review on appeal; it no longer counts in satisfaction."""
    follow_up = get_follow_up(session, follow_up_id)
    check_not_own_case(session, follow_up, supervisor)
    require_status(
        follow_up, (FollowUpStatus.OPEN, FollowUpStatus.VERIFIED), "excluded"
    )
    follow_up.exclusion_reason = data["reason"]
    follow_up.exclusion_note = data["note"].strip()
    follow_up.excluded_at = utcnow()
    follow_up.status = FollowUpStatus.EXCLUDED
    follow_up.acted_by = supervisor.id
    evaluation = evaluation_of(session, follow_up)
    evaluation.excluded = True
    emit_follow_up(context, session, evaluation, follow_up, "excluded")
    return follow_up


def evaluation_of(session: Session, follow_up: FollowUp) -> Evaluation:
    evaluation = session.get(Evaluation, follow_up.evaluation_id)
    assert evaluation is not None  # the foreign key guarantees it
    return evaluation


def follow_up_view(session: Session, follow_up: FollowUp) -> dict[str, Any]:
    evaluation = evaluation_of(session, follow_up)
    return {
        **{c.key: getattr(follow_up, c.key) for c in FollowUp.__table__.columns},
        "case_id": evaluation.case_id,
        "department": evaluation.department,
        "window": evaluation.window,
        "level": evaluation.level,
    }


def list_follow_ups(
    session: Session, status: str | None = None
) -> list[dict[str, Any]]:
    """Return follow-ups, the earliest deadline first, optionally of one status."""
    query = select(FollowUp).order_by(FollowUp.deadline, FollowUp.id)
    if status is not None:
        query = query.where(FollowUp.status == status)
    return [follow_up_view(session, f) for f in session.scalars(query)]


def evaluation_view(session: Session, evaluation: Evaluation) -> dict[str, Any]:
    follow_up_id = session.scalar(
        select(FollowUp.id).where(FollowUp.evaluation_id == evaluation.id)
    )
    return {
        **{c.key: getattr(evaluation, c.key) for c in Evaluation.__table__.columns},
        "bad": Level(evaluation.level).bad,
        "follow_up_id": follow_up_id,
    }


# --- published results -----------------------------------------------------------


def summary(session: Session) -> dict[str, Any]:
    """Count ratings per level for the center, each department and each window.

    The satisfaction rate is the share of counted reviews that are not bad;
    reviews excluded on appeal are not counted.
    """
    rows = session.execute(
        select(Evaluation, FollowUp).outerjoin(
            FollowUp, FollowUp.evaluation_id == Evaluation.id
        )
    ).all()
    total = Tally("", None)
    departments: dict[str, Tally] = {}
    windows: dict[tuple[str, str | None], Tally] = {}
    for evaluation, follow_up in rows:
        key = (evaluation.department, evaluation.window)
        for tally in (
            total,
            departments.setdefault(
                evaluation.department, Tally(evaluation.department, None)
            ),
            windows.setdefault(key, Tally(*key)),
        ):
            tally.add(evaluation, follow_up)
    return {
        "total": total.result(),
        "departments": [departments[k].result() for k in sorted(departments)],
        "windows": [
            windows[k].result()
            for k in sorted(windows, key=lambda k: (k[0], k[1] or ""))
        ],
    }


class Tally:
    """Running counts of one department, one window or the whole center."""

    def __init__(self, department: str, window: str | None) -> None:
        self.department = department
        self.window = window
        self.levels: Counter[str] = Counter()
        self.excluded = 0
        self.follow_ups: Counter[str] = Counter()
        self.rectified_late = 0

    def add(self, evaluation: Evaluation, follow_up: FollowUp | None) -> None:
        if evaluation.excluded:
            self.excluded += 1
        else:
            self.levels[evaluation.level] += 1
        if follow_up is not None:
            self.follow_ups[follow_up.status] += 1
            if follow_up.on_time is False:
                self.rectified_late += 1

    def result(self) -> dict[str, Any]:
        counted = sum(self.levels.values())
        bad = sum(n for level, n in self.levels.items() if Level(level).bad)
        return {
            "department": self.department,
            "window": self.window,
            "counts": {level.value: self.levels[level] for level in Level},
            "counted": counted,
            "bad": bad,
            "excluded": self.excluded,
            "satisfaction_rate": (counted - bad) / counted if counted else None,
            "follow_ups_open": self.follow_ups[FollowUpStatus.OPEN]
            + self.follow_ups[FollowUpStatus.VERIFIED],
            "rectified": self.follow_ups[FollowUpStatus.RECTIFIED],
            "rectified_late": self.rectified_late,
        }


def rating_of(session: Session, case_id: str) -> Evaluation | None:
    return session.scalar(select(Evaluation).where(Evaluation.case_id == case_id))
