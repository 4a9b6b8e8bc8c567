"""The monthly window assessment (考评), red-flag and five-star windows.

Each active window starts a month with the city's full marks and loses
points per deduction rule. Every deduction is stored with the record or
event that caused it, so a score can be traced back line by line:

- ``staffing_gap``: each staffing gap of the window's clerks in the month;
- ``overdue_case``: each accountability record for a late case or step,
  opened in the month, of the window's department and, where the record
  names a user, of a clerk of the window; records decided "excused" do not
  deduct;
- ``second_supplement_notice``: each second-notice record of a clerk of the
  window, except those excused;
- ``bad_review``: each bad review of the window's cases (an
  ``evaluation.follow_up`` event that opened the follow-up), unless it was
  excluded on appeal;
- ``verified_complaint``: each ``hotline.complaint_verified`` event for
  this node's window or department.

The points per rule come from the catalog's policies. A month is computed
once it is finished, and computing it again replaces what was stored.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common.assessment_models import Deduction, StaffingGap, WindowScore
from common.catalog import policies
from common.clock import CHINA, today, utcnow
from common.context import NodeContext
from common.errors import InvalidInput
from common.models import (
    AccountabilityRecord,
    Breach,
    Case,
    Event,
    ServiceWindow,
    User,
)
from common.schemas.assessment import parse_month
from node.staffing import active_windows, assigned_clerks
from sync.outbox import emit

logger = logging.getLogger(__name__)

# A window is five-star in a year when it was red-flag in at least this many
# of the year's months. It is the default of this product, not a national
# rule; a city with another rule changes it here.
FIVE_STAR_MIN_RED_FLAG_MONTHS = 10
# Points of a department's annual performance assessment (out of 1,000)
# that come from the center's assessment of its windows.
ANNUAL_COMPONENT_POINTS = 160

OVERDUE_BREACHES = (Breach.CASE_OVERDUE.value, Breach.STEP_OVERDUE.value)
COMPLAINT_KIND = "hotline.complaint_verified"
FOLLOW_UP_KIND = "evaluation.follow_up"


@dataclass(frozen=True)
class Charge:
    """One deduction before it is stored: the rule, points and its source."""

    rule: str
    points: int
    source_kind: str
    source_id: str


# --- month bounds --------------------------------------------------------------------


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """Return the month's start and the next month's start, as aware times in China."""
    first, last = parse_month(month)
    start = dt.datetime.combine(first, dt.time(0), CHINA)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), CHINA)
    return start, end


def check_finished_month(month: str) -> None:
    _, last = parse_month(month)
    if last >= today():
        reason = (
            f"{month} is not finished yet; a month is assessed from the day "
            "after its last day"
        )
        raise InvalidInput(reason, {"fields": {"month": [reason]}})


# --- deductions per rule -------------------------------------------------------------


def gap_charges(
    session: Session, window: ServiceWindow, month: str, points: int
) -> list[Charge]:
    first, last = parse_month(month)
    query = select(StaffingGap.id).where(
        StaffingGap.window_id == window.id,
        StaffingGap.day >= first,
        StaffingGap.day <= last,
    )
    return [
        Charge("staffing_gap", points, "staffing_gap", str(gap_id))
        for gap_id in session.scalars(query.order_by(StaffingGap.id))
    ]


def record_charges(
    session: Session,
    window: ServiceWindow,
    clerk_ids: set[int],
    month: str,
    deductions: dict[str, int],
) -> list[Charge]:
    """Charge the accountability records of the month that concern the window."""
    start, end = month_bounds(month)
    query = select(AccountabilityRecord).where(
        AccountabilityRecord.opened_at >= start,
        AccountabilityRecord.opened_at < end,
        AccountabilityRecord.decision.is_distinct_from("excused"),
    )
    charges = []
    for record in session.scalars(query.order_by(AccountabilityRecord.id)):
        if record.breach in OVERDUE_BREACHES:
            concerns = record.department == window.department and (
                record.user_id is None or record.user_id in clerk_ids
            )
            rule = "overdue_case"
        elif record.breach == Breach.SECOND_NOTICE.value:
            concerns = record.user_id in clerk_ids
            rule = "second_supplement_notice"
        else:
            continue
        if concerns:
            charges.append(
                Charge(rule, deductions[rule], "accountability_record", str(record.id))
            )
    return charges


def month_events(
    context: NodeContext, session: Session, kind: str, month: str
) -> list[Event]:
    """Return this node's events of ``kind`` created in the month, own or addressed here."""
    start, end = month_bounds(month)
    query = select(Event).where(
        Event.kind == kind, Event.created_at >= start, Event.created_at < end
    )
    return [
        event
        for event in session.scalars(query.order_by(Event.id))
        if event.destination == context.code
        or (event.destination is None and event.origin == context.code)
    ]


