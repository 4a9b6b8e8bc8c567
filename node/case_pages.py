"""HTML pages where a center handles its cases: the list, the case and its notice.

Window clerks, department approvers and supervisors do their day's work
here without scripts. Every form posts back to this module, which loads it
with the API's schemas, checks the same roles as ``node.cases.views`` and
calls the same case services, then redirects to the case (303). Bad input
shows the page again with each field's reason (400), and an action that
the case's state does not allow shows it with what to do instead (409).
In both cases the transaction rolls back, so nothing is stored.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from common.catalog import get_matter, matter_names
from common.clock import local_date, today
from common.context import NodeContext
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.models import (
    Case,
    CaseStatus,
    CaseStep,
    Light,
    Matter,
    Role,
    SupplementNotice,
    User,
)
from common.schemas.cases import (
    CaseQuerySchema,
    CompleteSchema,
    InspectionSchema,
    IntakeSchema,
    MeetingSchema,
    MinutesSchema,
    NoticeInSchema,
    OpinionInSchema,
    RejectSchema,
    StepActionSchema,
)
from node.api import current_node
from node.auth import current_user, has_role, require_roles
from node.case_messages import (
    COUNT_REASON,
    FIELD_REASONS,
    STEP_STATUS_LABELS,
    conflict_reason,
    forbidden_reason,
    role_reason,
    timeline_entry,
)
from node.cases import intake, joint, service, steps
from node.cases.detail import case_detail
from node.cases.joint import DECISIONS
from node.cases.steps import HANDOVERS, check_actor
from node.cases.views import HANDLING_ROLES
from node.pages import division_name
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

bp = Blueprint("case_pages", __name__)

F = TypeVar("F", bound=Callable[..., Any])

# Rows shown on the case list, newest first.
LIST_LIMIT = 200
OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.ACCEPTED)
# A count field of the intake checklist: 0 to 99 copies, as HandedInSchema allows.
COUNT_TEXT = re.compile(r"[0-9]{1,2}")


class CaseFilterSchema(CaseQuerySchema):
    """Filters of the case list: the API's status filter and the light."""

    light = fields.String(validate=validate.OneOf([light.value for light in Light]))


# --- shared -------------------------------------------------------------------


@bp.context_processor
def page_helpers() -> dict[str, Any]:
    return {
        "list_limit": LIST_LIMIT,
        "step_status_labels": STEP_STATUS_LABELS,
        "handover_labels": HANDOVERS,
        "decision_labels": DECISIONS,
    }


@bp.app_template_filter("light_label")
def light_label(light: str) -> str:
    return Light(light).label


def staff_only(*roles: Role) -> Callable[[F], F]:
    """Let only users holding one of ``roles`` reach a page, as the API does.

    The 403 page names the roles in Chinese. A visitor who is not signed in
    is sent to the login page by the app's error handler.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                require_roles(*roles)
            except Forbidden as exc:
                raise Forbidden(role_reason(roles), exc.details) from None
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def find_case(session: Session, case_id: str) -> Case:
    """Return the case handled here, or raise a 404 with a Chinese message."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(
            f"本中心没有办件 {case_id}，请核对办件编号。", {"case_id": case_id}
        )
    return case


# --- the case list ------------------------------------------------------------


@bp.get("/cases")
@staff_only(*HANDLING_ROLES)
def cases() -> str | tuple[str, int]:
    """List the cases handled here, filtered by status and light."""
    try:
        query = CaseFilterSchema().load(request.args)
    except ValidationError as exc:
        names = "、".join(sorted(exc.normalized_messages()))
        return render_case_list({}, f"筛选条件有误（{names}），已显示全部办件。"), 400
    return render_case_list(query, None)


