"""Window staffing: clerks sign in and out, and finished days are checked for gaps.

A window is expected to be staffed by every clerk assigned to it during the
center's working hours on working days. Minutes of working hours in which an
assigned clerk was not signed in at the window make a staffing gap, recorded
once per clerk, window and day. Functions run in the caller's transaction
and write each change with the event that announces it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.assessment_models import StaffingGap, StaffingShift
from common.calendar import load_calendar
from common.clock import CHINA, local_date, today, utcnow
from common.context import NodeContext
from common.errors import Conflict, InvalidInput
from common.models import NodeSetting, Role, ServiceWindow, User
from common.schemas.assessment import WorkingHoursSchema
from sync.jobs import notify, push_up, start_job
from sync.outbox import emit

logger = logging.getLogger(__name__)

WORKING_HOURS_SETTING = "working_hours"
DEFAULT_WORKING_HOURS = {
    "periods": [
        {"start": "09:00", "end": "12:00"},
        {"start": "13:30", "end": "17:30"},
    ]
}
# Days before today that the scheduled job checks, so that a worker that was
# down for a few days still records their gaps.
GAP_LOOKBACK_DAYS = 7

Period = tuple[dt.datetime, dt.datetime]


# --- working hours ---------------------------------------------------------------


def load_working_hours(session: Session) -> dict[str, Any]:
    """Return the center's working hours, loaded, or the default 09:00–17:30."""
    setting = session.get(NodeSetting, WORKING_HOURS_SETTING)
    raw = setting.value if setting is not None else DEFAULT_WORKING_HOURS
    return WorkingHoursSchema().load(raw)


def save_working_hours(session: Session, hours: dict[str, Any]) -> dict[str, Any]:
    """Store loaded working hours, which apply to days checked from now on."""
    raw = WorkingHoursSchema().dump(hours)
    setting = session.get(NodeSetting, WORKING_HOURS_SETTING)
    if setting is None:
        session.add(NodeSetting(key=WORKING_HOURS_SETTING, value=raw))
    else:
        setting.value = raw
    logger.info("Working hours set to %s", raw["periods"])
    return hours


def working_periods(hours: dict[str, Any], day: dt.date) -> list[Period]:
    """Return the working periods of ``day`` as aware datetimes."""
    return [
        (
            dt.datetime.combine(day, period["start"], CHINA),
            dt.datetime.combine(day, period["end"], CHINA),
        )
        for period in hours["periods"]
    ]


# --- signing in and out ------------------------------------------------------------


def open_shift(session: Session, user_id: int) -> StaffingShift | None:
    query = select(StaffingShift).where(
        StaffingShift.user_id == user_id, StaffingShift.signed_out_at.is_(None)
    )
    return session.scalar(query.order_by(StaffingShift.id.desc()))


def end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), CHINA)


def sign_in(context: NodeContext, session: Session, clerk_id: int) -> StaffingShift:
    """Start a shift of the clerk at their window and emit ``staffing.signed_in``.

    Raises ``Conflict`` when the clerk has no active window or is signed in
    already. A shift left open on an earlier day is closed at that day's
    midnight first, so a forgotten sign-out never covers the days after it.
    """
    clerk = session.get(User, clerk_id)
    window = assigned_window(session, clerk)
    now = utcnow()
    current = open_shift(session, clerk_id)
    if current is not None and current.day == local_date(now):
        raise Conflict(
            f"user {clerk.username} is signed in already, since "
            f"{current.signed_in_at.isoformat()}; sign out first",
            {"shift_id": current.id},
        )
    if current is not None:
        logger.warning(
            "Clerk %s left shift %s of %s open; closing it at midnight",
            clerk_id,
            current.id,
            current.day,
        )
        current.signed_out_at = end_of_day(current.day)

    shift = StaffingShift(
        window_id=window.id, user_id=clerk_id, day=local_date(now), signed_in_at=now
    )
    session.add(shift)
    session.flush()
    emit(context, session, "staffing.signed_in", shift_payload(window, shift))
    logger.info("Clerk %s signed in at window %s", clerk_id, window.id)
    return shift


def sign_out(context: NodeContext, session: Session, clerk_id: int) -> StaffingShift:
    """End the clerk's open shift and emit ``staffing.signed_out``.

    Raises ``Conflict`` when the clerk is not signed in. A shift opened on an
    earlier day ends at that day's midnight.
    """
    shift = open_shift(session, clerk_id)
    if shift is None:
        raise Conflict(
            "you are not signed in at any window; sign in first",
            {"user_id": clerk_id},
        )
    shift.signed_out_at = min(utcnow(), end_of_day(shift.day))
    window = session.get(ServiceWindow, shift.window_id)
    emit(context, session, "staffing.signed_out", shift_payload(window, shift))
    logger.info("Clerk %s signed out of window %s", clerk_id, shift.window_id)
    return shift


