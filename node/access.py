"""Who may call each endpoint: the one table of roles per endpoint and method.

The table is checked before a view runs, so a user without the role gets
401 or 403 before the request body is read. An endpoint missing from the
table is closed to everyone, and a test walks every endpoint of the app
against it. Views check finer rules themselves (a department's own steps,
the clerk who called a ticket).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import request

from common.errors import Forbidden
from common.models import Role, User
from node.auth import has_role, require_roles, require_user

# Markers for endpoints that take no role.
PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any user of this center
NODE = "node"  # sync traffic, signed with a node key (sync.auth)

CLERK = Role.WINDOW_CLERK
APPROVER = Role.DEPARTMENT_APPROVER
SUPERVISOR = Role.SUPERVISOR
ADMIN = Role.CENTER_ADMIN
AGENT = Role.VILLAGE_AGENT

Rule = str | tuple[Role, ...]

FILING = (AGENT, CLERK)
HANDLING = (CLERK, APPROVER, SUPERVISOR)
STEP_ACTORS = (CLERK, APPROVER)

# endpoint → method → who may call it
ACCESS: Mapping[str, Mapping[str, Rule]] = {
    # API: catalog and service guides are public.
    "catalog.CatalogRelease": {"GET": PUBLIC},
    "catalog.Matters": {"GET": PUBLIC},
    "catalog.MatterGuide": {"GET": PUBLIC},
    "catalog.pull": {"POST": (ADMIN,)},
    "api-docs.openapi_json": {"GET": PUBLIC},
    # API: users, tokens and the clock.
    "users.Tokens": {"POST": PUBLIC, "DELETE": SIGNED_IN},
    "users.me": {"GET": SIGNED_IN},
    "users.Users": {"GET": (ADMIN,), "POST": (ADMIN,)},
    "clock.read_clock": {"GET": SIGNED_IN},
    "clock.set_clock": {"PUT": (ADMIN,)},
    # API: filing and handling cases.
    "applications.Applications": {"GET": (*FILING, SUPERVISOR), "POST": FILING},
    "applications.ApplicationDetail": {"GET": (*FILING, SUPERVISOR)},
    "cases.Cases": {"GET": HANDLING},
    "cases.case": {"GET": HANDLING},
    "cases.record_intake": {"POST": (CLERK,)},
    "cases.issue_notice": {"POST": (CLERK,)},
    "cases.receive_supplement": {"POST": (CLERK,)},
    "cases.accept": {"POST": (CLERK,)},
    "cases.reject": {"POST": (CLERK,)},
    "cases.complete": {"POST": (CLERK,)},
    "cases.approve_step": {"POST": STEP_ACTORS},
    "cases.return_step": {"POST": STEP_ACTORS},
    "cases.schedule_inspection": {"POST": (APPROVER,)},
    "cases.give_opinion": {"POST": (APPROVER,)},
    "cases.record_meeting": {"POST": (APPROVER,)},
    "cases.record_minutes": {"POST": (APPROVER,)},
    # API: supervision and worklists.
    "supervision.clerk_list": {"GET": (CLERK,)},
    "supervision.department_list": {"GET": (APPROVER,)},
    "supervision.supervisor_list": {"GET": (SUPERVISOR,)},
    "supervision.Settings": {"GET": (SUPERVISOR, ADMIN), "PUT": (ADMIN,)},
    "supervision.records": {"GET": (SUPERVISOR,)},
    "supervision.record": {"GET": (SUPERVISOR,)},
    "supervision.decide": {"POST": (SUPERVISOR,)},
    # API: windows and queue tickets; the kiosk takes tickets anonymously.
    "windows.Windows": {"GET": (ADMIN, SUPERVISOR), "POST": (ADMIN,)},
    "windows.assign": {"POST": (ADMIN,)},
    "windows.deactivate": {"POST": (ADMIN,)},
    "tickets.Tickets": {"POST": PUBLIC},
    "tickets.show": {"GET": PUBLIC},
    "tickets.call_next": {"POST": (CLERK,)},
    "tickets.finish": {"POST": (CLERK,)},
    "tickets.no_show": {"POST": (CLERK,)},
    "tickets.report": {"GET": (SUPERVISOR, ADMIN)},
    # API: calendars, sync health, the hub.
    "calendars.Calendars": {"GET": SIGNED_IN, "POST": (ADMIN,)},
    "sync.status": {"GET": (ADMIN, SUPERVISOR)},
    "sync.run": {"POST": (ADMIN,)},
    "revocations.revoke": {"POST": (ADMIN,)},
    "quarantine.list_events": {"GET": (ADMIN, SUPERVISOR)},
    "quarantine.replay_event": {"POST": (ADMIN,)},
    "quarantine.discard_event": {"POST": (ADMIN,)},
    "hub.metrics": {"GET": (SUPERVISOR, ADMIN)},
    "hub.hub_case": {"GET": (SUPERVISOR, ADMIN)},
    "hub.rollups": {"GET": (SUPERVISOR, ADMIN)},
    "hub.entry_rates": {"GET": (SUPERVISOR, ADMIN)},
    "reconciliation.differences": {"GET": (SUPERVISOR, ADMIN)},
    "reconciliation.recompute_differences": {"POST": (SUPERVISOR, ADMIN)},
    # API: evaluations; applicants rate without a login, staff enter slips.
    "evaluations.rate_by_applicant": {"POST": PUBLIC},
    "evaluations.enter_rating": {"POST": (SUPERVISOR, ADMIN)},
    "evaluations.summary": {"GET": PUBLIC},
    "evaluations.follow_ups": {"GET": (SUPERVISOR,)},
    "evaluations.verify": {"POST": (SUPERVISOR,)},
    "evaluations.rectify": {"POST": (SUPERVISOR,)},
    "evaluations.exclude": {"POST": (SUPERVISOR,)},
    # API: the 96123 hotline, at the city only.
    "hotline.create": {"POST": (SUPERVISOR, ADMIN)},
    "hotline.tickets": {"GET": (SUPERVISOR, ADMIN)},
    "hotline.ticket": {"GET": (SUPERVISOR, ADMIN)},
    "hotline.close": {"POST": (SUPERVISOR, ADMIN)},
    "hotline.verify": {"POST": (SUPERVISOR,)},
    "hotline.case_status": {"GET": (SUPERVISOR, ADMIN)},
    "hotline.route": {"POST": (SUPERVISOR, ADMIN)},
    # API: hotline tickets at the node they are routed to, at every center.
    "hotline_routed.tickets": {"GET": (ADMIN, SUPERVISOR, APPROVER)},
    "hotline_routed.reply": {"POST": (ADMIN, SUPERVISOR, APPROVER)},
    # Sync between nodes.
    "sync.receive_events": {"POST": NODE},
    "sync.feed": {"POST": NODE},
    "sync.releases": {"GET": NODE},
    "release_pieces.manifest": {"GET": NODE},
    "release_pieces.piece": {"GET": NODE},
    "sync.enroll": {"POST": NODE},
    "revocations.receive_revocations": {"POST": NODE},
    "revocations.revocations_below": {"GET": NODE},
    "calendars.sync_calendars": {"GET": NODE},
    # Pages.
    "static": {"GET": PUBLIC},
    "pages.home": {"GET": PUBLIC},
    "pages.guide_index": {"GET": PUBLIC},
    "pages.guide": {"GET": PUBLIC},
    "users_pages.login": {"GET": PUBLIC, "POST": PUBLIC},
    "users_pages.logout": {"POST": PUBLIC},
    "pages.applications": {"GET": (*FILING, SUPERVISOR)},
    "pages.file_application": {"POST": FILING},
    "pages.application_detail": {"GET": (*FILING, SUPERVISOR)},
    "pages.sync_health": {"GET": (ADMIN, SUPERVISOR)},
    "quarantine_pages.quarantine_page": {"GET": (ADMIN, SUPERVISOR)},
    "quarantine_pages.replay_page": {"POST": (ADMIN,)},
    "quarantine_pages.discard_page": {"POST": (ADMIN,)},
    "case_pages.cases": {"GET": HANDLING},
    "case_pages.case_detail_page": {"GET": HANDLING},
    "case_pages.notice_print": {"GET": HANDLING},
    "case_pages.record_intake": {"POST": (CLERK,)},
    "case_pages.issue_notice": {"POST": (CLERK,)},
    "case_pages.receive_supplement": {"POST": (CLERK,)},
    "case_pages.accept_case": {"POST": (CLERK,)},
    "case_pages.reject_case": {"POST": (CLERK,)},
    "case_pages.complete_case": {"POST": (CLERK,)},
    "case_pages.approve_step": {"POST": STEP_ACTORS},
    "case_pages.return_step": {"POST": STEP_ACTORS},
    "case_pages.schedule_inspection": {"POST": (APPROVER,)},
    "case_pages.give_opinion": {"POST": (APPROVER,)},
    "case_pages.record_meeting": {"POST": (APPROVER,)},
    "case_pages.record_minutes": {"POST": (APPROVER,)},
    "supervision_pages.worklist": {"GET": (CLERK, APPROVER, SUPERVISOR)},
    "supervision_pages.supervision_page": {"GET": (SUPERVISOR, ADMIN)},
    "supervision_pages.record_page": {"GET": (SUPERVISOR, ADMIN)},
    "supervision_pages.decide_page": {"POST": (SUPERVISOR,)},
    "supervision_pages.supervision_settings": {"POST": (ADMIN,)},
    "calendar_pages.calendars_page": {"GET": SIGNED_IN},
    "tickets_pages.take_page": {"GET": PUBLIC},
    "tickets_pages.take_ticket_page": {"POST": PUBLIC},
    "tickets_pages.ticket_page": {"GET": PUBLIC},
    "tickets_pages.window_page": {"GET": (CLERK,)},
    "tickets_pages.call_next_page": {"POST": (CLERK,)},
    "tickets_pages.finish_page": {"POST": (CLERK,)},
    "tickets_pages.no_show_page": {"POST": (CLERK,)},
    "tickets_pages.report_page": {"GET": (SUPERVISOR, ADMIN)},
    "windows_pages.windows_page": {"GET": (ADMIN,)},
    "windows_pages.create_window_page": {"POST": (ADMIN,)},
    "windows_pages.deactivate_window_page": {"POST": (ADMIN,)},
    "windows_pages.assign_clerk_page": {"POST": (ADMIN,)},
    "evaluation_pages.rate_page": {"GET": PUBLIC},
    "evaluation_pages.submit_rating_page": {"POST": PUBLIC},
    "evaluation_pages.results_page": {"GET": PUBLIC},
    "evaluation_pages.follow_ups_page": {"GET": (SUPERVISOR,)},
    "evaluation_pages.follow_up_action_page": {"POST": (SUPERVISOR,)},
    "hotline_pages.hotline_page": {"GET": (SUPERVISOR, ADMIN)},
    "hotline_pages.create_page": {"POST": (SUPERVISOR, ADMIN)},
    "hotline_pages.close_page": {"POST": (SUPERVISOR, ADMIN)},
    "hotline_pages.verify_page": {"POST": (SUPERVISOR,)},
    "hotline_pages.route_page": {"POST": (SUPERVISOR, ADMIN)},
    "hotline_routed_pages.routed_page": {"GET": (ADMIN, SUPERVISOR, APPROVER)},
    "hotline_routed_pages.reply_page": {"POST": (ADMIN, SUPERVISOR, APPROVER)},
    "hotline_pages.web_form_page": {"GET": PUBLIC},
    "hotline_pages.submit_web_form_page": {"POST": PUBLIC},
    "hub_pages.dashboard": {"GET": (SUPERVISOR, ADMIN)},
    "hub_pages.export_csv": {"GET": (SUPERVISOR, ADMIN)},
    "reconciliation_pages.reconciliation_page": {"GET": (SUPERVISOR, ADMIN)},
    "reconciliation_pages.recompute_page": {"POST": (SUPERVISOR, ADMIN)},
    # Window staffing and the monthly window assessment.
    "staffing.sign_in": {"POST": (CLERK,)},
    "staffing.sign_out": {"POST": (CLERK,)},
    "staffing.roster": {"GET": (CLERK, SUPERVISOR, ADMIN)},
    "staffing.compute_gaps": {"POST": (ADMIN, SUPERVISOR)},
    "staffing.WorkingHours": {"GET": (CLERK, SUPERVISOR, ADMIN), "PUT": (ADMIN,)},
    "staffing_pages.staffing_page": {"GET": (CLERK, SUPERVISOR, ADMIN)},
    "staffing_pages.sign_in_page": {"POST": (CLERK,)},
    "staffing_pages.sign_out_page": {"POST": (CLERK,)},
    "assessment.month_scores": {"GET": (SUPERVISOR, ADMIN)},
    "assessment.compute_month": {"POST": (SUPERVISOR,)},
    "assessment.year_summary": {"GET": (SUPERVISOR, ADMIN)},
    "assessment_pages.assessment_page": {"GET": (SUPERVISOR, ADMIN)},
    "assessment_pages.compute_page": {"POST": (SUPERVISOR,)},
    "assessment_pages.year_page": {"GET": (SUPERVISOR, ADMIN)},
}


def rule_for(endpoint: str, method: str) -> Rule | None:
    """Return who may call ``endpoint`` with ``method``; HEAD follows GET."""
    methods = ACCESS.get(endpoint, {})
    if method == "HEAD":
        method = "GET"
    return methods.get(method)


def check_access() -> None:
    """Raise 401 or 403 unless the request's user may call its endpoint."""
    if request.endpoint is None or request.method == "OPTIONS":
        return  # no route matched: the 404 or 405 follows
    rule = rule_for(request.endpoint, request.method)
    if rule is None:
        raise Forbidden(
            f"{request.method} {request.path} is open to no role",
            {"endpoint": request.endpoint},
        )
    if rule in (PUBLIC, NODE):
        return
    if rule == SIGNED_IN:
        require_user()
        return
    if request.path.startswith("/api/"):
        require_roles(*rule)  # type: ignore[arg-type]
        return
    user = require_user()
    if not has_role(user, *rule):
        raise page_refusal(user, rule)  # type: ignore[arg-type]


def page_refusal(user: User, roles: tuple[Role, ...]) -> Forbidden:
    """Return the 403 error shown on a page to a user without the role."""
    needed = "、".join(role.label for role in roles)
    held = "、".join(
        Role(r).label for r in user.roles if r in Role.__members__.values()
    )
    return Forbidden(
        f"此操作需要以下角色之一：{needed}；用户 {user.display_name} 的角色为"
        f"{held or '无'}。请用有权限的账号登录。",
        {"needed": [r.value for r in roles], "held": user.roles},
    )
