"""Hub API and dashboard: city-wide case figures and sync lag.

Only the city node serves them. Every other node returns 404 Not Found.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, render_template, request
from marshmallow import RAISE, ValidationError

from common.clock import CHINA
from common.divisions import CITY_CODE, Tier
from common.errors import InvalidInput, NotFound
from common.models import Role
from hub.entry_rates import EntryRateSchema, entry_rate_rows
from hub.metrics import CityMetrics, case_copies, city_metrics
from hub.query_messages import page_message
from hub.rollups import RollupFilter, RollupReport, csv_rows, rollup_report
from hub.schemas import (
    HubCaseSchema,
    MetricsSchema,
    NoQuerySchema,
    RollupQuerySchema,
    RollupReportSchema,
)
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
@blp.arguments(NoQuerySchema, location="query", unknown=RAISE)
@blp.response(200, MetricsSchema)
def metrics(_query: dict[str, Any]) -> CityMetrics:
    """Case figures per county, per tier and city-wide, and sync lag per node."""
    return _metrics()


def _entry_rates() -> list[dict[str, Any]]:
    context = current_node()
    with context.db.transaction() as session:
        return entry_rate_rows(context, session)


@blp.route("/entry-rates")
@blp.arguments(NoQuerySchema, location="query", unknown=RAISE)
@blp.response(200, EntryRateSchema(many=True))
def entry_rates(_query: dict[str, Any]) -> list[dict[str, Any]]:
    """Entry rates (进驻率) of departments, matters and window authorizations.

    One row per county and handling tier, from the current catalog release.
    """
    return _entry_rates()


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


def _rollups(selection: RollupFilter) -> RollupReport:
    context = current_node()
    with context.db.transaction() as session:
        return rollup_report(context, session, selection)


@blp.route("/rollups")
@blp.arguments(RollupQuerySchema, location="query", unknown=RAISE)
@blp.response(200, RollupReportSchema)
def rollups(selection: RollupFilter) -> RollupReport:
    """Return case, queue and hotline figures from the rollups, grouped and filtered.

    ``by`` groups the cases by county, tier, department, matter, month or
    handling node. ``county`` (the city's own code for its own cases),
    ``handler`` and the months ``month_from`` to ``month_to`` filter them.
    """
    return _rollups(selection)


def _page_report() -> RollupReport:
    """Read the rollups that the page's query selects.

    A bad query raises ``InvalidInput`` with the fields, and a Chinese
    message naming each field and what it accepts.
    """
    try:
        selection: RollupFilter = RollupQuerySchema().load(request.args.to_dict())
        return _rollups(selection)
    except ValidationError as error:
        fields = error.normalized_messages()
    except InvalidInput as error:
        if "fields" not in error.details:
            raise
        fields = error.details["fields"]
    raise InvalidInput(page_message(fields), {"fields": fields})


@dataclass(frozen=True)
class Bar:
    """One bar of an inline SVG chart, in chart units."""

    label: str
    value: int
    x: float
    height: float
    # A second, narrower value drawn inside the bar (completed of received).
    inner_height: float = 0.0


CHART_HEIGHT = 120.0
BAR_STEP = 36.0


def bar_chart(items: list[tuple[str, int, int]]) -> list[Bar]:
    """Scale (label, value, inner value) triples to bars of at most CHART_HEIGHT."""
    highest = max((value for _, value, _ in items), default=0) or 1
    return [
        Bar(
            label=label,
            value=value,
            x=index * BAR_STEP,
            height=CHART_HEIGHT * value / highest,
            inner_height=CHART_HEIGHT * inner / highest,
        )
        for index, (label, value, inner) in enumerate(items)
    ]


@pages.route("/hub")
def dashboard() -> str:
    report = _page_report()
    by_month = [(f.key, f.received, f.completed) for f in report.months]
    by_group = [(f.label, f.received, f.completed) for f in report.rows]
    return render_template(
        "hub/dashboard.html",
        metrics=_metrics(),
        rollups=report,
        entry_rates=_entry_rates(),
        month_bars=bar_chart(by_month),
        group_bars=bar_chart(by_group),
        chart_height=CHART_HEIGHT,
        bar_step=BAR_STEP,
    )


@pages.route("/hub/export.csv")
def export_csv() -> Response:
    """Send the rollup table as CSV, with a byte order mark so that Excel reads UTF-8."""
    report = _page_report()
    buffer = io.StringIO()
    buffer.write("\ufeff")
    csv.writer(buffer).writerows(csv_rows(report))
    name = f"rollups-{report.filter.by}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
