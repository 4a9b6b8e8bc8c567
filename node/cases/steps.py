"""Steps of a promised matter and the completion of a case.

An accepted promised matter runs through its standard's steps in order,
each with its role, its department and its own limit. An approver approves
a step, which starts the next one, or returns it, which sends the case back
to the step before. An immediate matter has no steps: the window completes
it on the spot. A joint matter is run by its joint review instead.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.calendar import WorkingCalendar, load_calendar
from common.catalog import get_matter
from common.clock import local_date, today, utcnow
from common.context import NodeContext
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.models import Case, CaseStatus, CaseStep, Matter, Role, User
from node import supervision
from node.cases.deadlines import accepted_on
from node.cases.service import announce, get_case, require_status
from sync.outbox import emit

logger = logging.getLogger(__name__)

HANDOVERS = {
    "window": "窗口领取",
    "post": "邮寄送达",
    "filing_node": "送回报送网点",
}


def step_role(role_text: str) -> str:
    """Return the role that acts on a step whose standard words its role so."""
    if role_text == Role.WINDOW_CLERK or "窗口" in role_text or "网点" in role_text:
        return Role.WINDOW_CLERK
    return Role.DEPARTMENT_APPROVER


def is_applicant_step(step: dict[str, Any]) -> bool:
    # The applicant's own part ("申请") is not a step of the center's handling.
    return "申请人" in (step.get("role") or "")


def limit_of_case(session: Session, case: Case) -> int:
    return get_matter(
        session, case.matter_code, case.release
    ).promised_limit_working_days


def tell_hub(
    context: NodeContext, session: Session, case: Case, kind: str, payload: dict
) -> None:
    """Emit an event about a case that only the hub reads."""
    emit(context, session, kind, {"case_id": case.id, **payload}, case_id=case.id)


def start_steps(
    context: NodeContext,
    session: Session,
    case: Case,
    matter: Matter,
    calendar: WorkingCalendar,
    clerk: User | None,
) -> None:
    """Lay out the case's steps; the intake step is done by the acceptance."""
    steps = [s for s in matter.standard.get("steps", []) if not is_applicant_step(s)]
    for position, standard in enumerate(steps):
        role_text = standard.get("role") or "窗口工作人员"
        session.add(
            CaseStep(
                case_id=case.id,
                position=position,
                name=standard["name"],
                role=step_role(role_text),
                role_text=role_text,
                department=case.department,
                limit_working_days=standard.get("limit_working_days"),
                status="pending",
            )
        )
    session.flush()
    first = _step(session, case, 0)
    if first is None:
        return
    if first.role == Role.WINDOW_CLERK and "受理" in first.name:
        _activate(context, session, case, first, calendar)
        _finish(context, session, case, first, "approved", clerk, "受理")
        first = _step(session, case, 1)
    if first is not None:
        _activate(context, session, case, first, calendar)


def _step(session: Session, case: Case, position: int) -> CaseStep | None:
    return session.get(CaseStep, (case.id, position))


def steps_of(session: Session, case_id: str) -> list[CaseStep]:
    query = (
        select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.position)
    )
    return list(session.scalars(query))


def active_step(session: Session, case: Case) -> CaseStep | None:
    query = select(CaseStep).where(
        CaseStep.case_id == case.id, CaseStep.status == "active"
    )
    return session.scalar(query)


def _activate(
    context: NodeContext,
    session: Session,
    case: Case,
    step: CaseStep,
    calendar: WorkingCalendar,
) -> None:
    step.status = "active"
    step.started_at = utcnow()
    step.finished_at = None
    step.actor_id = None
    if step.limit_working_days is None:
        # A step without its own limit must finish inside the case's.
        step.deadline = case.deadline
        step.deadline_provisional = case.deadline_provisional
    else:
        deadline = calendar.add_working_days(today(), step.limit_working_days)
        step.deadline, step.deadline_provisional = deadline.date, deadline.provisional
    step.light = "green"
    tell_hub(
        context,
        session,
        case,
        "case.step_started",
        {
            "position": step.position,
            "name": step.name,
            "role": step.role,
            "department": step.department,
            "limit_working_days": step.limit_working_days,
            "started_at": step.started_at.isoformat(),
            "deadline": step.deadline.isoformat() if step.deadline else None,
        },
    )


def _finish(
    context: NodeContext,
    session: Session,
    case: Case,
    step: CaseStep,
    outcome: str,
    user: User | None,
    opinion: str,
) -> None:
    step.status = outcome
    step.finished_at = utcnow()
    step.actor_id = user.id if user else None
    step.opinion = opinion
    on_time = step.deadline is None or local_date(step.finished_at) <= step.deadline
    tell_hub(
        context,
        session,
        case,
        "case.step_finished",
        {
            "position": step.position,
            "outcome": outcome,
            "finished_at": step.finished_at.isoformat(),
            "on_time": on_time,
        },
    )