def event_key(event: Event) -> str:
    return f"{event.origin}#{event.seq}"


def windows_charged(
    session: Session,
    windows: list[ServiceWindow],
    department: str | None,
    window_name: str | None,
    case_id: str | None,
) -> list[ServiceWindow]:
    """Return the windows an event about a department, window or case is charged to.

    The named window if it is here; else the window of the clerk who took the
    case in; else every window of the department.
    """
    if window_name:
        named = [w for w in windows if w.name == window_name]
        if named:
            return named
    case = session.get(Case, case_id) if case_id else None
    clerk = session.get(User, case.intake_by) if case and case.intake_by else None
    if clerk is not None and clerk.window_id is not None:
        own = [w for w in windows if w.id == clerk.window_id]
        if own:
            return own
    department = department or (case.department if case else None)
    return [w for w in windows if w.department == department]


def event_charges(
    context: NodeContext,
    session: Session,
    windows: list[ServiceWindow],
    month: str,
    deductions: dict[str, int],
) -> dict[int, list[Charge]]:
    """Charge bad reviews and verified complaints of the month to their windows."""
    charges: dict[int, list[Charge]] = defaultdict(list)
    for event in bad_reviews(context, session, month):
        payload = event.payload
        charge = Charge(
            "bad_review", deductions["bad_review"], event.kind, event_key(event)
        )
        for window in windows_charged(
            session,
            windows,
            payload.get("department"),
            payload.get("window"),
            event.case_id,
        ):
            charges[window.id].append(charge)
    for event in month_events(context, session, COMPLAINT_KIND, month):
        payload = event.payload
        if payload.get("handler", context.code) != context.code:
            continue
        charge = Charge(
            "verified_complaint",
            deductions["verified_complaint"],
            event.kind,
            event_key(event),
        )
        for window in windows_charged(
            session, windows, payload.get("department"), None, payload.get("case_id")
        ):
            charges[window.id].append(charge)
    return charges


def bad_reviews(context: NodeContext, session: Session, month: str) -> list[Event]:
    """Return the month's opened bad-review follow-ups not excluded since.

    NOTE: a follow-up is known here by its case, so two bad reviews of one
    case excluded on appeal are matched by case, not one by one.
    """
    opened = [
        event
        for event in month_events(context, session, FOLLOW_UP_KIND, month)
        if event.payload.get("action") == "opened"
    ]
    if not opened:
        return []
    query = select(Event.case_id).where(Event.kind == FOLLOW_UP_KIND)
    excluded = {
        case_id
        for case_id, payload in session.execute(query.add_columns(Event.payload))
        if payload.get("action") == "excluded"
    }
    return [event for event in opened if event.case_id not in excluded]


# --- computing a month ---------------------------------------------------------------


def last_day_of(month: str) -> dt.date:
    """Return the last day of a month given as YYYY-MM."""
    year, number = (int(part) for part in month.split("-"))
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def compute_month(
    context: NodeContext, session: Session, month: str
) -> tuple[list[WindowScore], list[int]]:
    """Score every active window for a finished month, returning scores and changed ids.

    Replaces the month's stored scores and deductions of those windows.
    Emits ``assessment.month`` only for a window whose score or red flag is
    new or differs from what was stored, so computing twice emits once.
    Raises ``InvalidInput`` on field ``month`` for an unfinished month.
    """
    check_finished_month(month)
    rules = policies(session)
    deductions = rules["deductions"]
    # A window is scored from the month it was created in.
    windows = active_windows(session, existing_on=last_day_of(month))
    from_events = event_charges(context, session, windows, month, deductions)
    scores, changed = [], []
    for window in windows:
        clerk_ids = {clerk.id for clerk in assigned_clerks(session, window.id)}
        charges = [
            *gap_charges(session, window, month, deductions["staffing_gap_per_clerk"]),
            *record_charges(session, window, clerk_ids, month, deductions),
            *from_events[window.id],
        ]
        score, was_changed = store_score(
            session, window, month, rules["window_full_marks"], charges
        )
        scores.append(score)
        if was_changed:
            changed.append(window.id)
            emit(context, session, "assessment.month", score_payload(window, score))
    logger.info(
        "Node %s: assessed %d windows for %s, %d changed",
        context.code,
        len(scores),
        month,
        len(changed),
    )
    return scores, changed


