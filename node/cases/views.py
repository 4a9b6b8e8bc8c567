"""API of applications (filing side) and cases (handling side).

Each action loads its input with a schema, checks the user's role, calls
the case service in one transaction, then asks the worker to push the
events it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from common.errors import NotFound
from common.models import Application, Case, CaseStatus, Role
from common.schemas.cases import (
    ApplicationInSchema,
    ApplicationSchema,
    CaseDetailSchema,
    CaseQuerySchema,
    CaseSchema,
    CompleteSchema,
    InspectionSchema,
    IntakeSchema,
    MeetingSchema,
    MinutesSchema,
    NoticeInSchema,
    OpinionInSchema,
    RejectSchema,
    StepActionSchema,
    SupplementNoticeOutSchema,
)
from node.api import Blueprint, current_node
from node.auth import require_roles
from node.cases import intake, joint, service, steps
from node.cases.detail import case_detail, case_view
from sync.jobs import notify, push_up

applications = Blueprint(
    "applications",
    __name__,
    url_prefix="/api/applications",
    description="Applications filed at this node",
)
# Who files applications, and who works on the cases handled here.
FILING_ROLES = (Role.VILLAGE_AGENT, Role.WINDOW_CLERK)
HANDLING_ROLES = (Role.WINDOW_CLERK, Role.DEPARTMENT_APPROVER, Role.SUPERVISOR)

cases = Blueprint(
    "cases", __name__, url_prefix="/api/cases", description="Cases handled at this node"
)


def application_view(application: Application) -> dict[str, Any]:
    context = current_node()
    return {
        **{
            c: getattr(application, c)
            for c in ApplicationSchema().fields
            if hasattr(application, c)
        },
        "handler_name": context.divisions.get(application.handler_code).name,
        "status_label": CaseStatus(application.status).label,
    }


@applications.route("")
class Applications(MethodView):
    @applications.arguments(CaseQuerySchema, location="query")
    @applications.response(200, ApplicationSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List the applications filed here, newest first."""
        require_roles(*FILING_ROLES, Role.SUPERVISOR)
        statement = (
            select(Application)
            .order_by(Application.filed_at.desc())
            .limit(query["limit"])
        )
        if "status" in query:
            statement = statement.where(Application.status == query["status"])
        with current_node().db.transaction() as session:
            return [application_view(a) for a in session.scalars(statement)]

    @applications.arguments(ApplicationInSchema)
    @applications.response(201, ApplicationSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """File an application; it is routed to the node that handles its matter."""
        context = current_node()
        with context.db.transaction() as session:
            application = service.file_application(
                context, session, data, require_roles(*FILING_ROLES)
            )
            view = application_view(application)
        notify(context, push_up)
        return view


@applications.route("/<case_id>")
class ApplicationDetail(MethodView):
    @applications.response(200, ApplicationSchema)
    def get(self, case_id: str) -> dict[str, Any]:
        """Show an application's current status and its handling node."""
        require_roles(*FILING_ROLES, Role.SUPERVISOR)
        with current_node().db.transaction() as session:
            application = session.get(Application, case_id)
            if application is None:
                raise NotFound(
                    f"no application {case_id} was filed at this node",
                    {"case_id": case_id},
                )
            return application_view(application)


@cases.route("")
class Cases(MethodView):
    @cases.arguments(CaseQuerySchema, location="query")
    @cases.response(200, CaseSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List the cases handled here, newest first."""
        require_roles(*HANDLING_ROLES)
        statement = select(Case).order_by(Case.received_at.desc()).limit(query["limit"])
        if "status" in query:
            statement = statement.where(Case.status == query["status"])
        with current_node().db.transaction() as session:
            return [case_view(c) for c in session.scalars(statement)]


@cases.route("/<case_id>")
@cases.response(200, CaseDetailSchema)
def case(case_id: str) -> dict[str, Any]:
    """Show a case with its steps, notices, joint review and timeline."""
    require_roles(*HANDLING_ROLES)
    context = current_node()
    with context.db.transaction() as session:
        return case_detail(context, session, service.get_case(session, case_id))


def act(action: Callable[..., Any], case_id: str, *args: Any, **kwargs: Any) -> dict:
    """Run ``action`` on a case in one transaction; return the case's detail."""
    context = current_node()
    with context.db.transaction() as session:
        action(context, session, case_id, *args, **kwargs)
        view = case_detail(context, session, service.get_case(session, case_id))
    notify(context, push_up)
    return view


@cases.route("/<case_id>/intake", methods=["POST"])
@cases.arguments(IntakeSchema)
@cases.response(200, CaseDetailSchema)
def record_intake(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Record the materials handed in, with their originals and copies."""
    clerk = require_roles(Role.WINDOW_CLERK)
    return act(intake.record_intake, case_id, data["materials"], clerk)


@cases.route("/<case_id>/supplement-notices", methods=["POST"])
@cases.arguments(NoticeInSchema)
@cases.response(201, SupplementNoticeOutSchema)
def issue_notice(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Issue the supplement notice listing every missing material; the clock stops.

    A second notice on one case needs a reason and opens an accountability
    record.
    """
    clerk = require_roles(Role.WINDOW_CLERK)
    context = current_node()
    with context.db.transaction() as session:
        notice = intake.issue_supplement_notice(
            context, session, case_id, clerk, data.get("reason")
        )
        view = {
            name: getattr(notice, name) for name in SupplementNoticeOutSchema().fields
        }
    notify(context, push_up)
    return view


@cases.route("/<case_id>/supplement", methods=["POST"])
@cases.arguments(IntakeSchema)
@cases.response(200, CaseDetailSchema)
def receive_supplement(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Record the materials that arrived for the open notice; the clock restarts."""
    clerk = require_roles(Role.WINDOW_CLERK)
    return act(intake.receive_supplement, case_id, data["materials"], clerk)


@cases.route("/<case_id>/accept", methods=["POST"])
@cases.response(200, CaseDetailSchema)
def accept(case_id: str) -> dict[str, Any]:
    """Accept a received case under the current release; its deadlines start."""
    clerk = require_roles(Role.WINDOW_CLERK)
    return act(intake.accept_case, case_id, clerk)


@cases.route("/<case_id>/reject", methods=["POST"])
@cases.arguments(RejectSchema)
@cases.response(200, CaseDetailSchema)
def reject(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Reject a received case with the reason given to the applicant."""
    clerk = require_roles(Role.WINDOW_CLERK)
    return act(intake.reject_case, case_id, data["reason"], clerk)


@cases.route("/<case_id>/steps/<int:position>/approve", methods=["POST"])
@cases.arguments(StepActionSchema)
@cases.response(200, CaseDetailSchema)
def approve_step(data: dict[str, Any], case_id: str, position: int) -> dict[str, Any]:
    """Approve the active step; the next step starts."""
    user = require_roles(Role.WINDOW_CLERK, Role.DEPARTMENT_APPROVER)
    return act(steps.approve_step, case_id, position, user, data["opinion"])


@cases.route("/<case_id>/steps/<int:position>/return", methods=["POST"])
@cases.arguments(StepActionSchema)
@cases.response(200, CaseDetailSchema)
def return_step(data: dict[str, Any], case_id: str, position: int) -> dict[str, Any]:
    """Return the active step to the step before, with the reason."""
    user = require_roles(Role.WINDOW_CLERK, Role.DEPARTMENT_APPROVER)
    return act(steps.return_step, case_id, position, user, data["opinion"])


@cases.route("/<case_id>/complete", methods=["POST"])
@cases.arguments(CompleteSchema)
@cases.response(200, CaseDetailSchema)
def complete(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Complete an accepted case with its result and how it is handed over."""
    clerk = require_roles(Role.WINDOW_CLERK)
    return act(steps.complete_case, case_id, data["result"], data["handover"], clerk)


@cases.route("/<case_id>/joint/inspection", methods=["POST"])
@cases.arguments(InspectionSchema)
@cases.response(200, CaseDetailSchema)
def schedule_inspection(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Schedule the joint site inspection with every department (lead department)."""
    user = require_roles(Role.DEPARTMENT_APPROVER)
    return act(joint.schedule_inspection, case_id, data["on"], data["note"], user)


@cases.route("/<case_id>/joint/opinions", methods=["POST"])
@cases.arguments(OpinionInSchema)
@cases.response(200, CaseDetailSchema)
def give_opinion(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Give one participating department's opinion."""
    user = require_roles(Role.DEPARTMENT_APPROVER)
    return act(
        joint.give_opinion,
        case_id,
        data["department"],
        data["decision"],
        data["opinion"],
        user,
    )


@cases.route("/<case_id>/joint/meeting", methods=["POST"])
@cases.arguments(MeetingSchema)
@cases.response(200, CaseDetailSchema)
def record_meeting(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Record the joint meeting's outcome, once every opinion is in."""
    user = require_roles(Role.DEPARTMENT_APPROVER)
    return act(joint.record_meeting, case_id, data["on"], data["outcome"], user)


@cases.route("/<case_id>/joint/minutes", methods=["POST"])
@cases.arguments(MinutesSchema)
@cases.response(200, CaseDetailSchema)
def record_minutes(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Record the lead's minutes; they complete the case."""
    user = require_roles(Role.DEPARTMENT_APPROVER)
    return act(joint.record_minutes, case_id, data["minutes"], data["handover"], user)
