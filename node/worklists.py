"""Worklists and the supervision office's API and pages.

A clerk's worklist contains the open cases of the clerk's department or taken
in by the clerk; a department approver's contains the active steps and the
pending joint opinions of the approver's department; a supervisor's contains
the warnings, the overdue items and the accountability records. Every list
is sorted red, yellow, green, then paused, then by deadline.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from marshmallow import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from common.catalog import matter_names
from common.errors import Conflict, Forbidden
from common.models import (
    AccountabilityRecord,
    Breach,
    Case,
    CaseStatus,
    CaseStep,
    JointOpinion,
    Light,
    Role,
    User,
)
from common.schemas.supervision import (
    ClerkItemSchema,
    DecisionSchema,
    RecordQuerySchema,
    RecordSchema,
    SupervisorWorklistSchema,
    ThresholdSchema,
    WatchedItemSchema,
)
from node import supervision
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import require_roles, roles_required
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "supervision",
    __name__,
    url_prefix="/api",
    description="Worklists, warning threshold and accountability records",
)
pages = Blueprint("supervision_pages", __name__)

OPEN_STATUSES = supervision.OPEN_STATUSES
# Rows on one worklist; the most urgent come first.
LIST_LIMIT = 500
LIGHT_RANK = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, Light.PAUSED: 3}
THRESHOLD_ROLES = (Role.SUPERVISOR, Role.CENTER_ADMIN)
WORKLIST_ROLES = (Role.WINDOW_CLERK, Role.DEPARTMENT_APPROVER, Role.SUPERVISOR)
OPINION_NAME = "联审意见"


def light_rank(column: Any) -> Any:
    """Order a light column red, yellow, green, paused in SQL."""
    return when({light.value: rank for light, rank in LIGHT_RANK.items()}, value=column)


def urgency(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key of a worklist row: light, then deadline (none last), then case."""
    deadline = row["deadline"]
    return (LIGHT_RANK.get(row["light"], 4), deadline is None, deadline, row["case_id"])


# --- worklists -------------------------------------------------------------------


def clerk_worklist(session: Session, user: User) -> list[dict[str, Any]]:
    """List the open cases of the clerk's department or taken in by the clerk.

    A clerk without a department works for every department of the center
    and sees every open case.
    """
    mine = [Case.intake_by == user.id]
    if user.department:
        mine.append(Case.department == user.department)
    else:
        mine.append(Case.id.is_not(None))
    active_step = and_(CaseStep.case_id == Case.id, CaseStep.status == "active")
    query = (
        select(Case, CaseStep)
        .outerjoin(CaseStep, active_step)
        .where(Case.status.in_(OPEN_STATUSES), or_(*mine))
        .order_by(
            light_rank(Case.light), Case.deadline.is_(None), Case.deadline, Case.id
        )
        .limit(LIST_LIMIT)
    )
    rows = session.execute(query).all()
    names = matter_names(session, {case.matter_code for case, _ in rows})
    return [clerk_row(case, step, names) for case, step in rows]


def clerk_row(
    case: Case, step: CaseStep | None, names: dict[str, str]
) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "matter_code": case.matter_code,
        "matter_name": names.get(case.matter_code, case.matter_code),
        "status": case.status,
        "status_label": CaseStatus(case.status).label,
        "light": case.light,
        "light_label": Light(case.light).label,
        "deadline": case.deadline,
        "deadline_provisional": case.deadline_provisional,
        "received_at": case.received_at,
        "current_step": {"position": step.position, "name": step.name}
        if step
        else None,
        # The case clock is stopped exactly while a supplement notice is open.
        "supplement_open": case.clock_stopped_at is not None,
        "possible_duplicates": case.possible_duplicates or [],
    }


