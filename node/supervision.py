"""Electronic supervision: lights of open cases, steps and opinions, and
accountability records.

An open case, its active step and each pending joint opinion is green,
yellow (warning) or red (overdue) by the working days left until its
deadline, and paused while a supplement notice stops the case's clock. An
item that turns red opens one accountability record, which a supervisor
decides: excused, or a point deduction. The sweep runs after every state
change of a case, in the caller's transaction, and on a schedule in the
worker (``sweep_all``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common import clock
from common.calendar import WorkingCalendar, load_calendar
from common.context import NodeContext
from common.errors import Conflict, Forbidden, NotFound
from common.models import (
    AccountabilityRecord,
    Breach,
    Case,
    CaseStatus,
    CaseStep,
    JointOpinion,
    Light,
    NodeSetting,
)
from common.schemas.supervision import ThresholdSchema
from node.cases.deadlines import accepted_on
from sync.jobs import enqueue_once, notify, push_up, start_job
from sync.outbox import emit

logger = logging.getLogger(__name__)

OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.ACCEPTED)
THRESHOLD_KEY = "warning_threshold"
# Cases that the scheduled sweep handles in one transaction.
SWEEP_BATCH = 100
# Seconds between two scheduled sweeps on the same date; see SweepSchedule.
SWEEP_INTERVAL = 60.0


# --- warning threshold ---------------------------------------------------------


@dataclass(frozen=True)
class WarningThreshold:
    """When an item turns yellow: at or below ``value`` working days left
    (kind ``working_days``), or at or below that share of its limit (``share``)."""

    kind: str
    value: int | float

    def warns(self, days_left: int, limit: int) -> bool:
        if self.kind == "share":
            return days_left <= self.value * limit
        return days_left <= self.value

    def as_setting(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value}


DEFAULT_THRESHOLD = WarningThreshold("working_days", 1)


def load_threshold(session: Session) -> WarningThreshold:
    """Return this center's warning threshold, or the default of one working day."""
    row = session.get(NodeSetting, THRESHOLD_KEY)
    if row is None:
        return DEFAULT_THRESHOLD
    try:
        data = ThresholdSchema().load(row.value)
    except ValidationError as exc:
        logger.warning(
            "Setting %s is invalid (%s); using %s instead",
            THRESHOLD_KEY,
            exc.normalized_messages(),
            DEFAULT_THRESHOLD.as_setting(),
        )
        return DEFAULT_THRESHOLD
    return WarningThreshold(data["kind"], data["value"])


def save_threshold(session: Session, threshold: WarningThreshold) -> None:
    row = session.get(NodeSetting, THRESHOLD_KEY) or NodeSetting(key=THRESHOLD_KEY)
    row.value = threshold.as_setting()
    session.add(row)


def judge_light(
    calendar: WorkingCalendar,
    threshold: WarningThreshold,
    deadline: dt.date | None,
    today: dt.date,
    limit: int,
) -> Light:
    """Return the light of a running item with ``limit`` working days in all."""
    if deadline is None:
        return Light.GREEN
    if today > deadline:
        return Light.RED
    days_left = calendar.working_days_between(today, deadline)
    return Light.YELLOW if threshold.warns(days_left, limit) else Light.GREEN


# --- the items of a case ---------------------------------------------------------


@dataclass
class Watched:
    """One supervised item: the case, one of its steps, or one joint opinion."""

    item: str  # case, step or opinion
    subject: str  # "" for the case, the step position, the opinion's department
    row: Case | CaseStep | JointOpinion
    breach: Breach
    department: str
    user_id: int | None
    # The day the item's clock started, and its limit if the standard gives it.
    started_on: dt.date | None
    limit: int | None
    # None while the item runs; the day it was finished otherwise.
    finished_on: dt.date | None

    def limit_in(self, calendar: WorkingCalendar) -> int:
        """Return the working days the item was given, for share thresholds."""
        if self.limit is not None:
            return self.limit
        if self.started_on is None or self.row.deadline is None:
            return 0
        return calendar.working_days_between(self.started_on, self.row.deadline)

    def finished_late(self) -> bool:
        deadline = self.row.deadline
        return (
            self.finished_on is not None
            and deadline is not None
            and (self.finished_on > deadline)
        )


def _local_date(moment: dt.datetime | None) -> dt.date | None:
    return clock.local_date(moment) if moment is not None else None


