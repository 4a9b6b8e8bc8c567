"""HTML pages of a node: home, service guides and proxy applications.

The pages are for staff who use them all day: server-rendered HTML, forms
that post back here and no scripts. Every form carries a per-session CSRF
token, and every POST without the right token is rejected before it acts.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from common.catalog import (
    delegations_of,
    get_matter,
    handling_node,
    list_matters,
    matter_names,
    require_release,
)
from common.clock import CHINA
from common.context import NodeContext
from common.divisions import Tier
from common.errors import InvalidInput, NotFound
from common.models import Application, Case, CaseStatus, Delegation, Matter, Role
from common.schemas.cases import ApplicationInSchema
from node.api import current_node
from node.auth import require_roles, roles_required
from node.cases import service
from node.cases.steps import HANDOVERS
from node.cases.views import FILING_ROLES
from node.catalog import matter_summary, release_info, service_guide
from node.sync_status import sync_status
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

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
    "ticket_id": (
        "排队号",
        "请从叫号页面进入；排队号须是您正在办理、尚未关联办件的号，且事项由本中心办理",
    ),
}
# A queue ticket id as the form sends it: a whole number of at most 10 digits.
TICKET_TEXT = re.compile(r"[0-9]{1,10}")
MISSING_FIELD = "Missing data for required field."


# --- shared -------------------------------------------------------------------


@bp.context_processor
def page_helpers() -> dict[str, Any]:
    return {
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
@roles_required(Role.CENTER_ADMIN, Role.SUPERVISOR)
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
@roles_required(*FILING_ROLES, Role.SUPERVISOR)
def applications() -> str:
    """List the applications filed here, with the form to file another."""
    return render_applications(request.args, {})


@bp.post("/applications")
@roles_required(*FILING_ROLES)
def file_application() -> Response | tuple[str, int]:
    """File a proxy application from the form, or re-show it with errors (400).

    A case handled here opens on its case page, where the clerk continues
    with the intake. Any other application goes back to the list.
    """
    context = current_node()
    user = require_roles(*FILING_ROLES)
    try:
        data = ApplicationInSchema().load(application_form_data(request.form))
        with context.db.transaction() as session:
            application = service.file_application(context, session, data, user)
            case_id, handler = application.id, application.handler_code
    except ValidationError as exc:
        errors = exc.normalized_messages()
    except InvalidInput as exc:
        errors = exc.details.get("fields") or {"_form": [exc.message]}
    else:
        notify(context, push_up)
        if handler == context.code:
            flash(f"已收件 {case_id}，请核对申请材料。")
            return redirect(
                url_for("case_pages.case_detail_page", case_id=case_id), 303
            )
        flash(f"已提交代办件 {case_id}。")
        return redirect(url_for(".applications"), 303)

    # Field names only: the values are the applicant's personal data.
    logger.info(
        "Node %s: proxy application not filed, invalid fields %s",
        context.code,
        sorted(flatten_errors(errors)),
    )
    return render_applications(request.form, errors), 400


@bp.get("/applications/<case_id>")
@roles_required(*FILING_ROLES, Role.SUPERVISOR)
def application_detail(case_id: str) -> str:
    """Show one application's status at its handling node, for the applicant."""
    context = current_node()
    with context.db.transaction() as session:
        application = session.get(Application, case_id)
        if application is None:
            raise NotFound(
                f"本节点没有报送过办件 {case_id}，请核对办件编号。",
                {"case_id": case_id},
            )
        names = matter_names(session, {application.matter_code})
        row = application_row(context, application, names)
    return render_template("application_detail.html", application=row)


def application_form_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """Build the API's nested application from the flat form fields.

    Blank fields are left out, so that the schema reports them as missing.
    A ticket number that is not a whole number is passed on as text, so
    that the schema rejects it at its field.
    """
    applicant = {
        key: form.get(f"applicant_{key}", "").strip()
        for key in ("name", "id_number", "phone")
    }
    ticket = form.get("ticket_id", "").strip()
    data: dict[str, Any] = {
        "matter_code": form.get("matter_code", "").strip(),
        "applicant": {key: value for key, value in applicant.items() if value},
        "materials": [m.strip() for m in form.getlist("materials") if m.strip()],
        "ticket_id": int(ticket) if TICKET_TEXT.fullmatch(ticket) else ticket,
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
        "handler_code": application.handler_code,
        "handler_name": division_name(context, application.handler_code),
        "handled_here": application.handler_code == context.code,
        "deadline": application.deadline,
        "deadline_provisional": application.deadline_provisional,
        "filed_at": application.filed_at,
        "status_changed_at": application.status_changed_at,
        "reason": application.reason,
        "materials": application.materials,
        "supplement": application.supplement,
        "result": application.result,
        "handover": HANDOVERS.get(application.handover or ""),
        "handover_code": application.handover,
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