def assigned_window(session: Session, clerk: User | None) -> ServiceWindow:
    """Return the clerk's active window, or raise ``Conflict`` if there is none."""
    window = (
        session.get(ServiceWindow, clerk.window_id)
        if clerk and clerk.window_id
        else None
    )
    if clerk is None or window is None:
        raise Conflict(
            "you are not assigned to a window; ask the center administrator "
            "to assign you",
            {"window_id": None},
        )
    if not window.active:
        raise Conflict(
            f"window {window.name} is deactivated; ask the center administrator "
            "to assign you to an active window",
            {"window_id": window.id},
        )
    return window


def shift_payload(window: ServiceWindow, shift: StaffingShift) -> dict[str, Any]:
    out = shift.signed_out_at
    return {
        "window_id": window.id,
        "window": window.name,
        "department": window.department,
        "user_id": shift.user_id,
        "day": shift.day.isoformat(),
        "signed_in_at": shift.signed_in_at.isoformat(),
        "signed_out_at": out.isoformat() if out else None,
    }


def shift_view(session: Session, shift: StaffingShift) -> dict[str, Any]:
    window = session.get(ServiceWindow, shift.window_id)
    user = session.get(User, shift.user_id)
    return {
        "id": shift.id,
        "window_id": shift.window_id,
        "window": window.name if window else "",
        "user_id": shift.user_id,
        "username": user.username if user else "",
        "day": shift.day,
        "signed_in_at": shift.signed_in_at,
        "signed_out_at": shift.signed_out_at,
    }


# --- roster ------------------------------------------------------------------------


def assigned_clerks(session: Session, window_id: int) -> list[User]:
    """Return the active window clerks assigned to a window now.

    NOTE: assignments have no history, so a day checked after a clerk moved
    to another window is checked against the new assignment.
    """
    query = select(User).where(User.window_id == window_id, User.active.is_(True))
    users = session.scalars(query.order_by(User.id))
    return [user for user in users if Role.WINDOW_CLERK.value in user.roles]


def active_windows(
    session: Session, existing_on: dt.date | None = None
) -> list[ServiceWindow]:
    """Return the active windows, only those created by ``existing_on`` if given."""
    query = select(ServiceWindow).where(ServiceWindow.active.is_(True))
    windows = list(session.scalars(query.order_by(ServiceWindow.id)))
    if existing_on is None:
        return windows
    return [w for w in windows if created_by(w, existing_on)]


def created_by(window: ServiceWindow, day: dt.date) -> bool:
    """Tell whether ``window`` existed on ``day`` (China date); unknown counts as yes."""
    return window.created_at is None or local_date(window.created_at) <= day


def shifts_of(
    session: Session, day: dt.date, window_id: int, user_id: int
) -> list[StaffingShift]:
    query = select(StaffingShift).where(
        StaffingShift.day == day,
        StaffingShift.window_id == window_id,
        StaffingShift.user_id == user_id,
    )
    return list(session.scalars(query.order_by(StaffingShift.signed_in_at)))


def roster(session: Session, day: dt.date) -> dict[str, Any]:
    """Return each active window's assigned clerks and their shifts on ``day``."""
    windows = []
    for window in active_windows(session):
        clerks = []
        for clerk in assigned_clerks(session, window.id):
            shifts = shifts_of(session, day, window.id, clerk.id)
            clerks.append(
                {
                    "user_id": clerk.id,
                    "username": clerk.username,
                    "display_name": clerk.display_name,
                    "present": any(s.signed_out_at is None for s in shifts),
                    "shifts": shifts,
                }
            )
        windows.append(
            {
                "window_id": window.id,
                "window": window.name,
                "department": window.department,
                "clerks": clerks,
            }
        )
    working, _ = load_calendar(session).is_working_day(day)
    return {
        "day": day,
        "working_day": working,
        "working_hours": load_working_hours(session),
        "windows": windows,
    }


# --- gaps --------------------------------------------------------------------------


def covered_seconds(period: Period, shifts: Iterable[Period]) -> float:
    """Return the seconds of ``period`` that at least one of ``shifts`` covers."""
    start, end = period
    clipped = sorted(
        (max(start, s), min(end, e)) for s, e in shifts if s < end and e > start
    )
    covered = 0.0
    reached = start
    for shift_start, shift_end in clipped:
        shift_start = max(shift_start, reached)
        if shift_end > shift_start:
            covered += (shift_end - shift_start).total_seconds()
            reached = shift_end
    return covered