def check_actor(step: CaseStep, user: User) -> None:
    """Raise ``Forbidden`` unless ``user`` may act on ``step``.

    A user without a department acts for every department of the center, as
    at a small township center where one person covers several windows.
    """
    if step.role not in user.roles:
        raise Forbidden(
            f"step {step.position} ({step.name}) is done by the role "
            f"{step.role}; user {user.username} does not hold it",
            {"needed": [step.role], "held": user.roles},
        )
    if user.department and user.department != step.department:
        raise Forbidden(
            f"step {step.position} ({step.name}) belongs to {step.department}, "
            f"not to {user.department}",
            {"department": step.department},
        )


def _current(session: Session, case: Case, position: int) -> CaseStep:
    require_status(case, CaseStatus.ACCEPTED)
    step = _step(session, case, position)
    if step is None:
        raise NotFound(
            f"case {case.id} has no step {position}",
            {"case_id": case.id, "position": position},
        )
    if step.status != "active":
        raise Conflict(
            f"step {position} of case {case.id} is {step.status}, not active",
            {"case_id": case.id, "position": position, "status": step.status},
        )
    if case.clock_stopped_at is not None:
        raise Conflict(
            f"case {case.id} waits for the materials of its supplement notice",
            {"case_id": case.id},
        )
    return step


def approve_step(
    context: NodeContext,
    session: Session,
    case_id: str,
    position: int,
    user: User,
    opinion: str,
) -> Case:
    """Approve the active step and start the next; the last one waits for completion."""
    case = get_case(session, case_id)
    step = _current(session, case, position)
    check_actor(step, user)

    _finish(context, session, case, step, "approved", user, opinion)
    following = _step(session, case, position + 1)
    if following is not None:
        _activate(context, session, case, following, load_calendar(session))
    supervision.sweep_case(context, session, case)
    return case


def return_step(
    context: NodeContext,
    session: Session,
    case_id: str,
    position: int,
    user: User,
    opinion: str,
) -> Case:
    """Return the active step to the step before, which runs again."""
    case = get_case(session, case_id)
    step = _current(session, case, position)
    check_actor(step, user)
    previous = _step(session, case, position - 1)
    if previous is None:
        raise Conflict(
            f"step {position} is the first step of case {case.id}; reject the "
            "case at the window instead",
            {"case_id": case.id, "position": position},
        )

    _finish(context, session, case, step, "returned", user, opinion)
    step.status = "pending"
    _activate(context, session, case, previous, load_calendar(session))
    supervision.sweep_case(context, session, case)
    return case


def complete_case(
    context: NodeContext,
    session: Session,
    case_id: str,
    result: str,
    handover: str = "window",
    user: User | None = None,
) -> Case:
    """Complete an accepted case with its result and how it is handed over.

    A promised matter must have passed every step; a last step done at the
    window is finished by the completion itself.
    """
    case = get_case(session, case_id)
    require_status(case, CaseStatus.ACCEPTED)
    if case.joint:
        raise Conflict(
            f"case {case.id} is a joint case: the lead department's minutes "
            "complete it",
            {"case_id": case.id},
        )
    check_handover(context, case, handover)
    _close_last_step(context, session, case, user)
    return finish_case(context, session, case, result, handover)


def check_handover(context: NodeContext, case: Case, handover: str) -> None:
    if handover not in HANDOVERS:
        message = f"use one of: {', '.join(HANDOVERS)}"
        raise InvalidInput(message, {"fields": {"handover": [message]}})
    if handover == "filing_node" and case.filed_at_code == context.code:
        message = (
            "the case was filed here; hand the result over at the window or by post"
        )
        raise InvalidInput(message, {"fields": {"handover": [message]}})


def _close_last_step(
    context: NodeContext, session: Session, case: Case, user: User | None
) -> None:
    if case.clock_stopped_at is not None:
        raise Conflict(
            f"case {case.id} waits for the materials of its supplement notice",
            {"case_id": case.id},
        )
    open_steps = [s for s in steps_of(session, case.id) if s.status != "approved"]
    if not open_steps:
        return
    last = open_steps[0]
    if (
        len(open_steps) == 1
        and last.status == "active"
        and last.role == Role.WINDOW_CLERK
    ):
        _finish(context, session, case, last, "approved", user, "办结")
        return
    raise Conflict(
        f"case {case.id} is at step {last.position} ({last.name}); it can be "
        "completed once every step is approved",
        {"case_id": case.id, "position": last.position},
    )


def finish_case(
    context: NodeContext, session: Session, case: Case, result: str, handover: str
) -> Case:
    """Record the completion, counting the working days the case took."""
    calendar = load_calendar(session)
    case.completed_at = utcnow()
    finished = local_date(case.completed_at)
    used = calendar.working_days_between(accepted_on(case), finished)
    case.working_days_used = max(used - case.paused_working_days, 0)
    assert case.deadline is not None
    case.on_time = finished <= case.deadline
    case.status = CaseStatus.COMPLETED
    case.result = result
    case.handover = handover
    announce(
        context,
        session,
        case,
        "case.completed",
        {
            "completed_at": case.completed_at.isoformat(),
            "working_days_used": case.working_days_used,
            "on_time": case.on_time,
            "result": result,
            "handover": handover,
        },
    )
    return case
