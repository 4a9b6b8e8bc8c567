"""Joint review (联审联办) of a case of a joint matter.

One lead department and several participating departments handle the case
together: one combined supplement notice at intake (the case's notice lists
every department's materials), a joint site inspection scheduled with every
department, each participating department's opinion within its own limit,
a joint meeting, and the lead's minutes, which complete the case.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.calendar import WorkingCalendar
from common.clock import today, utcnow
from common.context import NodeContext
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.models import (
    Case,
    CaseStatus,
    JointOpinion,
    JointReview,
    Matter,
    Role,
    User,
)
from node import supervision
from node.cases.deadlines import accepted_on
from node.cases.service import get_case, require_status
from node.cases.steps import check_handover, finish_case, tell_hub

DECISIONS = {"agree": "同意", "conditional": "有条件同意", "disagree": "不同意"}


def opinion_limit(matter: Matter) -> int:
    """Return the working days the departments have for their opinions.

    They are due when every step before the final one (the minutes) would
    be done; a standard without step limits gives the whole promised limit.
    """
    steps = matter.standard.get("steps", [])
    limit = sum(s.get("limit_working_days") or 0 for s in steps[:-1])
    return limit or matter.promised_limit_working_days


def open_joint_review(
    context: NodeContext,
    session: Session,
    case: Case,
    matter: Matter,
    calendar: WorkingCalendar,
) -> JointReview:
    """Open the review of an accepted joint case and ask every department for its opinion."""
    joint = matter.standard["joint"]
    departments = [d for d in joint.get("departments", []) if d != joint["lead"]]
    review = JointReview(case_id=case.id, lead=joint["lead"], departments=departments)
    session.add(review)
    case.department = joint["lead"]
    due = calendar.add_working_days(accepted_on(case), opinion_limit(matter))
    for department in departments:
        session.add(
            JointOpinion(
                case_id=case.id,
                department=department,
                deadline=due.date,
                deadline_provisional=due.provisional,
            )
        )
    session.flush()
    tell_hub(
        context,
        session,
        case,
        "joint.opened",
        {
            "lead": review.lead,
            "departments": departments,
            "opinions_due": due.date.isoformat(),
        },
    )
    return review


def get_review(session: Session, case_id: str) -> tuple[Case, JointReview]:
    case = get_case(session, case_id)
    review = session.get(JointReview, case_id)
    if review is None:
        raise NotFound(
            f"case {case_id} is not a joint case, or is not accepted yet",
            {"case_id": case_id},
        )
    require_status(case, CaseStatus.ACCEPTED)
    return case, review


def opinions_of(session: Session, case_id: str) -> list[JointOpinion]:
    query = (
        select(JointOpinion)
        .where(JointOpinion.case_id == case_id)
        .order_by(JointOpinion.department)
    )
    return list(session.scalars(query))


def _check_department(user: User, department: str, role: Role) -> None:
    """Raise ``Forbidden`` unless ``user`` acts in ``role`` for ``department``."""
    if role not in user.roles:
        raise Forbidden(
            f"this needs the role {role.value}; user {user.username} does not hold it",
            {"needed": [role.value], "held": user.roles},
        )
    if user.department and user.department != department:
        raise Forbidden(
            f"only {department} may do this; user {user.username} works for "
            f"{user.department}",
            {"department": department},
        )


def schedule_inspection(
    context: NodeContext,
    session: Session,
    case_id: str,
    on: dt.date,
    note: str,
    user: User,
) -> JointReview:
    """Schedule the joint site inspection with every department."""
    case, review = get_review(session, case_id)
    _check_department(user, review.lead, Role.DEPARTMENT_APPROVER)
    if on < today():
        message = f"the inspection day {on.isoformat()} has passed"
        raise InvalidInput(message, {"fields": {"on": [message]}})
    if case.deadline is not None and on > case.deadline:
        message = (
            f"the inspection day {on.isoformat()} is after the case's deadline "
            f"{case.deadline.isoformat()}"
        )
        raise InvalidInput(message, {"fields": {"on": [message]}})
    if review.meeting_on is not None:
        raise Conflict(
            f"the joint meeting of case {case.id} was held already",
            {"case_id": case.id},
        )

    review.inspection_on = on
    review.inspection_note = note
    tell_hub(
        context,
        session,
        case,
        "joint.inspection_scheduled",
        {
            "on": on.isoformat(),
            "departments": [review.lead, *review.departments],
            "note": note,
        },
    )
    return review


def give_opinion(
    context: NodeContext,
    session: Session,
    case_id: str,
    department: str,
    decision: str,
    opinion: str,
    user: User,
) -> JointOpinion:
    """Record one participating department's opinion; each gives one."""
    case, review = get_review(session, case_id)
    row = session.get(JointOpinion, (case.id, department))
    if row is None:
        message = f"{department} takes no part in the review of case {case.id}"
        raise InvalidInput(message, {"fields": {"department": [message]}})
    _check_department(user, department, Role.DEPARTMENT_APPROVER)
    if row.decision is not None:
        raise Conflict(
            f"{department} gave its opinion on case {case.id} already",
            {"case_id": case.id, "department": department},
        )
    if decision not in DECISIONS:
        message = f"use one of: {', '.join(DECISIONS)}"
        raise InvalidInput(message, {"fields": {"decision": [message]}})

    row.decision = decision
    row.opinion = opinion
    row.given_at = utcnow()
    row.given_by = user.id
    tell_hub(
        context,
        session,
        case,
        "joint.opinion_given",
        {
            "department": department,
            "decision": decision,
            "given_at": row.given_at.isoformat(),
            "on_time": row.deadline is None or today() <= row.deadline,
        },
    )
    supervision.sweep_case(context, session, case)
    return row