def render_case_list(query: Mapping[str, Any], problem: str | None) -> str:
    context = current_node()
    statement = select(Case).order_by(Case.received_at.desc()).limit(LIST_LIMIT)
    if "status" in query:
        statement = statement.where(Case.status == query["status"])
    if "light" in query:
        statement = statement.where(
            Case.light == query["light"], Case.status.in_(OPEN_STATUSES)
        )
    with context.db.transaction() as session:
        rows = session.scalars(statement).all()
        names = matter_names(session, {c.matter_code for c in rows})
        current = active_steps(session, [c.id for c in rows])
        listed = [case_row(context, c, names, current.get(c.id)) for c in rows]

    return render_template(
        "cases.html",
        cases=listed,
        status_filter=query.get("status"),
        light_filter=query.get("light"),
        statuses=[s for s in CaseStatus if s is not CaseStatus.FILED],
        lights=list(Light),
        problem=problem,
    )


def active_steps(session: Session, case_ids: list[str]) -> dict[str, CaseStep]:
    query = select(CaseStep).where(
        CaseStep.case_id.in_(case_ids), CaseStep.status == "active"
    )
    return {step.case_id: step for step in session.scalars(query)}


def case_row(
    context: NodeContext,
    case: Case,
    names: Mapping[str, str],
    step: CaseStep | None,
) -> dict[str, Any]:
    return {
        "id": case.id,
        "matter_code": case.matter_code,
        "matter_name": names.get(case.matter_code, case.matter_code),
        "applicant_name": case.applicant_name,
        "filing_name": division_name(context, case.filed_at_code),
        "department": case.department,
        "status": case.status,
        "open": case.status in OPEN_STATUSES,
        "light": case.light,
        "received_at": case.received_at,
        "deadline": case.deadline,
        "deadline_provisional": case.deadline_provisional,
        "step": f"{step.position + 1}. {step.name}" if step else None,
        "joint": case.joint,
    }


# --- the case's workspace -------------------------------------------------------


@bp.get("/cases/<case_id>")
@staff_only(*HANDLING_ROLES)
def case_detail_page(case_id: str) -> str:
    """Show a case with the forms that its state and the user's roles allow."""
    return render_workspace(case_id)


def render_workspace(
    case_id: str,
    failed: str | None = None,
    errors: Mapping[str, str] | None = None,
    problem: str | None = None,
) -> str:
    """Render the case page, showing form ``failed`` again with its ``errors``."""
    context = current_node()
    user = current_user()
    with context.db.transaction() as session:
        case = find_case(session, case_id)
        matter = get_matter(session, case.matter_code, case.release)
        detail = case_detail(context, session, case)
        view = workspace(context, session, case, matter, user)

    return render_template(
        "case_detail.html",
        case=detail,
        timeline=[timeline_entry(entry) for entry in detail["timeline"]],
        failed=failed,
        errors=errors or {},
        problem=problem,
        form=request.form,
        **view,
    )


def workspace(
    context: NodeContext,
    session: Session,
    case: Case,
    matter: Matter,
    user: User | None,
) -> dict[str, Any]:
    """Collect what the case page shows beyond the case's own detail."""
    is_open = case.status in OPEN_STATUSES
    notice = intake.open_notice(session, case)
    checklist = checklist_rows(matter, case)
    missing = intake.missing_materials(matter, intake.handed_in_of(case))
    handovers = {
        value: label
        for value, label in HANDOVERS.items()
        if value != "filing_node" or case.filed_at_code != context.code
    }
    return {
        "matter": matter,
        "filing_name": division_name(context, case.filed_at_code),
        "filed_here": case.filed_at_code == context.code,
        "is_open": is_open,
        "checklist": checklist,
        "missing": missing if is_open else [],
        "open_notice": notice,
        "supplement_rows": supplement_rows(checklist, notice),
        "handovers": handovers,
        "can": permissions(session, case, user),
        "today": today(),
    }


