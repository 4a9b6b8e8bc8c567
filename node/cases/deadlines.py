"""Deadlines of a case, its steps and its joint opinions, in working days.

A case's deadline runs from its acceptance day for the promised limit of
the standard version it was accepted under. Working days during which a
supplement notice was open do not count, so each closed notice moves every
running deadline later by the working days it stood open. A deadline that
fell in a year no calendar covered is provisional and is computed again
when a calendar release for that year arrives.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from common.calendar import Deadline, WorkingCalendar, load_calendar
from common.clock import local_date
from common.context import NodeContext
from common.models import Case, CaseStatus, CaseStep, JointOpinion

logger = logging.getLogger(__name__)


def accepted_on(case: Case) -> dt.date:
    """Return the day the case's clock starts: its acceptance day in China."""
    assert case.accepted_at is not None
    if case.deemed_accepted:
        return local_date(case.received_at)
    return local_date(case.accepted_at)


def case_deadline(calendar: WorkingCalendar, case: Case, limit: int) -> Deadline:
    """Return the case's deadline: ``limit`` working days plus the days paused."""
    return calendar.add_working_days(
        accepted_on(case), limit + case.paused_working_days
    )


def extend(calendar: WorkingCalendar, deadline: dt.date, days: int) -> Deadline:
    """Return ``deadline`` moved later by ``days`` working days."""
    return calendar.add_working_days(deadline, days)


def postpone_running(
    session: Session, calendar: WorkingCalendar, case: Case, days: int
) -> None:
    """Move the case's running deadlines later by ``days`` paused working days."""
    if days <= 0 or case.deadline is None:
        return
    moved = extend(calendar, case.deadline, days)
    case.deadline, case.deadline_provisional = moved.date, moved.provisional
    for step in running_steps(session, case):
        if step.deadline is not None:
            moved = extend(calendar, step.deadline, days)
            step.deadline, step.deadline_provisional = moved.date, moved.provisional
    for opinion in pending_opinions(session, case):
        if opinion.deadline is not None:
            moved = extend(calendar, opinion.deadline, days)
            opinion.deadline = moved.date
            opinion.deadline_provisional = moved.provisional


def running_steps(session: Session, case: Case) -> list[CaseStep]:
    query = select(CaseStep).where(
        CaseStep.case_id == case.id, CaseStep.status == "active"
    )
    return list(session.scalars(query))


def pending_opinions(session: Session, case: Case) -> list[JointOpinion]:
    query = select(JointOpinion).where(
        JointOpinion.case_id == case.id, JointOpinion.decision.is_(None)
    )
    return list(session.scalars(query))


def recompute_provisional(context: NodeContext, session: Session) -> int:
    """Compute again every provisional deadline of an open case; return how many changed.

    Called when a calendar release arrives. Each case whose deadline moves
    announces it, so the filing node and the hub show the exact date.
    """
    calendar = load_calendar(session)
    query = select(Case).where(
        Case.status == CaseStatus.ACCEPTED,
        or_(
            Case.deadline_provisional.is_(True),
            Case.id.in_(
                select(CaseStep.case_id).where(CaseStep.deadline_provisional.is_(True))
            ),
            Case.id.in_(
                select(JointOpinion.case_id).where(
                    JointOpinion.deadline_provisional.is_(True)
                )
            ),
        ),
    )
    changed = 0
    for case in session.scalars(query):
        changed += _recompute_case(context, session, calendar, case)
    if changed:
        logger.info(
            "Node %s: recomputed %d provisional deadlines", context.code, changed
        )
    return changed


def _recompute_case(
    context: NodeContext, session: Session, calendar: WorkingCalendar, case: Case
) -> int:
    from node.cases.steps import limit_of_case

    changed = 0
    if case.deadline_provisional:
        deadline = case_deadline(calendar, case, limit_of_case(session, case))
        changed += deadline.date != case.deadline
        case.deadline, case.deadline_provisional = deadline.date, deadline.provisional
        _announce_deadline(context, session, case)
    # NOTE: a step's deadline is computed again from its start and its own
    # limit; a supplement notice closed during that step is not added back.
    for step in running_steps(session, case):
        if step.deadline_provisional and step.started_at and step.limit_working_days:
            deadline = calendar.add_working_days(
                local_date(step.started_at), step.limit_working_days
            )
            changed += deadline.date != step.deadline
            step.deadline, step.deadline_provisional = (
                deadline.date,
                deadline.provisional,
            )
    return changed


def _announce_deadline(context: NodeContext, session: Session, case: Case) -> None:
    from node.cases.service import announce

    assert case.deadline is not None
    announce(
        context,
        session,
        case,
        "case.deadline_changed",
        {
            "deadline": case.deadline.isoformat(),
            "deadline_provisional": case.deadline_provisional,
        },
    )