def watched_row(
    item: str,
    case: Case,
    row: Case | CaseStep | JointOpinion,
    names: dict[str, str],
) -> dict[str, Any]:
    """Describe a case, an active step or a pending opinion for a worklist."""
    matter_name = names.get(case.matter_code, case.matter_code)
    if isinstance(row, CaseStep):
        subject, name, department = str(row.position), row.name, row.department
    elif isinstance(row, JointOpinion):
        subject, name, department = row.department, OPINION_NAME, row.department
    else:
        subject, name, department = "", matter_name, case.department
    return {
        "item": item,
        "case_id": case.id,
        "matter_code": case.matter_code,
        "matter_name": matter_name,
        "subject": subject,
        "name": name,
        "department": department,
        "light": row.light,
        "light_label": Light(row.light).label,
        "deadline": row.deadline,
        "deadline_provisional": row.deadline_provisional,
    }


# Passed as ``department`` for an approver who acts for every department.
EVERY_DEPARTMENT = "*"


def watched_items(
    session: Session, *, department: str | None = None, lights: tuple[Light, ...] = ()
) -> list[dict[str, Any]]:
    """List active steps and pending opinions of open cases, and with ``lights``
    also the open cases in those lights.

    ``department`` keeps the steps for department approvers and the
    opinions of that department; cases are left out then.
    """
    steps = select(CaseStep, Case).join(Case, CaseStep.case_id == Case.id)
    steps = steps.where(CaseStep.status == "active", Case.status.in_(OPEN_STATUSES))
    opinions = select(JointOpinion, Case).join(Case, JointOpinion.case_id == Case.id)
    opinions = opinions.where(
        JointOpinion.decision.is_(None), Case.status.in_(OPEN_STATUSES)
    )
    found: list[tuple[str, Any, Case]] = []
    if department is not None:
        steps = steps.where(CaseStep.role == Role.DEPARTMENT_APPROVER.value)
    if department not in (None, EVERY_DEPARTMENT):
        steps = steps.where(CaseStep.department == department)
        opinions = opinions.where(JointOpinion.department == department)
    if lights:
        values = [light.value for light in lights]
        steps = steps.where(CaseStep.light.in_(values))
        opinions = opinions.where(JointOpinion.light.in_(values))
        cases = select(Case).where(
            Case.status.in_(OPEN_STATUSES), Case.light.in_(values)
        )
        found += [("case", case, case) for case in session.scalars(cases)]
    found += [("step", step, case) for step, case in session.execute(steps)]
    found += [("opinion", opinion, case) for opinion, case in session.execute(opinions)]
    names = matter_names(session, {case.matter_code for _, _, case in found})
    rows = [watched_row(item, case, row, names) for item, row, case in found]
    return sorted(rows, key=urgency)[:LIST_LIMIT]


def department_worklist(session: Session, user: User) -> list[dict[str, Any]]:
    """List the active steps and pending opinions of the approver's department.

    An approver without a department acts for every department of the
    center, so every department's steps and opinions are listed.
    """
    return watched_items(session, department=user.department or EVERY_DEPARTMENT)


def supervisor_worklist(session: Session) -> dict[str, Any]:
    """Return the warnings, the overdue items and the records, undecided first."""
    items = watched_items(session, lights=(Light.YELLOW, Light.RED))
    return {
        "warnings": [row for row in items if row["light"] == Light.YELLOW],
        "overdue": [row for row in items if row["light"] == Light.RED],
        "records": record_rows(session, supervision.list_records(session)),
    }


def record_rows(
    session: Session, records: list[AccountabilityRecord]
) -> list[dict[str, Any]]:
    user_ids = {r.user_id for r in records} | {r.decided_by for r in records}
    query = select(User.id, User.display_name).where(User.id.in_(user_ids - {None}))
    names = {row.id: row.display_name for row in session.execute(query)}
    return [record_row(record, names) for record in records]


def record_row(record: AccountabilityRecord, names: dict[int, str]) -> dict[str, Any]:
    row = {
        field: getattr(record, field)
        for field in RecordSchema().fields
        if hasattr(record, field)
    }
    row["breach_label"] = Breach(record.breach).label
    row["user_name"] = names.get(record.user_id) if record.user_id else None
    row["decided_by_name"] = names.get(record.decided_by) if record.decided_by else None
    return row


# --- API ---------------------------------------------------------------------------