def checklist_rows(matter: Matter, case: Case) -> list[dict[str, Any]]:
    """Build one intake row per material of the standard, filled with what is known.

    Without a checked intake, a material named at filing is filled with the
    counts its standard requires, or one original where it gives no count.
    """
    checked = {item["name"]: item for item in case.materials_checked or []}
    rows = []
    for index, material in enumerate(matter.standard.get("materials", [])):
        name = material["name"]
        if case.materials_checked is not None:
            handed_in = checked.get(name, {})
        elif name in case.materials:
            handed_in = filed_counts(material)
        else:
            handed_in = {}
        rows.append(
            {
                "index": index,
                "name": name,
                "required": bool(material.get("required")),
                "originals_needed": material.get("originals"),
                "copies_needed": material.get("copies"),
                "originals": handed_in.get("originals", 0),
                "copies": handed_in.get("copies", 0),
                "named_at_filing": name in case.materials,
            }
        )
    return rows


def filed_counts(material: Mapping[str, Any]) -> dict[str, int]:
    originals, copies = material.get("originals"), material.get("copies")
    if originals is None and copies is None:
        return {"originals": 1, "copies": 0}
    return {"originals": originals or 0, "copies": copies or 0}


def supplement_rows(
    checklist: list[dict[str, Any]], notice: SupplementNotice | None
) -> list[dict[str, Any]]:
    """Return the checklist rows of the materials that the open notice lists."""
    if notice is None:
        return []
    problems = {item["name"]: item["problem"] for item in notice.missing}
    return [
        {**row, "originals": 0, "copies": 0, "problem": problems[row["name"]]}
        for row in checklist
        if row["name"] in problems
    ]


def permissions(session: Session, case: Case, user: User | None) -> dict[str, Any]:
    """Decide which forms the page shows the user. The services check again on submit."""
    clerk = has_role(user, Role.WINDOW_CLERK)
    approver = has_role(user, Role.DEPARTMENT_APPROVER)
    step = steps.active_step(session, case)
    review = joint.review_view(session, case.id)
    departments = [o["department"] for o in review["opinions"]] if review else []
    return {
        "clerk": clerk,
        "step": step is not None and user is not None and may_act(step, user),
        "lead": approver and review is not None and serves(user, review["lead"]),
        "opinions": [d for d in departments if approver and serves(user, d)],
    }


def may_act(step: CaseStep, user: User) -> bool:
    try:
        check_actor(step, user)
    except Forbidden:
        return False
    return True


def serves(user: User | None, department: str) -> bool:
    # A user without a department acts for every department, as the services allow.
    return user is not None and user.department in (None, "", department)


# --- actions ------------------------------------------------------------------


def perform(
    action: str,
    case_id: str,
    run: Callable[[NodeContext, Session], Any],
    done: str | Callable[[Any], str],
    form_key: str | None = None,
) -> Response | tuple[str, int]:
    """Run one form's action on a case in one transaction, then redirect to it.

    ``run`` loads the form and calls the service. On bad input or a state
    conflict the transaction rolls back and the case page is shown again,
    with the reasons at the form ``form_key`` (400) or what to do (409).
    """
    context = current_node()
    try:
        with context.db.transaction() as session:
            outcome = run(context, session)
    except ValidationError as exc:
        return reshow(case_id, action, form_key, exc.normalized_messages())
    except InvalidInput as exc:
        fields_at_fault = exc.details.get("fields") or {"_form": [exc.message]}
        return reshow(case_id, action, form_key, fields_at_fault)
    except Conflict as exc:
        logger.info(
            "Node %s: case %s %s rejected by its state: %s",
            context.code,
            case_id,
            action,
            exc,
        )
        problem = conflict_reason(case_id, action, exc) or state_conflict_reason(
            case_id, action
        )
        return render_workspace(case_id, problem=problem), 409
    except Forbidden as exc:
        raise Forbidden(forbidden_reason(exc), exc.details) from None
    except NotFound as exc:
        raise NotFound(not_found_reason(case_id, exc), exc.details) from None

    notify(context, push_up)
    flash(done(outcome) if callable(done) else done)
    return redirect(url_for(".case_detail_page", case_id=case_id), 303)


