"""API and page of window staffing: sign-in, sign-out, roster, gaps, working hours."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.views import MethodView
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from common.assessment_models import StaffingShift
from common.calendar import load_calendar
from common.clock import today
from common.errors import AppError
from common.models import Role
from common.schemas.assessment import (
    GapComputeResultSchema,
    GapComputeSchema,
    RosterQuerySchema,
    RosterSchema,
    ShiftOutSchema,
    WorkingHoursSchema,
)
from node import staffing
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import has_role, require_roles, require_user, roles_required
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "staffing",
    __name__,
    url_prefix="/api/staffing",
    description="Window staffing: sign-in, sign-out, roster and staffing gaps",
)
pages = Blueprint("staffing_pages", __name__)

GAP_ROLES = (Role.CENTER_ADMIN, Role.SUPERVISOR)
ROSTER_ROLES = (Role.WINDOW_CLERK, Role.SUPERVISOR, Role.CENTER_ADMIN)


def act_as_clerk(action: Callable[..., StaffingShift]) -> dict[str, Any]:
    """Run a clerk's sign-in or sign-out in one transaction, then wake the push."""
    clerk = require_roles(Role.WINDOW_CLERK)
    context = current_node()
    with context.db.transaction() as session:
        view = staffing.shift_view(session, action(context, session, clerk.id))
    notify(context, push_up)
    return view


# --- API ---------------------------------------------------------------------------


@api.route("/sign-in", methods=["POST"])
@roles_required(Role.WINDOW_CLERK)
@api.response(201, ShiftOutSchema)
def sign_in() -> dict[str, Any]:
    """Sign the clerk in at their assigned window."""
    return act_as_clerk(staffing.sign_in)


@api.route("/sign-out", methods=["POST"])
@roles_required(Role.WINDOW_CLERK)
@api.response(200, ShiftOutSchema)
def sign_out() -> dict[str, Any]:
    """Sign the clerk out of the window they are signed in at."""
    return act_as_clerk(staffing.sign_out)


@api.route("/roster")
@roles_required(*ROSTER_ROLES)
@api.arguments(RosterQuerySchema, location="query")
@api.response(200, RosterSchema)
def roster(query: dict[str, Any]) -> dict[str, Any]:
    """List each active window's assigned clerks and their shifts on a day."""
    with current_node().db.transaction() as session:
        return staffing.roster(session, query.get("day") or today())


@api.route("/gaps/compute", methods=["POST"])
@roles_required(*GAP_ROLES)
@api.arguments(GapComputeSchema)
@api.response(200, GapComputeResultSchema)
def compute_gaps(data: dict[str, Any]) -> dict[str, Any]:
    """Record the staffing gaps of a finished day; a repeated request adds none."""
    context = current_node()
    with context.db.transaction() as session:
        recorded = staffing.compute_gaps(context, session, data["day"])
        working, _ = load_calendar(session).is_working_day(data["day"])
        result = {
            "day": data["day"],
            "working_day": working,
            "recorded": len(recorded),
            "gaps": staffing.gaps_of_day(session, data["day"]),
        }
    if recorded:
        notify(context, push_up)
    return result


@api.route("/working-hours")
class WorkingHours(MethodView):
    @roles_required(*ROSTER_ROLES)
    @api.response(200, WorkingHoursSchema)
    def get(self) -> dict[str, Any]:
        """Show the center's working hours in China time."""
        with current_node().db.transaction() as session:
            return staffing.load_working_hours(session)

    @roles_required(Role.CENTER_ADMIN)
    @api.arguments(WorkingHoursSchema)
    @api.response(200, WorkingHoursSchema)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Set the center's working hours, used for days checked from now on."""
        with current_node().db.transaction() as session:
            return staffing.save_working_hours(session, data)


# --- page --------------------------------------------------------------------------


@pages.get("/staffing")
@roles_required(*ROSTER_ROLES)
def staffing_page() -> str:
    """Show the sign-in and sign-out buttons of a clerk and today's roster."""
    user = require_user()
    with current_node().db.transaction() as session:
        day_roster = staffing.roster(session, today())
        own_shift = staffing.open_shift(session, user.id)
        session.expunge_all()
    return render_template(
        "staffing.html",
        roster=day_roster,
        is_clerk=has_role(user, Role.WINDOW_CLERK),
        own_shift=own_shift,
    )


@pages.post("/staffing/sign-in")
@roles_required(Role.WINDOW_CLERK)
def sign_in_page() -> Response:
    return act_on_page(staffing.sign_in, "已签到。")


@pages.post("/staffing/sign-out")
@roles_required(Role.WINDOW_CLERK)
def sign_out_page() -> Response:
    return act_on_page(staffing.sign_out, "已签退。")


def act_on_page(
    action: Callable[[Any, Session, int], StaffingShift], done: str
) -> Response:
    try:
        view = act_as_clerk(action)
    except AppError as exc:
        logger.info("Staffing action rejected: %s", exc.message)
        flash(f"未能完成：{failure_reason(exc)}。({exc.message})")
    else:
        flash(f"{done}窗口：{view['window']}。")
    return redirect(url_for(".staffing_page"), 303)


def failure_reason(error: AppError) -> str:
    """Return why a sign-in or sign-out failed, in Chinese."""
    if "shift_id" in error.details:
        return "您已签到，请先签退"
    if "user_id" in error.details:
        return "您尚未签到"
    if error.details.get("window_id") is None:
        return "您尚未分配窗口，请联系中心管理员"
    return "您的窗口已停用，请联系中心管理员"