def watched_items(
    session: Session, calendar: WorkingCalendar, case: Case
) -> list[Watched]:
    """List the case, its started steps and its joint opinions.

    Rows are read again from the database, so that a sweep that waited for
    another one's lock reads the lights that the other one set.
    """
    started_on = accepted_on(case) if case.accepted_at is not None else None
    case_limit = None
    if started_on is not None and case.deadline is not None:
        # The deadline was moved later by each working day the clock stood still.
        to_deadline = calendar.working_days_between(started_on, case.deadline)
        case_limit = max(to_deadline - case.paused_working_days, 0)
    items = [
        Watched(
            "case",
            "",
            case,
            Breach.CASE_OVERDUE,
            case.department,
            case.intake_by,
            started_on,
            case_limit,
            _local_date(case.completed_at),
        )
    ]
    steps = session.scalars(
        select(CaseStep)
        .where(CaseStep.case_id == case.id, CaseStep.status != "pending")
        .order_by(CaseStep.position)
        .execution_options(populate_existing=True)
    ).all()
    for step in steps:
        finished_on = None if step.status == "active" else _local_date(step.finished_at)
        items.append(
            Watched(
                "step",
                str(step.position),
                step,
                Breach.STEP_OVERDUE,
                step.department,
                step.actor_id,
                _local_date(step.started_at) or started_on,
                step.limit_working_days,
                finished_on,
            )
        )
    opinions = session.scalars(
        select(JointOpinion)
        .where(JointOpinion.case_id == case.id)
        .order_by(JointOpinion.department)
        .execution_options(populate_existing=True)
    ).all()
    for opinion in opinions:
        # Opinions are requested at acceptance. Their limit is not stored, so a
        # share threshold uses the working days from acceptance to the deadline.
        items.append(
            Watched(
                "opinion",
                opinion.department,
                opinion,
                Breach.OPINION_OVERDUE,
                opinion.department,
                opinion.given_by,
                started_on,
                None,
                _local_date(opinion.given_at) if opinion.decision else None,
            )
        )
    return items


# --- sweeping --------------------------------------------------------------------


def sweep_case(
    context: NodeContext, session: Session, case: Case, today: dt.date | None = None
) -> None:
    """Set the lights of ``case``, its active step and its pending opinions.

    Runs in the caller's transaction. Emits ``case.light_changed`` for each
    light that changes, and opens an accountability record for each item
    that is red, unless its breach has one already. A finished case, step or
    opinion keeps its last light, except that one finished after its
    deadline turns red and gets its record if no sweep saw it overdue.
    """
    today = today or clock.today()
    _sweep(
        context, session, case, today, load_calendar(session), load_threshold(session)
    )


def _sweep(
    context: NodeContext,
    session: Session,
    case: Case,
    today: dt.date,
    calendar: WorkingCalendar,
    threshold: WarningThreshold,
) -> int:
    """Sweep one case; return the number of lights changed."""
    _lock_case(session, case)
    running = case.status in OPEN_STATUSES
    changed = 0
    for watched in watched_items(session, calendar, case):
        if watched.finished_on is None and running:
            light = _running_light(calendar, threshold, case, watched, today)
            day = today
        elif watched.finished_late():
            light, day = Light.RED, watched.finished_on
        else:
            continue
        if light != watched.row.light:
            _change_light(context, session, case, watched, light)
            changed += 1
        if light == Light.RED:
            late = calendar.working_days_between(watched.row.deadline, day)
            _hold_to_account(context, session, case, watched, late)
    return changed


def _lock_case(session: Session, case: Case) -> None:
    """Wait for any other sweep of ``case`` and read the light it left.

    Two sweeps of one case at once would both see the old light and both
    announce the change. On PostgreSQL the row lock makes the second wait
    and then read the first one's light; SQLite runs one writer at a time.
    """
    session.flush()
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    session.refresh(case, ["light"])


def _running_light(
    calendar: WorkingCalendar,
    threshold: WarningThreshold,
    case: Case,
    watched: Watched,
    today: dt.date,
) -> Light:
    if case.clock_stopped_at is not None:
        return Light.PAUSED
    deadline = watched.row.deadline
    if watched.limit == 0 and deadline is not None:
        # An on-the-spot item is finished at the window or overdue: no warning.
        return Light.RED if today > deadline else Light.GREEN
    limit = watched.limit_in(calendar) if threshold.kind == "share" else 0
    return judge_light(calendar, threshold, deadline, today, limit)


