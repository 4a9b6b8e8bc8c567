"""API of applications (filing side) and cases (handling side)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from common.errors import NotFound
from common.models import Application, Case, CaseStatus
from common.schemas.cases import (
    ApplicationInSchema,
    ApplicationSchema,
    CaseQuerySchema,
    CaseSchema,
    CompleteSchema,
    RejectSchema,
)
from node.api import Blueprint, current_node
from node.cases import service
from sync.jobs import notify, push_up

applications = Blueprint(
    "applications",
    __name__,
    url_prefix="/api/applications",
    description="Applications filed at this node",
)
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


def case_view(case: Case) -> dict[str, Any]:
    return {
        **{c: getattr(case, c) for c in CaseSchema().fields if hasattr(case, c)},
        "status_label": CaseStatus(case.status).label,
    }


@applications.route("")
class Applications(MethodView):
    @applications.arguments(CaseQuerySchema, location="query")
    @applications.response(200, ApplicationSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List the applications filed here, newest first."""
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
            application = service.file_application(context, session, data)
            view = application_view(application)
        notify(context, push_up)
        return view


@applications.route("/<case_id>")
class ApplicationDetail(MethodView):
    @applications.response(200, ApplicationSchema)
    def get(self, case_id: str) -> dict[str, Any]:
        """Show an application's current status and its handling node."""
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
        statement = select(Case).order_by(Case.received_at.desc()).limit(query["limit"])
        if "status" in query:
            statement = statement.where(Case.status == query["status"])
        with current_node().db.transaction() as session:
            return [case_view(c) for c in session.scalars(statement)]


@cases.route("/<case_id>")
class CaseDetail(MethodView):
    @cases.response(200, CaseSchema)
    def get(self, case_id: str) -> dict[str, Any]:
        with current_node().db.transaction() as session:
            return case_view(service.get_case(session, case_id))


def _act(action, case_id: str, *args: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    context = current_node()
    with context.db.transaction() as session:
        view = case_view(action(context, session, case_id, *args))
    notify(context, push_up)
    return view


@cases.route("/<case_id>/accept", methods=["POST"])
@cases.response(200, CaseSchema)
def accept(case_id: str) -> dict[str, Any]:
    """Accept a received case; its deadline runs from today."""
    return _act(service.accept_case, case_id)


@cases.route("/<case_id>/reject", methods=["POST"])
@cases.arguments(RejectSchema)
@cases.response(200, CaseSchema)
def reject(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Reject a received case with the reason the applicant is told."""
    return _act(service.reject_case, case_id, data["reason"])


@cases.route("/<case_id>/complete", methods=["POST"])
@cases.arguments(CompleteSchema)
@cases.response(200, CaseSchema)
def complete(data: dict[str, Any], case_id: str) -> dict[str, Any]:
    """Complete an accepted case with its result."""
    return _act(service.complete_case, case_id, data["result"])