def reshow(
    case_id: str, action: str, form_key: str | None, messages: Mapping[str, Any]
) -> tuple[str, int]:
    errors = {
        field: FIELD_REASONS.get((action, field), COUNT_REASON) for field in messages
    }
    logger.info(
        "Node %s: case %s %s not done, invalid fields %s",
        current_node().code,
        case_id,
        action,
        sorted(errors),
    )
    problem = "未做任何更改，请按提示修改后重新提交。"
    return render_workspace(case_id, form_key or action, errors, problem), 400


def state_conflict_reason(case_id: str, action: str) -> str:
    """Explain a conflict that names only the case, from the case's state now."""
    with current_node().db.transaction() as session:
        case = find_case(session, case_id)
        notice_open = intake.open_notice(session, case) is not None
        joint_case = case.joint
    if notice_open and action == "notice":
        return "本件已有未办结的补正告知：材料送达后请先登记补正材料。"
    if notice_open:
        return "本件正在补正中（停止计时）：请先登记补正材料，再继续办理。"
    if action == "notice":
        return "必需材料已齐全，无需补正告知，请直接受理。"
    if action == "supplement":
        return "本件没有未办结的补正告知，无需登记补正材料。"
    if action == "complete" and joint_case:
        return "联办件由牵头部门记录会议纪要后办结，不在窗口办结。"
    if action == "inspection":
        return "联合会审已召开，不能再安排踏勘。"
    if action == "minutes":
        return "请先记录联合会审，再记录会议纪要。"
    return "办件当前状态不允许此操作，请查看本页的最新状态。"


def not_found_reason(case_id: str, error: NotFound) -> str:
    if "position" in error.details:
        return f"办件 {case_id} 没有第 {error.details['position'] + 1} 环节。"
    with current_node().db.transaction() as session:
        find_case(session, case_id)
    return f"办件 {case_id} 不是联办件，或尚未受理，没有联审。"


def form_text(*names: str) -> dict[str, str]:
    """Read text fields of the form, leaving blank ones out so that they count as missing."""
    data = {name: request.form.get(name, "").strip() for name in names}
    return {name: value for name, value in data.items() if value}


def handed_in_form(prefix: str, materials: list[dict[str, Any]]) -> list[dict]:
    """Read the checklist rows ``<prefix>-<index>-originals|copies`` of the form.

    A row with no original and no copy is a material not handed in. Raises
    ``ValidationError`` naming each count that is not a whole number 0 to 99.
    """
    handed_in, errors = [], {}
    for index, material in enumerate(materials):
        counts = {}
        for key in ("originals", "copies"):
            field = f"{prefix}-{index}-{key}"
            text = request.form.get(field, "").strip() or "0"
            if COUNT_TEXT.fullmatch(text):
                counts[key] = int(text)
            else:
                errors[field] = [COUNT_REASON]
        if counts.get("originals") or counts.get("copies"):
            handed_in.append({"name": material["name"], **counts})
    if errors:
        raise ValidationError(errors)
    return IntakeSchema().load({"materials": handed_in})["materials"]


def standard_materials(session: Session, case_id: str) -> list[dict[str, Any]]:
    case = service.get_case(session, case_id)
    return get_matter(session, case.matter_code, case.release).standard.get(
        "materials", []
    )


def missing_text(case: Case, session: Session) -> str:
    matter = get_matter(session, case.matter_code, case.release)
    missing = intake.missing_materials(matter, intake.handed_in_of(case))
    if not missing:
        return "收件已登记，必需材料齐全。"
    listed = "；".join(f"{m['name']}（{m['problem']}）" for m in missing)
    return f"收件已登记。缺少：{listed}。请开具一次性告知书。"


@bp.post("/cases/<case_id>/intake")
@staff_only(Role.WINDOW_CLERK)
def record_intake(case_id: str) -> Response | tuple[str, int]:
    """Record the materials handed in, then flash which ones are missing."""
    clerk = current_user()

    def run(context: NodeContext, session: Session) -> str:
        handed_in = handed_in_form("intake", standard_materials(session, case_id))
        case = intake.record_intake(context, session, case_id, handed_in, clerk)
        return missing_text(case, session)

    return perform("intake", case_id, run, str)