def _change_light(
    context: NodeContext, session: Session, case: Case, watched: Watched, light: Light
) -> None:
    logger.info(
        "Node %s: case %s %s %r turned %s from %s",
        context.code,
        case.id,
        watched.item,
        watched.subject,
        light.value,
        watched.row.light,
    )
    watched.row.light = light
    deadline = watched.row.deadline
    payload = {
        "case_id": case.id,
        "item": watched.item,
        "subject": watched.subject,
        "light": light.value,
        "deadline": deadline.isoformat() if deadline else None,
        "changed_at": clock.utcnow().isoformat(),
    }
    emit(context, session, "case.light_changed", payload, case_id=case.id)


def _hold_to_account(
    context: NodeContext, session: Session, case: Case, watched: Watched, late: int
) -> None:
    """Open the record of a red item, or bring an undecided one's lateness up to date."""
    record = find_record(session, case.id, watched.breach, watched.subject)
    if record is None:
        open_record(
            context,
            session,
            case,
            watched.breach,
            watched.subject,
            department=watched.department,
            user_id=watched.user_id,
            deadline=watched.row.deadline,
            working_days_late=late,
        )
    elif record.decision is None and record.working_days_late != late:
        record.working_days_late = late


def sweep_all(code: str) -> int:
    """Sweep every open case of node ``code``; return the number of cases changed.

    An RQ job. A received case is first accepted if the law deems it so (no
    supplement notice within 5 working days of intake). Cases are swept in
    batches of ``SWEEP_BATCH``, each batch in its own transaction.
    """
    context = start_job(code, sweep_all)
    today = clock.today()
    with context.db.transaction() as session:
        query = select(Case.id).where(Case.status.in_(OPEN_STATUSES)).order_by(Case.id)
        case_ids = list(session.scalars(query))
    changed = 0
    for first in range(0, len(case_ids), SWEEP_BATCH):
        with context.db.transaction() as session:
            batch = case_ids[first : first + SWEEP_BATCH]
            changed += _sweep_batch(context, session, batch, today)
    if changed:
        notify(context, push_up)
    logger.info(
        "Node %s: swept %d open cases on %s, %d changed",
        code,
        len(case_ids),
        today,
        changed,
    )
    return changed


def _sweep_batch(
    context: NodeContext, session: Session, case_ids: list[str], today: dt.date
) -> int:
    # Imported here because the case service imports this module.
    from node.cases.intake import accept_if_deemed

    calendar = load_calendar(session)
    threshold = load_threshold(session)
    changed = 0
    for case_id in case_ids:
        case = session.get(Case, case_id)
        if case is None or case.status not in OPEN_STATUSES:
            continue
        accepted = case.status == CaseStatus.RECEIVED and accept_if_deemed(
            context, session, case, today
        )
        lights = _sweep(context, session, case, today, calendar, threshold)
        changed += bool(accepted or lights)
    return changed


class SweepSchedule:
    """Decide when the worker's ticker enqueues ``sweep_all``.

    Lights depend on the date and on the case, and every change of a case
    sweeps it at once. So the scheduled sweep runs on the first round of a
    new date in China, which also follows a test or the demo setting the
    clock. Otherwise it runs at most once every ``SWEEP_INTERVAL`` seconds,
    to pick up calendar releases and missed jobs.
    """

    def __init__(self, context: NodeContext, interval: float = SWEEP_INTERVAL) -> None:
        self.context = context
        self.interval = interval
        self.last_date: dt.date | None = None
        self.last_at = -math.inf

    def enqueue_if_due(self) -> bool:
        """Enqueue ``sweep_all`` if it is due; return whether it was enqueued."""
        now, today = time.monotonic(), clock.today()
        if today == self.last_date and now - self.last_at < self.interval:
            return False
        enqueued = enqueue_once(self.context, sweep_all)
        self.last_date, self.last_at = today, now
        return enqueued


# --- accountability records --------------------------------------------------------


def find_record(
    session: Session, case_id: str, breach: Breach, subject: str
) -> AccountabilityRecord | None:
    return session.scalar(
        select(AccountabilityRecord).where(
            AccountabilityRecord.case_id == case_id,
            AccountabilityRecord.breach == breach.value,
            AccountabilityRecord.subject == subject,
        )
    )


