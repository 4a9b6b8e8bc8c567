"""API and pages of the window assessment: month scores, computing, the year."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from common.clock import today
from common.errors import AppError
from common.models import Role
from common.schemas.assessment import (
    ComputeResultSchema,
    MonthSchema,
    MonthScoresSchema,
    YearSchema,
    YearSummarySchema,
)
from node import assessment
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import roles_required
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "assessment",
    __name__,
    url_prefix="/api/assessment",
    description="Monthly window assessment, red-flag and five-star windows",
)
pages = Blueprint("assessment_pages", __name__)

READ_ROLES = (Role.SUPERVISOR, Role.CENTER_ADMIN)

RULE_LABELS = {
    "staffing_gap": "窗口缺岗",
    "overdue_case": "办件超时",
    "second_supplement_notice": "二次补正告知",
    "bad_review": "差评",
    "verified_complaint": "投诉属实",
}


def load_month(month: str) -> str:
    """Return ``month`` if it is a valid ``YYYY-MM``, or raise ``ValidationError``."""
    return MonthSchema().load({"month": month})["month"]


def compute(month: str) -> dict[str, Any]:
    """Compute a month in one transaction, then wake the upward push if it changed."""
    context = current_node()
    with context.db.transaction() as session:
        _, changed = assessment.compute_month(context, session, month)
        result = {**assessment.month_scores(session, month), "changed": changed}
    if changed:
        notify(context, push_up)
    return result


def previous_month() -> str:
    first = today().replace(day=1)
    year, month = (
        (first.year, first.month - 1) if first.month > 1 else (first.year - 1, 12)
    )
    return f"{year:04d}-{month:02d}"


# --- API ---------------------------------------------------------------------------


@api.route("/<month>")
@roles_required(*READ_ROLES)
@api.response(200, MonthScoresSchema)
def month_scores(month: str) -> dict[str, Any]:
    """List a month's stored window scores with their deductions, best first."""
    month = load_month(month)
    with current_node().db.transaction() as session:
        return assessment.month_scores(session, month)


@api.route("/<month>/compute", methods=["POST"])
@roles_required(Role.SUPERVISOR)
@api.response(200, ComputeResultSchema)
def compute_month(month: str) -> dict[str, Any]:
    """Compute a finished month's scores, replacing those stored."""
    return compute(load_month(month))


@api.route("/years/<year>")
@roles_required(*READ_ROLES)
@api.response(200, YearSummarySchema)
def year_summary(year: str) -> dict[str, Any]:
    """Show the year's five-star windows and each department's annual component."""
    loaded = YearSchema().load({"year": year})["year"]
    with current_node().db.transaction() as session:
        return assessment.year_summary(session, loaded)


# --- pages -------------------------------------------------------------------------


@pages.get("/assessment")
@roles_required(*READ_ROLES)
def assessment_page() -> str | tuple[str, int]:
    """Show a month's scores: the month in the query, else the month before this."""
    month = request.args.get("month") or previous_month()
    try:
        month = load_month(month)
    except ValidationError:
        return render_month(
            previous_month(), f"月份「{month}」无效，请按 YYYY-MM 填写。"
        ), 400
    return render_month(month, None)


@pages.post("/assessment/compute")
@roles_required(Role.SUPERVISOR)
def compute_page() -> Response | tuple[str, int]:
    month = request.form.get("month", "")
    try:
        result = compute(load_month(month))
    except ValidationError:
        return render_month(
            previous_month(), f"月份「{month}」无效，请按 YYYY-MM 填写。"
        ), 400
    except AppError as exc:
        logger.info("Assessment of %s rejected: %s", month, exc.message)
        return render_month(
            previous_month(), f"未能考评 {month}：{exc.message}"
        ), exc.status
    flash(f"已完成 {month} 的考评，{len(result['changed'])} 个窗口的结果有变化。")
    return redirect(url_for(".assessment_page", month=month), 303)


def render_month(month: str, error: str | None) -> str:
    with current_node().db.transaction() as session:
        scores = MonthScoresSchema().dump(assessment.month_scores(session, month))
    return render_template(
        "assessment.html", scores=scores, error=error, rule_labels=RULE_LABELS
    )


@pages.get("/assessment/year")
@roles_required(*READ_ROLES)
def year_page() -> str | tuple[str, int]:
    """Show a year's five-star windows and departments' components."""
    raw = request.args.get("year") or str(today().year)
    error = None
    try:
        year = YearSchema().load({"year": raw})["year"]
    except ValidationError:
        year, error = today().year, f"年份「{raw}」无效。"
    with current_node().db.transaction() as session:
        summary = YearSummarySchema().dump(assessment.year_summary(session, year))
    page = render_template("assessment_year.html", summary=summary, error=error)
    return (page, 400) if error else page