@api.route("/worklists/clerk")
@api.response(200, ClerkItemSchema(many=True))
def clerk_list() -> list[dict[str, Any]]:
    """List the open cases of the clerk's department or taken in by the clerk."""
    user = require_roles(Role.WINDOW_CLERK)
    with current_node().db.transaction() as session:
        return clerk_worklist(session, user)


@api.route("/worklists/department")
@api.response(200, WatchedItemSchema(many=True))
def department_list() -> list[dict[str, Any]]:
    """List the active steps and pending joint opinions of the user's department."""
    user = require_roles(Role.DEPARTMENT_APPROVER)
    with current_node().db.transaction() as session:
        return department_worklist(session, user)


@api.route("/worklists/supervisor")
@roles_required(Role.SUPERVISOR)
@api.response(200, SupervisorWorklistSchema)
def supervisor_list() -> dict[str, Any]:
    """List the warnings, the overdue items and the accountability records."""
    with current_node().db.transaction() as session:
        return supervisor_worklist(session)


@api.route("/supervision/settings")
class Settings(MethodView):
    @api.response(200, ThresholdSchema)
    def get(self) -> dict[str, Any]:
        """Show the warning threshold (supervisors and center administrators)."""
        require_roles(*THRESHOLD_ROLES)
        with current_node().db.transaction() as session:
            return supervision.load_threshold(session).as_setting()

    @api.arguments(ThresholdSchema)
    @api.response(200, ThresholdSchema)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change the warning threshold (center administrators); lights follow."""
        require_roles(Role.CENTER_ADMIN)
        return change_threshold(data)


def change_threshold(data: dict[str, Any]) -> dict[str, Any]:
    """Store a loaded threshold and enqueue a sweep so that every light follows it."""
    context = current_node()
    threshold = supervision.WarningThreshold(data["kind"], data["value"])
    with context.db.transaction() as session:
        supervision.save_threshold(session, threshold)
    logger.info("Node %s: warning threshold set to %s", context.code, data)
    notify(context, supervision.sweep_all)
    return threshold.as_setting()


@api.route("/accountability")
@roles_required(Role.SUPERVISOR)
@api.arguments(RecordQuerySchema, location="query")
@api.response(200, RecordSchema(many=True))
def records(query: dict[str, Any]) -> list[dict[str, Any]]:
    """List accountability records, undecided first; ``open=true`` keeps those."""
    with current_node().db.transaction() as session:
        found = supervision.list_records(
            session, open_only=query.get("open"), limit=query["limit"]
        )
        return record_rows(session, found)


@api.route("/accountability/<int:record_id>")
@roles_required(Role.SUPERVISOR)
@api.response(200, RecordSchema)
def record(record_id: int) -> dict[str, Any]:
    """Show one accountability record."""
    with current_node().db.transaction() as session:
        return record_rows(session, [supervision.get_record(session, record_id)])[0]


@api.route("/accountability/<int:record_id>/decision", methods=["POST"])
@roles_required(Role.SUPERVISOR)
@api.arguments(DecisionSchema)
@api.response(200, RecordSchema)
def decide(data: dict[str, Any], record_id: int) -> dict[str, Any]:
    """Decide an open record: excused, or deducted with 1 to 100 points (409 if decided)."""
    return decide_record(record_id, data)


def decide_record(record_id: int, data: dict[str, Any]) -> dict[str, Any]:
    user = require_roles(Role.SUPERVISOR)
    context = current_node()
    with context.db.transaction() as session:
        decided = supervision.decide_record(context, session, record_id, data, user.id)
        row = record_rows(session, [decided])[0]
    notify(context, push_up)
    return row


# --- pages -------------------------------------------------------------------------


@pages.get("/worklist")
def worklist() -> str:
    """Show the worklists that the signed-in user's roles need."""
    user = require_roles(*WORKLIST_ROLES)
    lists: dict[str, Any] = {}
    with current_node().db.transaction() as session:
        if Role.WINDOW_CLERK in user.roles:
            lists["clerk"] = clerk_worklist(session, user)
        if Role.DEPARTMENT_APPROVER in user.roles:
            lists["department"] = department_worklist(session, user)
        if Role.SUPERVISOR in user.roles:
            lists["supervisor"] = watched_items(
                session, lights=(Light.RED, Light.YELLOW)
            )
    return render_template("worklist.html", user=user, lists=lists)


