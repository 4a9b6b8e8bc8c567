"""HTML pages of a node: home, service guides, proxy applications and cases.

The pages are for staff who use them all day: server-rendered HTML, forms
that post back here and no scripts. Every form carries a per-session CSRF
token, and every POST without the right token is rejected before it acts.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import flask
from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from common.catalog import (
    delegations_of,
    get_matter,
    handling_node,
    list_matters,
    require_release,
)
from common.clock import CHINA
from common.context import NodeContext
from common.divisions import Tier
from common.errors import Conflict, InvalidInput, NotFound
from common.models import Application, Case, CaseStatus, Delegation, Matter
from common.schemas.cases import (
    ApplicationInSchema,
    CaseQuerySchema,
    CompleteSchema,
    RejectSchema,
)
from node.api import current_node
from node.cases import service
from node.catalog import matter_summary, release_info, service_guide
from node.sync_status import sync_status
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

CSRF_FIELD = "csrf_token"
# Rows shown on the application and case lists, newest first.
LIST_LIMIT = 200

KIND_LABELS = {"immediate": "即办件", "promised": "承诺件"}

# Roles that the catalog gives as codes. Other roles are Chinese text already.
ROLE_LABELS = {
    "window_clerk": "窗口工作人员",
    "township_reviewer": "乡镇（街道）审核人员",
    "department_approver": "部门审批人员",
}

# Standard fields that an administrator filled in where no guide gave them.
ASSUMED_FIELD_LABELS = {
    "legal_limit_working_days": "法定办结时限",
    "promised_limit_working_days": "承诺办结时限",
    "materials": "申请材料",
    "steps": "办理流程",
    "steps.limit_working_days": "各环节时限",
    "steps.role": "各环节办理人员",
    "fee": "收费标准",
    "legal_basis": "设定依据",
    "joint": "联办部门",
}

# Form fields of a proxy application: (label, what a valid value looks like).
APPLICATION_FIELDS = {
    "matter_code": ("办理事项", "请从事项目录中选择本节点可以代办的事项"),
    "applicant.name": ("申请人姓名", "姓名为 1 至 100 个字"),
    "applicant.id_number": ("身份证号码", "请核对 18 位居民身份证号码及末位校验码"),
    "applicant.phone": (
        "联系电话",
        "手机号为 11 位（如 13800000000），固定电话带区号（如 0596-2345678）",
    ),
    "materials": ("申请材料", "只能勾选该事项办事指南所列的材料"),
}
MISSING_FIELD = "Missing data for required field."


class CsrfTokenInvalid(InvalidInput):
    code = "csrf_token_invalid"


# --- shared -------------------------------------------------------------------


def csrf_token() -> str:
    """Return this browser session's CSRF token, creating it on first use."""
    token = flask.session.get(CSRF_FIELD)
    if token is None:
        token = secrets.token_urlsafe(32)
        flask.session[CSRF_FIELD] = token
    return token


@bp.before_request
def check_csrf_token() -> None:
    """Reject a POST whose form token does not match the session's token."""
    if request.method != "POST":
        return
    expected = flask.session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD, "")
    if expected is None or not hmac.compare_digest(sent, expected):
        raise CsrfTokenInvalid(
            "表单校验令牌缺失或已失效，未做任何更改：请刷新页面后重新提交。"
            "(missing or invalid CSRF token; reload the page and submit again)"
        )


@bp.context_processor
def page_helpers() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "csrf_field": CSRF_FIELD,
        "list_limit": LIST_LIMIT,
    }


@bp.app_context_processor
def hub_flag() -> dict[str, bool]:
    # base.html shows the link to the city dashboard only on the hub.
    return {"node_is_hub": current_node().is_hub}