@bp.post("/cases/<case_id>/notices")
@staff_only(Role.WINDOW_CLERK)
def issue_notice(case_id: str) -> Response | tuple[str, int]:
    """Issue the supplement notice of every missing material, which stops the clock."""
    clerk = current_user()

    def run(context: NodeContext, session: Session) -> int:
        data = NoticeInSchema().load(form_text("reason"))
        notice = intake.issue_supplement_notice(
            context, session, case_id, clerk, data.get("reason")
        )
        return notice.number

    def done(number: int) -> str:
        return f"已开具第 {number} 次一次性告知书，办件停止计时；请打印交给申请人。"

    return perform("notice", case_id, run, done)


@bp.post("/cases/<case_id>/supplement")
@staff_only(Role.WINDOW_CLERK)
def receive_supplement(case_id: str) -> Response | tuple[str, int]:
    """Record the materials that arrived for the open notice, restarting the clock."""
    clerk = current_user()

    def run(context: NodeContext, session: Session) -> str:
        handed_in = handed_in_form("supplement", standard_materials(session, case_id))
        case = intake.receive_supplement(context, session, case_id, handed_in, clerk)
        if case.clock_stopped_at is not None:
            return "已登记送达的补正材料；材料尚未补齐，继续停止计时。" + missing_text(
                case, session
            )
        return "补正材料已登记，恢复计时。" + missing_text(case, session)

    return perform("supplement", case_id, run, str)


@bp.post("/cases/<case_id>/accept")
@staff_only(Role.WINDOW_CLERK)
def accept_case(case_id: str) -> Response | tuple[str, int]:
    """Accept a received case, which starts its deadlines."""
    clerk = current_user()

    def run(context: NodeContext, session: Session) -> Case:
        return intake.accept_case(context, session, case_id, clerk)

    def done(case: Case) -> str:
        provisional = "（暂定）" if case.deadline_provisional else ""
        return f"办件 {case_id} 已受理，办结时限 {case.deadline}{provisional}。"

    return perform("accept", case_id, run, done)


@bp.post("/cases/<case_id>/reject")
@staff_only(Role.WINDOW_CLERK)
def reject_case(case_id: str) -> Response | tuple[str, int]:
    """Reject a received case with the reason given to the applicant."""
    clerk = current_user()

    def run(context: NodeContext, session: Session) -> None:
        data = RejectSchema().load(form_text("reason"))
        intake.reject_case(context, session, case_id, data["reason"], clerk)

    return perform("reject", case_id, run, f"办件 {case_id} 已不予受理。")


@bp.post("/cases/<case_id>/steps/<int:position>/approve")
@staff_only(Role.WINDOW_CLERK, Role.DEPARTMENT_APPROVER)
def approve_step(case_id: str, position: int) -> Response | tuple[str, int]:
    """Approve the active step, which starts the next one."""
    return step_action(case_id, position, steps.approve_step, "已审批通过")


@bp.post("/cases/<case_id>/steps/<int:position>/return")
@staff_only(Role.WINDOW_CLERK, Role.DEPARTMENT_APPROVER)
def return_step(case_id: str, position: int) -> Response | tuple[str, int]:
    """Return the active step to the step before."""
    return step_action(case_id, position, steps.return_step, "已退回上一环节")


def step_action(
    case_id: str, position: int, action: Callable[..., Case], outcome: str
) -> Response | tuple[str, int]:
    user = current_user()

    def run(context: NodeContext, session: Session) -> None:
        data = StepActionSchema().load(form_text("opinion"))
        action(context, session, case_id, position, user, data["opinion"])

    return perform("step", case_id, run, f"第 {position + 1} 环节{outcome}。")


