"""Hub API and page of the differences between nodes' daily snapshots and the hub's counts.

Only the city node serves them, to supervisors and center administrators.
Every other node returns 404 Not Found.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, post_load
from werkzeug.wrappers import Response

from common.errors import AppError, InvalidInput
from common.schemas.sync import DIVISION_CODE
from hub.reconciliation import (
    FIGURE_LABELS,
    ReconciliationFilter,
    ReconciliationReport,
    recompute,
    reconciliation_report,
)
from hub.views import require_hub
from node.api import Blueprint, current_node

logger = logging.getLogger(__name__)

api = Blueprint(
    "reconciliation",
    __name__,
    url_prefix="/api/hub/reconciliation",
    description="Differences between nodes' daily snapshots and the hub's counts",
)
pages = FlaskBlueprint("reconciliation_pages", __name__, template_folder="templates")
api.before_request(require_hub)
pages.before_request(require_hub)


class ReconciliationQuerySchema(Schema):
    """Selection of snapshots; both fields are optional."""

    day = fields.Date()
    node = fields.String(validate=DIVISION_CODE)

    @post_load
    def make_filter(self, data: dict[str, Any], **kwargs: Any) -> ReconciliationFilter:
        return ReconciliationFilter(**data)


class DifferenceSchema(Schema):
    node = fields.String()
    day = fields.Date()
    figure = fields.String()
    node_count = fields.Integer()
    hub_count = fields.Integer()


class ReconciliationReportSchema(Schema):
    day = fields.Date(allow_none=True, attribute="filter.day")
    node = fields.String(allow_none=True, attribute="filter.node")
    # Snapshots selected; none of them differs when ``differences`` is empty.
    snapshots = fields.Integer()
    differences = fields.List(fields.Nested(DifferenceSchema))


class RecomputeSchema(Schema):
    snapshots = fields.Integer()


def _report(selection: ReconciliationFilter) -> ReconciliationReport:
    context = current_node()
    with context.db.transaction() as session:
        return reconciliation_report(context, session, selection)


def _recompute(selection: ReconciliationFilter) -> int:
    context = current_node()
    with context.db.transaction() as session:
        return recompute(context, session, selection)


# --- API ----------------------------------------------------------------------


@api.route("", methods=["GET"])
@api.arguments(ReconciliationQuerySchema, location="query")
@api.response(200, ReconciliationReportSchema)
def differences(selection: ReconciliationFilter) -> ReconciliationReport:
    """List the figures on which a node's daily snapshot and the hub's count differ.

    ``day`` (YYYY-MM-DD, China date) and ``node`` (a division code) filter
    them. ``snapshots`` counts the snapshots selected.
    """
    return _report(selection)


@api.route("/recompute", methods=["POST"])
@api.arguments(ReconciliationQuerySchema, location="query")
@api.response(200, RecomputeSchema)
def recompute_differences(selection: ReconciliationFilter) -> dict[str, int]:
    """Compare the selected snapshots again with what the hub holds now."""
    return {"snapshots": _recompute(selection)}


# --- page ---------------------------------------------------------------------


def _load_filter(values: dict[str, str]) -> ReconciliationFilter:
    """Load the page's filter, raising ``InvalidInput`` with the fields."""
    # An empty field of the form means no filter.
    given = {name: value for name, value in values.items() if value.strip()}
    try:
        selection: ReconciliationFilter = ReconciliationQuerySchema().load(given)
    except ValidationError as error:
        raise InvalidInput(
            "invalid filter: see the fields for each reason",
            {"fields": error.messages},
        ) from error
    return selection


def _filter_values(source: Any) -> dict[str, str]:
    return {name: source.get(name, "") for name in ("day", "node")}


def _division_name(code: str) -> str:
    divisions = current_node().divisions
    return divisions.get(code).name if code in divisions else code


def render_page(
    selection: ReconciliationFilter, errors: list[str], status: int = 200
) -> tuple[str, int]:
    report = (
        _report(selection) if not errors else ReconciliationReport(selection, 0, [])
    )
    page = render_template(
        "hub/reconciliation.html",
        report=report,
        errors=errors,
        figure_labels=FIGURE_LABELS,
        division_name=_division_name,
        values=_filter_values(request.values),
    )
    return page, status


@pages.get("/hub/reconciliation")
def reconciliation_page() -> tuple[str, int]:
    try:
        selection = _load_filter(_filter_values(request.args))
    except InvalidInput as exc:
        return render_page(ReconciliationFilter(), _field_errors(exc), 400)
    return render_page(selection, [])


@pages.post("/hub/reconciliation/recompute")
def recompute_page() -> Response | tuple[str, int]:
    values = _filter_values(request.form)
    try:
        selection = _load_filter(values)
        count = _recompute(selection)
    except AppError as exc:
        logger.info("Reconciliation form rejected: %s", exc.message)
        return render_page(ReconciliationFilter(), _field_errors(exc), exc.status)
    flash(f"已重新核对 {count} 份日报。")
    given = {name: value for name, value in values.items() if value.strip()}
    return redirect(url_for(".reconciliation_page", **given), 303)


def _field_errors(exc: AppError) -> list[str]:
    field_reasons = (exc.details or {}).get("fields") or {}
    if not field_reasons:
        return [exc.message]
    return [
        f"{name}：{'；'.join(map(str, reasons))}"
        for name, reasons in field_reasons.items()
    ]