@pages.get("/supervision")
@roles_required(*THRESHOLD_ROLES)
def supervision_page() -> str:
    """Show warnings, overdue items and records (supervisors) and the threshold."""
    return render_supervision({}, None)


@pages.post("/supervision/settings")
@roles_required(Role.CENTER_ADMIN)
def supervision_settings() -> Response | tuple[str, int]:
    """Change the warning threshold from the form, or re-show it with errors (400)."""
    form = {
        "kind": request.form.get("kind", ""),
        "value": request.form.get("value", ""),
    }
    try:
        data = ThresholdSchema().load(
            {key: value.strip() for key, value in form.items() if value.strip()}
        )
    except ValidationError as exc:
        return render_supervision(page_reasons(exc, THRESHOLD_REASONS), form), 400
    change_threshold(data)
    flash("预警阈值已更新，各办件的灯色随后按新阈值重新计算。")
    return redirect(url_for(".supervision_page"), 303)


def render_supervision(errors: dict[str, Any], form: dict[str, str] | None) -> str:
    user = require_roles(Role.SUPERVISOR, Role.CENTER_ADMIN)
    with current_node().db.transaction() as session:
        lists = supervisor_worklist(session) if Role.SUPERVISOR in user.roles else {}
        threshold = supervision.load_threshold(session).as_setting()
    return render_template(
        "supervision.html",
        lists=lists,
        threshold=threshold,
        form=form or {key: str(value) for key, value in threshold.items()},
        errors=errors,
        can_change=Role.CENTER_ADMIN in user.roles,
    )


@pages.get("/supervision/records/<int:record_id>")
@roles_required(Role.SUPERVISOR, Role.CENTER_ADMIN)
def record_page(record_id: int) -> str:
    """Show one accountability record with its decision form while it is open."""
    return render_record(record_id, {}, {})


@pages.post("/supervision/records/<int:record_id>")
@roles_required(Role.SUPERVISOR)
def decide_page(record_id: int) -> Response | tuple[str, int]:
    """Decide a record from the form, or re-show the form with errors (400)."""
    form = {key: request.form.get(key, "").strip() for key in DecisionSchema().fields}
    data = {key: value for key, value in form.items() if value}
    if data.get("points", "").isdigit():
        data["points"] = int(data["points"])
    try:
        decide_record(record_id, DecisionSchema().load(data))
    except ValidationError as exc:
        return render_record(record_id, form, page_reasons(exc, DECISION_REASONS)), 400
    except Conflict:
        reason = "该问责记录已处理，处理结果不能更改。"
        return render_record(record_id, form, {"_form": [reason]}), 409
    except Forbidden:
        reason = "该问责记录涉及您本人，须由另一位监察人员处理。"
        return render_record(record_id, form, {"_form": [reason]}), 403
    flash(f"问责记录 {record_id} 已处理。")
    return redirect(url_for(".record_page", record_id=record_id), 303)


# The Chinese reason shown at each field of the supervisor's forms.
DECISION_REASONS = {
    "explanation": "请填写情况说明（1 至 2000 字）。",
    "decision": "请选择免责或扣分。",
    "points": "扣分时请填写 1 至 100 的整数分值；免责时不填分值。",
}
THRESHOLD_REASONS = {
    "kind": "请选择按剩余工作日或按时限比例预警。",
    "value": "剩余工作日填 0 至 30 的整数；比例填大于 0、不超过 1 的小数。",
}


def page_reasons(
    error: ValidationError, reasons: dict[str, str]
) -> dict[str, list[str]]:
    """Return each invalid field with its Chinese reason, for a page."""
    fields = error.normalized_messages()
    return {
        name: [reasons.get(name, "请检查此项后重新提交。")]
        for name in fields
        if isinstance(name, str)
    }


def render_record(record_id: int, form: dict[str, str], errors: dict[str, Any]) -> str:
    with current_node().db.transaction() as session:
        row = record_rows(session, [supervision.get_record(session, record_id)])[0]
    return render_template(
        "supervision_record.html", record=row, form=form, errors=errors
    )
