"""Intake against the standard: materials, supplement notices, accept, reject.

The clerk records which materials were handed in, with their originals and
copies. What the standard requires and was not handed in goes into one
supplement notice (一次性告知) that lists every missing material, and the
case clock stops until the materials arrive. A second notice on one case
needs a reason and opens an accountability record against the clerk. A
case that got no notice within 5 working days of intake counts as accepted
from its intake day (Administrative Licensing Law art. 32).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.calendar import load_calendar
from common.catalog import get_matter, require_release
from common.clock import local_date, today, utcnow
from common.context import NodeContext
from common.errors import Conflict, InvalidInput
from common.models import Breach, Case, CaseStatus, Matter, SupplementNotice, User
from node import supervision
from node.cases.deadlines import case_deadline, postpone_running
from node.cases.service import announce, get_case, require_status
from sync.outbox import emit

# Working days after intake within which a supplement notice must be issued.
NOTICE_PERIOD_WORKING_DAYS = 5


def required_materials(matter: Matter) -> list[dict[str, Any]]:
    return [m for m in matter.standard.get("materials", []) if m.get("required")]


def missing_materials(matter: Matter, handed_in: list[dict[str, Any]]) -> list[dict]:
    """Return each required material not handed in, or handed in short.

    A count the standard leaves open (None) is satisfied by any copy of the
    material; otherwise originals and copies must each reach the count.
    """
    received = {item["name"]: item for item in handed_in}
    missing = []
    for material in required_materials(matter):
        got = received.get(material["name"])
        if got is None:
            missing.append({**_counts(material), "problem": "未提交"})
            continue
        short = _shortfall(material, got)
        if short:
            missing.append({**_counts(material), "problem": short})
    return missing


def _counts(material: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": material["name"],
        "originals": material.get("originals"),
        "copies": material.get("copies"),
    }


def _shortfall(material: dict[str, Any], got: dict[str, Any]) -> str:
    problems = []
    for key, label in (("originals", "原件"), ("copies", "复印件")):
        needed = material.get(key)
        if needed and got.get(key, 0) < needed:
            problems.append(f"{label}需 {needed} 份，收到 {got.get(key, 0)} 份")
    return "；".join(problems)


def handed_in_of(case: Case) -> list[dict[str, Any]]:
    """Return the materials as checked at intake, else as named when filed."""
    if case.materials_checked is not None:
        return case.materials_checked
    # Filed by name only: counts were not checked, so any count is taken.
    return [{"name": name, "originals": 99, "copies": 99} for name in case.materials]


def check_handed_in(matter: Matter, handed_in: list[dict[str, Any]]) -> None:
    known = {m["name"] for m in matter.standard.get("materials", [])}
    unknown = [item["name"] for item in handed_in if item["name"] not in known]
    if unknown:
        message = f"not a material of matter {matter.code}: {', '.join(unknown)}"
        raise InvalidInput(message, {"fields": {"materials": [message]}})
    names = [item["name"] for item in handed_in]
    if len(set(names)) != len(names):
        message = "each material may be listed once"
        raise InvalidInput(message, {"fields": {"materials": [message]}})


def record_intake(
    context: NodeContext,
    session: Session,
    case_id: str,
    handed_in: list[dict[str, Any]],
    clerk: User | None,
) -> Case:
    """Record the materials handed in at the window for a received case."""
    case = get_case(session, case_id)
    require_status(case, CaseStatus.RECEIVED, CaseStatus.ACCEPTED)
    matter = get_matter(session, case.matter_code, case.release)
    check_handed_in(matter, handed_in)

    case.materials_checked = handed_in
    if clerk is not None and case.intake_by is None:
        case.intake_by = clerk.id
    if case.status == CaseStatus.ACCEPTED:
        # A check during review goes on the record: it may lead to a notice.
        emit(
            context,
            session,
            "case.materials_checked",
            {"case_id": case.id, "materials": handed_in},
            case_id=case.id,
        )
    return case


def open_notice(session: Session, case: Case) -> SupplementNotice | None:
    query = select(SupplementNotice).where(
        SupplementNotice.case_id == case.id, SupplementNotice.resolved_at.is_(None)
    )
    return session.scalar(query)


def issue_supplement_notice(
    context: NodeContext,
    session: Session,
    case_id: str,
    clerk: User | None,
    reason: str | None = None,
) -> SupplementNotice:
    """Issue the notice listing every missing material, and stop the case clock.

    Raises ``Conflict`` when nothing is missing or a notice is already open,
    and ``InvalidInput`` for a second notice without a reason.
    """
    case = get_case(session, case_id)
    require_status(case, CaseStatus.RECEIVED, CaseStatus.ACCEPTED)
    matter = get_matter(session, case.matter_code, case.release)
    missing = missing_materials(matter, handed_in_of(case))
    if not missing:
        raise Conflict(
            f"case {case.id} lacks no required material; accept it instead",
            {"case_id": case.id},
        )
    if open_notice(session, case) is not None:
        raise Conflict(
            f"case {case.id} has an open supplement notice; record the materials "
            "when they arrive",
            {"case_id": case.id},
        )
    number = case.supplement_notices + 1
    if number > 1 and not (reason and reason.strip()):
        message = "a second supplement notice needs the reason why the first missed it"
        raise InvalidInput(message, {"fields": {"reason": [message]}})
    if case.status == CaseStatus.ACCEPTED and not (reason and reason.strip()):
        message = "a notice after acceptance needs the defect that the review found"
        raise InvalidInput(message, {"fields": {"reason": [message]}})

    notice = SupplementNotice(
        case_id=case.id,
        number=number,
        missing=missing,
        reason=reason.strip() if reason else None,
        issued_at=utcnow(),
        issued_by=clerk.id if clerk else None,
    )
    session.add(notice)
    case.supplement_notices = number
    case.clock_stopped_at = notice.issued_at
    session.flush()
    announce(
        context,
        session,
        case,
        "case.supplement_notice",
        {
            "number": number,
            "missing": missing,
            "reason": notice.reason,
            "issued_at": notice.issued_at.isoformat(),
        },
    )
    if number > 1:
        supervision.open_record(
            context,
            session,
            case,
            Breach.SECOND_NOTICE,
            str(number),
            department=case.department,
            user_id=clerk.id if clerk else None,
        )
    supervision.sweep_case(context, session, case)
    return notice


def receive_supplement(
    context: NodeContext,
    session: Session,
    case_id: str,
    handed_in: list[dict[str, Any]],
    clerk: User | None,
) -> Case:
    """Record the materials that arrived for the open notice.

    ``handed_in`` lists what arrived now, which is added to what was handed
    in before. Once nothing is missing, the notice closes and the clock
    restarts: the working days the notice stood open move the deadlines.
    Raises ``InvalidInput`` unless a material that the notice lists arrived.
    """
    case = get_case(session, case_id)
    notice = open_notice(session, case)
    if notice is None:
        raise Conflict(
            f"case {case.id} has no open supplement notice", {"case_id": case.id}
        )
    matter = get_matter(session, case.matter_code, case.release)
    check_handed_in(matter, handed_in)
    asked = {item["name"] for item in notice.missing}
    if not asked & {item["name"] for item in handed_in}:
        message = f"list the materials that arrived; the notice asks for {'、'.join(sorted(asked))}"
        raise InvalidInput(message, {"fields": {"materials": [message]}})

    merged = {item["name"]: item for item in handed_in_of(case)}
    for item in handed_in:
        before = merged.get(item["name"], {"originals": 0, "copies": 0})
        merged[item["name"]] = {
            "name": item["name"],
            "originals": before.get("originals", 0) + item.get("originals", 0),
            "copies": before.get("copies", 0) + item.get("copies", 0),
        }
    case.materials_checked = list(merged.values())
    still_missing = missing_materials(matter, case.materials_checked)
    if still_missing:
        # Only part of the listed materials arrived, so the clock stays stopped.
        return case
    calendar = load_calendar(session)
    paused = calendar.working_days_between(local_date(notice.issued_at), today())
    notice.resolved_at = utcnow()
    notice.paused_working_days = paused
    case.clock_stopped_at = None
    case.paused_working_days += paused
    postpone_running(session, calendar, case, paused)
    payload: dict[str, Any] = {
        "number": notice.number,
        "resolved_at": notice.resolved_at.isoformat(),
        "paused_working_days": paused,
        "still_missing": still_missing,
    }
    if case.deadline is not None:
        payload["deadline"] = case.deadline.isoformat()
        payload["deadline_provisional"] = case.deadline_provisional
    announce(context, session, case, "case.supplement_received", payload)
    supervision.sweep_case(context, session, case)
    return case


def accept_case(
    context: NodeContext, session: Session, case_id: str, clerk: User | None = None
) -> Case:
    """Accept a received case under the current release and set its deadlines.

    Raises ``Conflict`` while a notice is open or a required material is
    missing.
    """
    case = get_case(session, case_id)
    require_status(case, CaseStatus.RECEIVED)
    if open_notice(session, case) is not None:
        raise Conflict(
            f"case {case.id} waits for the materials of its supplement notice",
            {"case_id": case.id},
        )
    release = require_release(session)
    matter = get_matter(session, case.matter_code, release)
    missing = missing_materials(matter, handed_in_of(case))
    if missing:
        names = "、".join(m["name"] for m in missing)
        raise Conflict(
            f"case {case.id} lacks required materials ({names}); issue a "
            "supplement notice or reject the case",
            {"case_id": case.id, "missing": missing},
        )
    overdue = _notice_period_over(session, case)
    return _accept(context, session, case, matter, clerk, deemed=overdue)


def accept_if_deemed(
    context: NodeContext, session: Session, case: Case, day: dt.date | None = None
) -> bool:
    """Accept a received case by law when no notice came within 5 working days.

    Returns True if the case was accepted now. Its clock runs from intake.
    """
    if case.status != CaseStatus.RECEIVED or case.supplement_notices:
        return False
    if not _notice_period_over(session, case, day):
        return False
    matter = get_matter(session, case.matter_code, require_release(session))
    _accept(context, session, case, matter, None, deemed=True)
    return True


def _notice_period_over(
    session: Session, case: Case, day: dt.date | None = None
) -> bool:
    if case.supplement_notices:
        return False
    calendar = load_calendar(session)
    used = calendar.working_days_between(local_date(case.received_at), day or today())
    return used > NOTICE_PERIOD_WORKING_DAYS


def _accept(
    context: NodeContext,
    session: Session,
    case: Case,
    matter: Matter,
    clerk: User | None,
    *,
    deemed: bool,
) -> Case:
    from node.cases.joint import open_joint_review
    from node.cases.steps import start_steps

    calendar = load_calendar(session)
    case.release = matter.release
    # A case deemed accepted counts as accepted from its intake.
    case.accepted_at = case.received_at if deemed else utcnow()
    case.deemed_accepted = deemed
    if clerk is not None and case.intake_by is None:
        case.intake_by = clerk.id
    deadline = case_deadline(calendar, case, matter.promised_limit_working_days)
    case.deadline, case.deadline_provisional = deadline.date, deadline.provisional
    case.status = CaseStatus.ACCEPTED
    announce(
        context,
        session,
        case,
        "case.accepted",
        {
            "accepted_at": case.accepted_at.isoformat(),
            "deemed": deemed,
            "release": case.release,
            "promised_limit_working_days": matter.promised_limit_working_days,
            "deadline": case.deadline.isoformat(),
            "deadline_provisional": case.deadline_provisional,
        },
    )
    if case.joint:
        open_joint_review(context, session, case, matter, calendar)
    elif case.kind != "immediate":
        start_steps(context, session, case, matter, calendar, clerk)
    supervision.sweep_case(context, session, case)
    return case


def reject_case(
    context: NodeContext,
    session: Session,
    case_id: str,
    reason: str,
    clerk: User | None = None,
) -> Case:
    """Reject a received case with the reason given to the applicant."""
    case = get_case(session, case_id)
    require_status(case, CaseStatus.RECEIVED)
    notice = open_notice(session, case)
    if notice is not None:
        notice.resolved_at = utcnow()
        case.clock_stopped_at = None
    case.status = CaseStatus.REJECTED
    case.reason = reason
    announce(
        context,
        session,
        case,
        "case.rejected",
        {"reason": reason, "rejected_at": utcnow().isoformat()},
    )
    return case