def store_score(
    session: Session,
    window: ServiceWindow,
    month: str,
    full_marks: int,
    charges: list[Charge],
) -> tuple[WindowScore, bool]:
    """Replace a window's stored score and deductions, returning it and whether it changed.

    The red flag needs a month without any deduction row, so a staffing gap
    removes it even where the city sets its points to 0.
    """
    session.execute(
        delete(Deduction).where(
            Deduction.month == month, Deduction.window_id == window.id
        )
    )
    unique = list(dict.fromkeys(charges))
    session.add_all(
        Deduction(month=month, window_id=window.id, **vars(charge)) for charge in unique
    )
    value = max(0, full_marks - sum(charge.points for charge in unique))
    red_flag = not unique
    score = session.get(WindowScore, (month, window.id))
    changed = score is None or (score.score, score.red_flag, score.full_marks) != (
        value,
        red_flag,
        full_marks,
    )
    if score is None:
        score = WindowScore(month=month, window_id=window.id)
        session.add(score)
    score.department = window.department
    score.full_marks = full_marks
    score.score = value
    score.red_flag = red_flag
    score.computed_at = utcnow()
    session.flush()
    return score, changed


def score_payload(window: ServiceWindow, score: WindowScore) -> dict[str, Any]:
    return {
        "month": score.month,
        "window_id": window.id,
        "window": window.name,
        "department": score.department,
        "full_marks": score.full_marks,
        "score": score.score,
        "red_flag": score.red_flag,
    }


# --- reading results -----------------------------------------------------------------


def month_scores(session: Session, month: str) -> dict[str, Any]:
    """Return the stored scores of a month with their deductions, best first."""
    query = select(WindowScore, ServiceWindow).join(
        ServiceWindow, ServiceWindow.id == WindowScore.window_id
    )
    rows = session.execute(
        query.where(WindowScore.month == month).order_by(
            WindowScore.score.desc(), WindowScore.window_id
        )
    )
    deductions: dict[int, list[Deduction]] = defaultdict(list)
    for deduction in session.scalars(
        select(Deduction).where(Deduction.month == month).order_by(Deduction.id)
    ):
        deductions[deduction.window_id].append(deduction)
    windows = [
        {
            **score_payload(window, score),
            "computed_at": score.computed_at,
            "deductions": deductions[window.id],
        }
        for score, window in rows
    ]
    return {
        "month": month,
        "windows": windows,
        "red_flag_windows": [w["window"] for w in windows if w["red_flag"]],
    }


def round_half_up(value: Fraction, places: int = 1) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def year_summary(session: Session, year: int) -> dict[str, Any]:
    """Return the year's five-star windows and each department's annual component.

    A department's component is 160 × the average over its window-months of
    score ÷ full marks, rounded half up to one decimal. Only computed months
    count: a month never computed is missing from the average, not zero.
    """
    query = select(WindowScore, ServiceWindow).join(
        ServiceWindow, ServiceWindow.id == WindowScore.window_id
    )
    rows = session.execute(
        query.where(WindowScore.month.startswith(f"{year}-")).order_by(
            WindowScore.window_id, WindowScore.month
        )
    ).all()
    return {
        "year": year,
        "five_star_min_red_flag_months": FIVE_STAR_MIN_RED_FLAG_MONTHS,
        "component_points": ANNUAL_COMPONENT_POINTS,
        "windows": window_years(rows),
        "departments": department_years(rows),
    }


def window_years(rows: list[Any]) -> list[dict[str, Any]]:
    summary: dict[int, dict[str, Any]] = {}
    for score, window in rows:
        entry = summary.setdefault(
            window.id,
            {
                "window_id": window.id,
                "window": window.name,
                "department": window.department,
                "months_scored": 0,
                "red_flag_months": 0,
            },
        )
        entry["months_scored"] += 1
        entry["red_flag_months"] += int(score.red_flag)
    for entry in summary.values():
        entry["five_star"] = entry["red_flag_months"] >= FIVE_STAR_MIN_RED_FLAG_MONTHS
    return list(summary.values())


def department_years(rows: list[Any]) -> list[dict[str, Any]]:
    ratios: dict[str, list[Fraction]] = defaultdict(list)
    marks: dict[str, list[int]] = defaultdict(list)
    for score, _window in rows:
        ratios[score.department].append(Fraction(score.score, score.full_marks))
        marks[score.department].append(score.score)
    return [
        {
            "department": department,
            "scores": len(values),
            "average_score": round_half_up(
                Fraction(sum(marks[department]), len(values))
            ),
            "component": round_half_up(
                ANNUAL_COMPONENT_POINTS * sum(values, Fraction(0)) / len(values)
            ),
        }
        for department, values in sorted(ratios.items())
    ]