@bp.app_template_filter("local_time")
def local_time(moment: dt.datetime | str | None) -> str:
    """Format an aware timestamp (or its ISO text) in China Standard Time, or "—"."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


@bp.app_template_filter("or_dash")
def or_dash(value: object) -> str:
    """Show a value that the catalog or the case does not have as "—"."""
    return "—" if value is None or value == "" else str(value)


@bp.app_template_filter("tier_label")
def tier_label(tier: str) -> str:
    return Tier(tier).label


@bp.app_template_filter("kind_label")
def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    return CaseStatus(status).label


@bp.app_template_filter("role_label")
def role_label(role: str | None) -> str:
    return or_dash(ROLE_LABELS.get(role, role) if role else None)


def division_name(context: NodeContext, code: str) -> str:
    return context.divisions.get(code).name


# --- home ---------------------------------------------------------------------


def count_by_status(
    session: Session, model: type[Application] | type[Case]
) -> dict[str, Any]:
    """Count rows per status, in the order a case passes through them."""
    rows = session.execute(select(model.status, func.count()).group_by(model.status))
    counts = {status: count for status, count in rows}
    return {
        "total": sum(counts.values()),
        "by_status": [(s.label, counts.get(s.value, 0)) for s in CaseStatus],
    }


@bp.get("/sync-status")
def sync_health() -> str:
    """Show this node's sync health: links, unsent events, queue."""
    context = current_node()
    with context.db.transaction() as session:
        status = sync_status(context, session)
    for link in status["links"]:
        link["name"] = division_name(context, link["peer"])
    for row in status["unacknowledged"]:
        row["name"] = division_name(context, row["origin"])
    return render_template("sync_status.html", status=status)


@bp.get("/")
def home() -> str:
    """Show who this node is, the catalog release it holds and its workload."""
    context = current_node()
    with context.db.transaction() as session:
        release = release_info(session)
        applications = count_by_status(session, Application)
        cases = count_by_status(session, Case)

    parent = context.parent_code
    return render_template(
        "home.html",
        release=release,
        parent_code=parent,
        parent_name=division_name(context, parent) if parent else None,
        applications=applications,
        cases=cases,
    )


# --- service guides -----------------------------------------------------------


@bp.get("/guide")
def guide_index() -> str:
    """List the matters of the current release, each linking to its guide."""
    with current_node().db.transaction() as session:
        release = release_info(session)
        matters = [matter_summary(m) for m in list_matters(session)]
    return render_template("guide_index.html", release=release, matters=matters)


@bp.get("/guide/<code>")
def guide(code: str) -> str:
    """Show one matter's service guide, or a 404 page for an unknown code."""
    context = current_node()
    with context.db.transaction() as session:
        matter = get_matter(session, code)
        standard = service_guide(session, matter)
        handler = handler_here(context, matter, delegations_of(session, matter))

    for delegation in standard["delegations"]:
        delegation["region_name"] = division_name(context, delegation["region"])
    assumed = [ASSUMED_FIELD_LABELS.get(f, f) for f in standard["assumed_fields"]]
    return render_template(
        "guide.html", guide=standard, assumed=assumed, handler=handler
    )


def delegations_by_matter(session: Session) -> dict[str, list[Delegation]]:
    """Return the current release's delegations, grouped by matter code."""
    number = require_release(session)
    grouped: dict[str, list[Delegation]] = {}
    query = select(Delegation).where(Delegation.release == number)
    for delegation in session.scalars(query):
        grouped.setdefault(delegation.matter_code, []).append(delegation)
    return grouped


def handler_here(
    context: NodeContext, matter: Matter, delegations: list[Delegation]
) -> dict[str, str] | None:
    """Return the node that handles ``matter`` when filed here, or None.

    None means this node sits above the handling tier and cannot file it.
    """
    try:
        code = handling_node(context.divisions, matter, delegations, context.code)
    except InvalidInput:
        return None
    return {"code": code, "name": division_name(context, code)}


# --- proxy applications -------------------------------------------------------


@bp.get("/applications")
def applications() -> str:
    """List the applications filed here, with the form to file another."""
    return render_applications(request.args, {})


