"""Hub API and dashboard: city-wide case figures and sync lag.

Only the city node serves them. Every other node returns 404 Not Found.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import render_template

from common.clock import CHINA
from common.divisions import CITY_CODE, Tier
from common.errors import NotFound
from common.models import Role
from hub.metrics import CityMetrics, case_copies, city_metrics
from hub.schemas import HubCaseSchema, MetricsSchema
from node.api import Blueprint, current_node
from node.auth import require_roles

blp = Blueprint("hub", __name__, url_prefix="/api/hub", description="City-wide figures")
pages = FlaskBlueprint("hub_pages", __name__, template_folder="templates")


def require_hub() -> None:
    """Raise ``NotFound`` unless this node is the city hub, then check the role."""
    context = current_node()
    if not context.is_hub:
        raise NotFound(
            f"this node is not the city hub, because node {context.code} is a "
            f"{context.tier.value} node. Request city-wide figures from the city "
            f"node {CITY_CODE}",
            {"node": context.code, "hub": CITY_CODE},
        )
    require_roles(Role.SUPERVISOR, Role.CENTER_ADMIN)


blp.before_request(require_hub)
pages.before_request(require_hub)


def _metrics() -> CityMetrics:
    context = current_node()
    with context.db.transaction() as session:
        return city_metrics(context, session)


@blp.route("/metrics")
@blp.response(200, MetricsSchema)
def metrics() -> CityMetrics:
    """Case figures per county, per tier and city-wide, and sync lag per node."""
    return _metrics()


@blp.route("/cases/<case_id>")
@blp.response(200, HubCaseSchema)
def hub_case(case_id: str) -> dict[str, Any]:
    """Show a case as the hub projects it, with its count of received events."""
    with current_node().db.transaction() as session:
        case, copies = case_copies(session, case_id)
    if case is None:
        raise NotFound(
            f"case {case_id} not found at the hub. Check the case number, or "
            "wait until the handling node has synced it",
            {"case_id": case_id},
        )
    fields = HubCaseSchema().fields
    return {
        **{name: getattr(case, name) for name in fields if hasattr(case, name)},
        "copies": copies,
    }


def china_time(moment: dt.datetime | None) -> str:
    """Format a UTC timestamp as China Standard Time, or a dash when missing."""
    if moment is None:
        return "—"
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


@pages.context_processor
def dashboard_helpers() -> dict[str, Any]:
    return {
        "china_time": china_time,
        "tier_labels": {tier.value: tier.label for tier in Tier},
    }


@pages.route("/hub")
def dashboard() -> str:
    return render_template("hub/dashboard.html", metrics=_metrics())