@bp.post("/cases/<case_id>/complete")
@staff_only(Role.WINDOW_CLERK)
def complete_case(case_id: str) -> Response | tuple[str, int]:
    """Complete an accepted case with its result and how it is handed over."""
    clerk = current_user()

    def run(context: NodeContext, session: Session) -> Case:
        data = CompleteSchema().load(form_text("result", "handover"))
        return steps.complete_case(
            context, session, case_id, data["result"], data["handover"], clerk
        )

    def done(case: Case) -> str:
        return f"办件 {case_id} 已办结，结果{HANDOVERS[case.handover or 'window']}。"

    return perform("complete", case_id, run, done)


@bp.post("/cases/<case_id>/joint/inspection")
@staff_only(Role.DEPARTMENT_APPROVER)
def schedule_inspection(case_id: str) -> Response | tuple[str, int]:
    """Schedule the joint site inspection (lead department)."""
    user = current_user()

    def run(context: NodeContext, session: Session) -> None:
        data = InspectionSchema().load(form_text("on", "note"))
        joint.schedule_inspection(
            context, session, case_id, data["on"], data["note"], user
        )

    return perform("inspection", case_id, run, "已安排联合踏勘。")


@bp.post("/cases/<case_id>/joint/opinions")
@staff_only(Role.DEPARTMENT_APPROVER)
def give_opinion(case_id: str) -> Response | tuple[str, int]:
    """Record one participating department's opinion."""
    user = current_user()
    department = request.form.get("department", "").strip()

    def run(context: NodeContext, session: Session) -> None:
        data = OpinionInSchema().load(form_text("department", "decision", "opinion"))
        joint.give_opinion(
            context,
            session,
            case_id,
            data["department"],
            data["decision"],
            data["opinion"],
            user,
        )

    done = f"{department}的联审意见已记录。"
    return perform("opinion", case_id, run, done, form_key=f"opinion:{department}")


@bp.post("/cases/<case_id>/joint/meeting")
@staff_only(Role.DEPARTMENT_APPROVER)
def record_meeting(case_id: str) -> Response | tuple[str, int]:
    """Record the joint meeting's outcome, once every opinion is in."""
    user = current_user()

    def run(context: NodeContext, session: Session) -> None:
        data = MeetingSchema().load(form_text("on", "outcome"))
        joint.record_meeting(
            context, session, case_id, data["on"], data["outcome"], user
        )

    return perform("meeting", case_id, run, "联合会审已记录。")


@bp.post("/cases/<case_id>/joint/minutes")
@staff_only(Role.DEPARTMENT_APPROVER)
def record_minutes(case_id: str) -> Response | tuple[str, int]:
    """Record the lead's minutes, which complete the case."""
    user = current_user()

    def run(context: NodeContext, session: Session) -> None:
        data = MinutesSchema().load(form_text("minutes", "handover"))
        joint.record_minutes(
            context, session, case_id, data["minutes"], data["handover"], user
        )

    return perform("minutes", case_id, run, f"会议纪要已记录，办件 {case_id} 已办结。")


# --- the printable supplement notice -------------------------------------------


@bp.get("/cases/<case_id>/notices/<int:number>")
@staff_only(*HANDLING_ROLES)
def notice_print(case_id: str, number: int) -> str:
    """Show supplement notice ``number`` of a case, laid out for printing."""
    context = current_node()
    with context.db.transaction() as session:
        case = find_case(session, case_id)
        notice = session.scalar(
            select(SupplementNotice).where(
                SupplementNotice.case_id == case_id, SupplementNotice.number == number
            )
        )
        if notice is None:
            raise NotFound(
                f"办件 {case_id} 没有第 {number} 次补正告知。",
                {"case_id": case_id, "number": number},
            )
        matter = get_matter(session, case.matter_code, case.release)
        session.expunge_all()

    return render_template(
        "notice_print.html",
        case=case,
        notice=notice,
        matter=matter,
        issued_on=local_date(notice.issued_at),
    )