@bp.post("/applications")
def file_application() -> Response | tuple[str, int]:
    """File a proxy application from the form, or re-show it with errors (400)."""
    context = current_node()
    try:
        data = ApplicationInSchema().load(application_form_data(request.form))
        with context.db.transaction() as session:
            case_id = service.file_application(context, session, data).id
    except ValidationError as exc:
        errors = exc.normalized_messages()
    except InvalidInput as exc:
        errors = exc.details.get("fields") or {"_form": [exc.message]}
    else:
        notify(context, push_up)
        flash(f"已提交代办件 {case_id}。")
        return redirect(url_for(".applications"), 303)

    # Field names only: the values are the applicant's personal data.
    logger.info(
        "Node %s: proxy application not filed, invalid fields %s",
        context.code,
        sorted(flatten_errors(errors)),
    )
    return render_applications(request.form, errors), 400


def application_form_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """Build the API's nested application from the flat form fields.

    Blank fields are left out, so that the schema reports them as missing.
    """
    applicant = {
        key: form.get(f"applicant_{key}", "").strip()
        for key in ("name", "id_number", "phone")
    }
    data: dict[str, Any] = {
        "matter_code": form.get("matter_code", "").strip(),
        "applicant": {key: value for key, value in applicant.items() if value},
        "materials": [m.strip() for m in form.getlist("materials") if m.strip()],
    }
    return {key: value for key, value in data.items() if value != ""}


def render_applications(form: MultiDict[str, str], errors: Mapping[str, Any]) -> str:
    context = current_node()
    with context.db.transaction() as session:
        rows = session.scalars(
            select(Application).order_by(Application.filed_at.desc()).limit(LIST_LIMIT)
        ).all()
        names = matter_names(session, {a.matter_code for a in rows})
        fileable = fileable_matters(context, session)

    selected = next((m for m in fileable if m["code"] == form.get("matter_code")), None)
    if selected is None and form.get("matter_code") and not errors:
        errors = {"matter_code": ["该事项不在本节点可报送的事项中"]}
    return render_template(
        "applications.html",
        applications=[application_row(context, a, names) for a in rows],
        fileable=fileable,
        selected=selected,
        form=form,
        checked=set(form.getlist("materials")),
        errors=form_errors(errors),
    )


def matter_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Return each matter's name, from the newest release that holds it."""
    query = (
        select(Matter.code, Matter.name)
        .where(Matter.code.in_(codes))
        .order_by(Matter.release)
    )
    return {code: name for code, name in session.execute(query)}


def fileable_matters(context: NodeContext, session: Session) -> list[dict[str, Any]]:
    """List the matters this node may file, each with its handling node."""
    matters = list_matters(session)
    delegations = delegations_by_matter(session) if matters else {}
    fileable = []
    for matter in matters:
        handler = handler_here(context, matter, delegations.get(matter.code, []))
        if handler is not None:
            materials = matter.standard.get("materials", [])
            fileable.append(
                {**matter_summary(matter), "handler": handler, "materials": materials}
            )
    return fileable


def application_row(
    context: NodeContext, application: Application, names: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "id": application.id,
        "matter_code": application.matter_code,
        "matter_name": names.get(application.matter_code, application.matter_code),
        "applicant_name": application.applicant_name,
        "status": application.status,
        "handler_name": division_name(context, application.handler_code),
        "deadline": application.deadline,
        "filed_at": application.filed_at,
        "reason": application.reason,
    }


def form_errors(messages: Mapping[str, Any]) -> dict[str, str]:
    """Turn schema or service errors into one Chinese line per form field."""
    lines = {}
    for field, texts in flatten_errors(messages).items():
        label, hint = APPLICATION_FIELDS.get(field, ("表单", ""))
        if MISSING_FIELD in texts:
            lines[field] = f"请填写{label}。"
        else:
            detail = "；".join(texts)
            lines[field] = f"{label}有误：{hint}（{detail}）" if hint else detail
    return lines