def require_every_opinion(session: Session, case: Case) -> None:
    """Raise ``Conflict`` naming the departments whose opinion is still missing."""
    pending = [
        o.department for o in opinions_of(session, case.id) if o.decision is None
    ]
    if pending:
        raise Conflict(
            f"case {case.id} waits for the opinions of {'、'.join(pending)}",
            {"case_id": case.id, "pending": pending},
        )


def record_meeting(
    context: NodeContext,
    session: Session,
    case_id: str,
    on: dt.date,
    outcome: str,
    user: User,
) -> JointReview:
    """Record the joint meeting's outcome, once every opinion is in."""
    case, review = get_review(session, case_id)
    _check_department(user, review.lead, Role.DEPARTMENT_APPROVER)
    require_every_opinion(session, case)
    if on > today():
        message = f"the meeting day {on.isoformat()} is in the future"
        raise InvalidInput(message, {"fields": {"on": [message]}})
    earliest = max(accepted_on(case), review.inspection_on or accepted_on(case))
    if on < earliest:
        message = (
            f"the meeting day {on.isoformat()} is before the acceptance or the "
            f"inspection ({earliest.isoformat()})"
        )
        raise InvalidInput(message, {"fields": {"on": [message]}})

    review.meeting_on = on
    review.meeting_outcome = outcome
    tell_hub(
        context,
        session,
        case,
        "joint.meeting_held",
        {"on": on.isoformat(), "outcome": outcome},
    )
    return review


def record_minutes(
    context: NodeContext,
    session: Session,
    case_id: str,
    minutes: str,
    handover: str,
    user: User,
) -> Case:
    """Record the lead's minutes, which complete the case."""
    case, review = get_review(session, case_id)
    _check_department(user, review.lead, Role.DEPARTMENT_APPROVER)
    require_every_opinion(session, case)
    if review.meeting_on is None:
        raise Conflict(
            f"record the joint meeting of case {case.id} before its minutes",
            {"case_id": case.id},
        )
    if case.clock_stopped_at is not None:
        raise Conflict(
            f"case {case.id} waits for the materials of its supplement notice",
            {"case_id": case.id},
        )
    check_handover(context, case, handover)

    review.minutes = minutes
    review.minutes_at = utcnow()
    tell_hub(
        context,
        session,
        case,
        "joint.minutes_recorded",
        {"minutes_at": review.minutes_at.isoformat()},
    )
    return finish_case(context, session, case, minutes, handover)


def review_view(session: Session, case_id: str) -> dict[str, Any] | None:
    """Return the joint review of a case with each department's opinion, or None."""
    review = session.get(JointReview, case_id)
    if review is None:
        return None
    return {
        "lead": review.lead,
        "departments": review.departments,
        "inspection_on": review.inspection_on,
        "inspection_note": review.inspection_note,
        "meeting_on": review.meeting_on,
        "meeting_outcome": review.meeting_outcome,
        "minutes": review.minutes,
        "minutes_at": review.minutes_at,
        "opinions": [
            {
                "department": o.department,
                "deadline": o.deadline,
                "deadline_provisional": o.deadline_provisional,
                "decision": o.decision,
                "opinion": o.opinion,
                "given_at": o.given_at,
                "light": o.light,
            }
            for o in opinions_of(session, case_id)
        ],
    }
