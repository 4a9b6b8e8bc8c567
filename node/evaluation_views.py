"""API and pages of evaluations: rating, bad-review follow-ups, published results."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from common.errors import AppError, InvalidInput, TooManyRequests
from common.evaluation_models import (
    CHANNEL_LABELS,
    FOLLOW_UP_LABELS,
    LEVEL_LABELS,
    Channel,
    FollowUp,
    Level,
)
from common.models import Role, User
from common.schemas.evaluations import (
    ApplicantRatingSchema,
    EnteredRatingSchema,
    EvaluationSchema,
    ExcludeSchema,
    FollowUpQuerySchema,
    FollowUpSchema,
    RectifySchema,
    SummarySchema,
    VerifySchema,
)
from node import evaluations, rate_limits
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import current_user, require_roles, roles_required
from sync.jobs import notify, push_up

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "evaluations",
    __name__,
    url_prefix="/api/evaluations",
    description="Evaluations of cases, bad-review follow-ups and results",
)
pages = Blueprint("evaluation_pages", __name__)

ENTRY_ROLES = (Role.SUPERVISOR, Role.CENTER_ADMIN)

FollowUpAction = Callable[..., FollowUp]
FOLLOW_UP_ACTIONS: dict[str, tuple[FollowUpAction, type]] = {
    "verify": (evaluations.verify, VerifySchema),
    "rectify": (evaluations.rectify, RectifySchema),
    "exclude": (evaluations.exclude, ExcludeSchema),
}


def rate(data: dict[str, Any], entered_by: User | None) -> dict[str, Any]:
    """Store a rating in one transaction, then wake the upward push."""
    context = current_node()
    with context.db.transaction() as session:
        evaluation = evaluations.record_rating(context, session, data, entered_by)
        view = evaluations.evaluation_view(session, evaluation)
    notify(context, push_up)
    return view


def rate_as_applicant(data: dict[str, Any]) -> dict[str, Any]:
    """Store an applicant's rating within the rate limits of ``node.rate_limits``.

    Raises ``TooManyRequests`` over a limit, or once a wrong phone check
    locks the case's rating.
    """
    context = current_node()
    rate_limits.check_rating_allowed(
        context, data["case_id"], request.remote_addr or "unknown"
    )
    try:
        return rate(data, None)
    except InvalidInput as exc:
        if "phone_last4" in exc.details.get("fields", {}):
            rate_limits.record_wrong_phone(context, data["case_id"])
        raise


def act_on_follow_up(action: str, follow_up_id: int, data: dict[str, Any]) -> Any:
    supervisor = require_roles(Role.SUPERVISOR)
    context = current_node()
    step = FOLLOW_UP_ACTIONS[action][0]
    with context.db.transaction() as session:
        follow_up = step(context, session, follow_up_id, data, supervisor)
        view = evaluations.follow_up_view(session, follow_up)
    notify(context, push_up)
    return view


# --- API ----------------------------------------------------------------------


@api.route("", methods=["POST"])
@api.arguments(ApplicantRatingSchema)
@api.response(201, EvaluationSchema)
def rate_by_applicant(data: dict[str, Any]) -> dict[str, Any]:
    """Rate a case at the window device or on the web, where no clerk may rate.

    The last 4 digits of the applicant's phone prove the case is theirs.
    Returns 429 with Retry-After over a rate limit, and for 15 minutes after
    5 wrong phone checks on one case.
    """
    evaluations.reject_clerk(current_user())
    return rate_as_applicant(data)


@api.route("/entered", methods=["POST"])
@roles_required(*ENTRY_ROLES)
@api.arguments(EnteredRatingSchema)
@api.response(201, EvaluationSchema)
def enter_rating(data: dict[str, Any]) -> dict[str, Any]:
    """Enter a paper slip's or a hotline caller's rating, recording who entered it."""
    return rate(data, require_roles(*ENTRY_ROLES))


@api.route("/summary")
@api.response(200, SummarySchema)
def summary() -> dict[str, Any]:
    """Publish the counts per level and the satisfaction rate per department and window."""
    with current_node().db.transaction() as session:
        return evaluations.summary(session)


@api.route("/follow-ups")
@roles_required(Role.SUPERVISOR)
@api.arguments(FollowUpQuerySchema, location="query")
@api.response(200, FollowUpSchema(many=True))
def follow_ups(query: dict[str, Any]) -> list[dict[str, Any]]:
    """List the follow-ups of bad reviews, the earliest deadline first."""
    with current_node().db.transaction() as session:
        return evaluations.list_follow_ups(session, query.get("status"))


@api.route("/follow-ups/<int:follow_up_id>/verify", methods=["POST"])
@roles_required(Role.SUPERVISOR)
@api.arguments(VerifySchema)
@api.response(200, FollowUpSchema)
def verify(data: dict[str, Any], follow_up_id: int) -> Any:
    """Record the call-back of a bad review: verified true or false, with a note."""
    return act_on_follow_up("verify", follow_up_id, data)


@api.route("/follow-ups/<int:follow_up_id>/rectify", methods=["POST"])
@roles_required(Role.SUPERVISOR)
@api.arguments(RectifySchema)
@api.response(200, FollowUpSchema)
def rectify(data: dict[str, Any], follow_up_id: int) -> Any:
    """Record the rectification of a verified bad review, on time or late."""
    return act_on_follow_up("rectify", follow_up_id, data)


@api.route("/follow-ups/<int:follow_up_id>/exclude", methods=["POST"])
@roles_required(Role.SUPERVISOR)
@api.arguments(ExcludeSchema)
@api.response(200, FollowUpSchema)
def exclude(data: dict[str, Any], follow_up_id: int) -> Any:
    """Exclude a bad review on appeal as mistaken or malicious."""
    return act_on_follow_up("exclude", follow_up_id, data)


# --- the rating page, for the window device and the web -------------------------


@pages.get("/rate/<case_id>")
def rate_page(case_id: str) -> str:
    """Show the case number and five big buttons.

    The page requests the last 4 digits of the applicant's phone; ``?channel=web``
    marks a rating given on the web rather than at the window's device.
    """
    evaluations.reject_clerk(current_user())
    return render_rating(case_id, web=request.args.get("channel") == Channel.WEB)


@pages.post("/rate/<case_id>")
def submit_rating_page(
    case_id: str,
) -> str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    evaluations.reject_clerk(current_user())
    web = request.form.get("channel") == Channel.WEB
    form = {
        "case_id": case_id,
        "level": request.form.get("level", ""),
        "channel": Channel.WEB if web else Channel.DEVICE,
        "phone_last4": request.form.get("phone_last4", "").strip(),
    }
    try:
        rate_as_applicant(ApplicantRatingSchema().load(form))
    except TooManyRequests as exc:
        logger.info("Rating of case %s rejected: %s", case_id, exc.message)
        minutes = -(-exc.retry_after // 60)
        error = f"尝试次数过多，请 {minutes} 分钟后再评价。"
        page = render_rating(case_id, web, error=error)
        return page, 429, {"Retry-After": str(exc.retry_after)}
    except (ValidationError, InvalidInput) as exc:
        logger.info("Rating of case %s rejected: %s", case_id, exc)
        return render_rating(case_id, web, error=rating_problem(exc)), 400
    return render_template(
        "rate_done.html", case_id=case_id, level=LEVEL_LABELS[Level(form["level"])]
    )


def rating_problem(error: ValidationError | InvalidInput) -> str:
    fields = error.messages if isinstance(error, ValidationError) else {}
    if isinstance(error, InvalidInput) or "phone_last4" in fields:
        return "手机号后四位不正确，请重新输入。"
    return "请点击下列五个评价按钮之一。"


def render_rating(case_id: str, web: bool, error: str | None = None) -> str:
    with current_node().db.transaction() as session:
        case = evaluations.get_case(session, case_id)
        rated = evaluations.rating_of(session, case_id) is not None
        department = case.department
    return render_template(
        "rate.html",
        case_id=case_id,
        department=department,
        rated=rated,
        web=web,
        levels=list(Level),
        error=error,
    )


# --- published results and follow-ups ---------------------------------------------


@pages.get("/evaluations")
def results_page() -> str:
    """Publish the results per department and window, in Chinese, to anyone."""
    with current_node().db.transaction() as session:
        results = evaluations.summary(session)
    return render_template("evaluations.html", results=results, levels=list(Level))


@pages.get("/evaluations/follow-ups")
@roles_required(Role.SUPERVISOR)
def follow_ups_page() -> str:
    with current_node().db.transaction() as session:
        rows = evaluations.list_follow_ups(session)
    return render_template(
        "evaluation_follow_ups.html",
        follow_ups=rows,
        status_labels=FOLLOW_UP_LABELS,
        level_labels=LEVEL_LABELS,
        channel_labels=CHANNEL_LABELS,
    )


@pages.post("/evaluations/follow-ups/<int:follow_up_id>/<action>")
@roles_required(Role.SUPERVISOR)
def follow_up_action_page(follow_up_id: int, action: str) -> Response:
    """Take one follow-up step from the supervisor's form."""
    if action not in FOLLOW_UP_ACTIONS:
        flash(f"未知的操作 {action}，未做任何更改。")
        return redirect(url_for(".follow_ups_page"), 303)
    form: dict[str, Any] = {"note": request.form.get("note", "")}
    if action == "verify":
        form["verified"] = request.form.get("verified", "")
    if action == "exclude":
        form["reason"] = request.form.get("reason", "")
    try:
        data = FOLLOW_UP_ACTIONS[action][1]().load(form)
        act_on_follow_up(action, follow_up_id, data)
    except ValidationError as exc:
        logger.info("Follow-up %s %s rejected: %s", follow_up_id, action, exc)
        flash("请填写说明并选择各项，未做任何更改。")
    except AppError as exc:
        logger.info("Follow-up %s %s failed: %s", follow_up_id, action, exc.message)
        flash(f"未能完成此操作：{exc.message}")
    else:
        flash(f"回访整改记录 {follow_up_id} 已更新。")
    return redirect(url_for(".follow_ups_page"), 303)