def flatten_errors(messages: Mapping[Any, Any], prefix: str = "") -> dict[str, list]:
    """Flatten nested marshmallow messages to dotted field names."""
    flat: dict[str, list] = {}
    for key, value in messages.items():
        # Errors of one list item (materials.3) are errors of the whole list.
        name = prefix.rstrip(".") if isinstance(key, int) else f"{prefix}{key}"
        if isinstance(value, Mapping):
            for field, texts in flatten_errors(value, name + ".").items():
                flat.setdefault(field, []).extend(texts)
        else:
            flat.setdefault(name, []).extend(value)
    return flat


# --- cases --------------------------------------------------------------------


@bp.get("/cases")
def cases() -> str:
    """List the cases handled here, optionally of one status, with their actions."""
    query = CaseQuerySchema().load(request.args)
    context = current_node()
    statement = select(Case).order_by(Case.received_at.desc()).limit(LIST_LIMIT)
    if "status" in query:
        statement = statement.where(Case.status == query["status"])
    with context.db.transaction() as session:
        rows = session.scalars(statement).all()
        names = matter_names(session, {c.matter_code for c in rows})

    return render_template(
        "cases.html",
        cases=rows,
        matter_names=names,
        filing_names={c.id: division_name(context, c.filed_at_code) for c in rows},
        status_filter=query.get("status"),
        statuses=[s for s in CaseStatus if s is not CaseStatus.FILED],
    )


@bp.post("/cases/<case_id>/accept")
def accept_case(case_id: str) -> Response:
    """Accept a received case, starting its deadline from today."""
    act_on_case(service.accept_case, case_id)
    flash(f"办件 {case_id} 已受理。")
    return back_to_cases()


@bp.post("/cases/<case_id>/reject")
def reject_case(case_id: str) -> Response:
    """Reject a received case, recording the reason for the applicant."""
    reason = load_form(RejectSchema(), "reason", "不予受理理由")
    act_on_case(service.reject_case, case_id, reason)
    flash(f"办件 {case_id} 已不予受理。")
    return back_to_cases()


@bp.post("/cases/<case_id>/complete")
def complete_case(case_id: str) -> Response:
    """Complete an accepted case with its result."""
    result = load_form(CompleteSchema(), "result", "办理结果")
    act_on_case(service.complete_case, case_id, result)
    flash(f"办件 {case_id} 已办结。")
    return back_to_cases()


def load_form(schema: Schema, field: str, label: str) -> str:
    """Load one required text field of a case action, or raise ``InvalidInput``."""
    try:
        return schema.load({field: request.form.get(field, "").strip()})[field]
    except ValidationError as exc:
        raise InvalidInput(
            f"请填写{label}（1 至 2000 字）后重新提交，未做任何更改。",
            {"fields": exc.normalized_messages()},
        ) from None


def act_on_case(action: Callable[..., Case], case_id: str, *args: str) -> None:
    """Run a case action in one transaction, then wake the upward push."""
    context = current_node()
    try:
        with context.db.transaction() as session:
            action(context, session, case_id, *args)
    except Conflict as exc:
        if "status" not in exc.details:
            raise
        status = CaseStatus(exc.details["status"]).label
        raise Conflict(
            f"办件 {case_id} 当前状态为「{status}」，不能执行此操作；请刷新页面查看最新状态。",
            exc.details,
        ) from None
    except NotFound as exc:
        if "case_id" not in exc.details:
            raise
        raise NotFound(
            f"本中心没有办件 {case_id}，请核对办件编号。", exc.details
        ) from None
    notify(context, push_up)


def back_to_cases() -> Response:
    """Redirect to the case list, keeping the status filter that was shown."""
    status = request.args.get("status")
    if status not in {s.value for s in CaseStatus}:
        status = None
    return redirect(url_for(".cases", status=status), 303)