def open_record(
    context: NodeContext,
    session: Session,
    case: Case,
    breach: Breach,
    subject: str,
    *,
    department: str,
    user_id: int | None = None,
    deadline: dt.date | None = None,
    working_days_late: int = 0,
) -> AccountabilityRecord | None:
    """Open the accountability record of one breach; None if it is open already.

    The record is inserted under a savepoint: when another transaction
    recorded the same breach since the check, the unique constraint on
    (case, breach, subject) rejects the insert and this returns None.
    Emits ``accountability.opened``.
    """
    if find_record(session, case.id, breach, subject) is not None:
        return None
    record = AccountabilityRecord(
        case_id=case.id,
        breach=breach.value,
        subject=subject,
        department=department,
        user_id=user_id,
        deadline=deadline,
        working_days_late=working_days_late,
        opened_at=clock.utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        if find_record(session, case.id, breach, subject) is None:
            raise
        logger.info(
            "Node %s: case %s %s %r was recorded by another transaction",
            context.code,
            case.id,
            breach.value,
            subject,
        )
        return None
    emit(
        context,
        session,
        "accountability.opened",
        opened_payload(record),
        case_id=case.id,
    )
    logger.info(
        "Node %s: opened accountability record %d, case %s %s %r, %d working days late",
        context.code,
        record.id,
        case.id,
        breach.value,
        subject,
        working_days_late,
    )
    return record


def opened_payload(record: AccountabilityRecord) -> dict[str, Any]:
    return {
        "case_id": record.case_id,
        "record_id": record.id,
        "breach": record.breach,
        "subject": record.subject,
        "department": record.department,
        "user_id": record.user_id,
        "deadline": record.deadline.isoformat() if record.deadline else None,
        "working_days_late": record.working_days_late,
        "opened_at": record.opened_at.isoformat(),
    }


def get_record(session: Session, record_id: int) -> AccountabilityRecord:
    record = session.get(AccountabilityRecord, record_id)
    if record is None:
        raise NotFound(
            f"no accountability record {record_id} at this center",
            {"record_id": record_id},
        )
    return record


def list_records(
    session: Session, *, open_only: bool | None = None, limit: int = 200
) -> list[AccountabilityRecord]:
    """List records, undecided first, each group newest first.

    ``open_only`` True keeps undecided records, False decided ones, None all.
    """
    query = select(AccountabilityRecord)
    if open_only is True:
        query = query.where(AccountabilityRecord.decision.is_(None))
    elif open_only is False:
        query = query.where(AccountabilityRecord.decision.is_not(None))
    query = query.order_by(
        AccountabilityRecord.decision.is_not(None),
        AccountabilityRecord.opened_at.desc(),
        AccountabilityRecord.id.desc(),
    ).limit(limit)
    return list(session.scalars(query))


def decide_record(
    context: NodeContext,
    session: Session,
    record_id: int,
    data: dict[str, Any],
    supervisor_id: int,
) -> AccountabilityRecord:
    """Record a supervisor's explanation and decision; emit ``accountability.decided``.

    ``data`` is a loaded ``DecisionSchema``. Raises ``NotFound`` for an
    unknown record and ``Conflict`` for one decided already: a decision is
    final.
    """
    record = get_record(session, record_id)
    if record.user_id is not None and record.user_id == supervisor_id:
        raise Forbidden(
            f"accountability record {record_id} names you; another supervisor "
            "must decide it",
            {"record_id": record_id},
        )
    if record.decision is not None:
        raise Conflict(
            f"accountability record {record_id} was decided already "
            f"({record.decision}); a decision cannot be changed",
            {"record_id": record_id, "decision": record.decision},
        )
    record.explanation = data["explanation"].strip()
    record.decision = data["decision"]
    record.points = data.get("points")
    record.decided_by = supervisor_id
    record.decided_at = clock.utcnow()
    payload = {
        "case_id": record.case_id,
        "record_id": record.id,
        "decision": record.decision,
        "points": record.points,
        "decided_at": record.decided_at.isoformat(),
    }
    emit(context, session, "accountability.decided", payload, case_id=record.case_id)
    logger.info(
        "Node %s: accountability record %d decided: %s, %s points",
        context.code,
        record.id,
        record.decision,
        record.points or 0,
    )
    return record