def minutes_missing(
    periods: list[Period], shifts: list[StaffingShift], now: dt.datetime
) -> int:
    """Return the whole minutes of ``periods`` not covered by ``shifts``, rounded.

    A shift still open counts until ``now``.
    """
    spans = [(s.signed_in_at, s.signed_out_at or now) for s in shifts]
    missing = sum(
        (end - start).total_seconds() - covered_seconds((start, end), spans)
        for start, end in periods
    )
    return round(missing / 60)


def check_finished_day(day: dt.date) -> None:
    if day >= today():
        reason = (
            f"{day.isoformat()} is not finished yet; gaps are computed for days "
            f"before today ({today().isoformat()})"
        )
        raise InvalidInput(reason, {"fields": {"day": [reason]}})


def compute_gaps(
    context: NodeContext, session: Session, day: dt.date
) -> list[StaffingGap]:
    """Record the staffing gaps of a finished day and return those recorded now.

    Idempotent: a clerk, window and day already recorded is skipped, and the
    unique constraint rejects a gap that a concurrent run inserted first.
    Emits ``staffing.gap`` for each new gap. Raises ``InvalidInput`` on field
    ``day`` for today or a later day.
    """
    check_finished_day(day)
    working, _ = load_calendar(session).is_working_day(day)
    if not working:
        return []
    periods = working_periods(load_working_hours(session), day)
    now = min(utcnow(), end_of_day(day))
    recorded = []
    for window in active_windows(session, existing_on=day):
        for clerk in assigned_clerks(session, window.id):
            missing = minutes_missing(
                periods, shifts_of(session, day, window.id, clerk.id), now
            )
            if missing > 0:
                gap = record_gap(context, session, window, clerk, day, missing)
                if gap is not None:
                    recorded.append(gap)
    return recorded


def find_gap(
    session: Session, window_id: int, user_id: int, day: dt.date
) -> StaffingGap | None:
    query = select(StaffingGap).where(
        StaffingGap.window_id == window_id,
        StaffingGap.user_id == user_id,
        StaffingGap.day == day,
    )
    return session.scalar(query)


def record_gap(
    context: NodeContext,
    session: Session,
    window: ServiceWindow,
    clerk: User,
    day: dt.date,
    missing: int,
) -> StaffingGap | None:
    """Insert one gap and emit ``staffing.gap``, or return None if it was recorded before."""
    if find_gap(session, window.id, clerk.id, day) is not None:
        return None
    gap = StaffingGap(
        window_id=window.id,
        user_id=clerk.id,
        day=day,
        minutes_missing=missing,
        recorded_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(gap)
    except IntegrityError:
        if find_gap(session, window.id, clerk.id, day) is None:
            raise
        return None
    emit(context, session, "staffing.gap", gap_payload(window, gap))
    logger.info(
        "Node %s: staffing gap of clerk %s at window %s on %s, %d minutes",
        context.code,
        clerk.id,
        window.id,
        day,
        missing,
    )
    return gap


def gap_payload(window: ServiceWindow, gap: StaffingGap) -> dict[str, Any]:
    return {
        "gap_id": gap.id,
        "window_id": window.id,
        "window": window.name,
        "department": window.department,
        "user_id": gap.user_id,
        "day": gap.day.isoformat(),
        "minutes_missing": gap.minutes_missing,
    }


def gaps_of_day(session: Session, day: dt.date) -> list[dict[str, Any]]:
    query = select(StaffingGap, ServiceWindow, User).join(
        ServiceWindow, ServiceWindow.id == StaffingGap.window_id
    )
    query = query.join(User, User.id == StaffingGap.user_id)
    rows = session.execute(query.where(StaffingGap.day == day).order_by(StaffingGap.id))
    return [
        {
            **gap_payload(window, gap),
            "id": gap.id,
            "day": gap.day,
            "username": user.username,
        }
        for gap, window, user in rows
    ]


def record_staffing_gaps(code: str) -> int:
    """Record the gaps of the last week's finished days and return how many are new.

    An RQ job: safe to run any number of times, because each gap is recorded
    once.
    """
    context = start_job(code, record_staffing_gaps)
    recorded = 0
    for back in range(GAP_LOOKBACK_DAYS, 0, -1):
        with context.db.transaction() as session:
            day = today() - dt.timedelta(days=back)
            recorded += len(compute_gaps(context, session, day))
    if recorded:
        notify(context, push_up)
    logger.info("Node %s: %d staffing gaps recorded", code, recorded)
    return recorded
