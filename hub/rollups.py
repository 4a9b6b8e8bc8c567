"""Read the hub's rollups: case, queue and hotline figures grouped and filtered.

Figures group by county, tier, department, matter, month or handling node,
and filter by county, handling node and a range of months. Drill-down goes
city → county (``county``) → township or node (``handler``): the case rollup
is keyed by handling node, and a township's node is its handler. Figures
that need neither the node nor the matter come from the smaller city
rollup, which contains the same counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.divisions import CITY_CODE, TIER_LABELS, Tier
from common.errors import InvalidInput
from common.evaluation_models import HOTLINE_KIND_LABELS, HotlineTicket
from hub.rollup_handlers import month_of
from hub.rollup_models import (
    CITY_LEVEL,
    CaseRollup,
    CityRollup,
    HotlineRollup,
    ServiceRollup,
)

CITY_LEVEL_LABEL = "市本级"
TOTAL_LABEL = "合计"
NO_DEPARTMENT_LABEL = "（未分部门）"
GROUPINGS = ("county", "tier", "department", "matter", "month", "handler")

# Counters summed over the rows of a group, as CaseFigures fields.
CASE_COUNTERS = (
    "received",
    "accepted",
    "completed",
    "rejected",
    "on_time",
    "immediate",
    "joint",
    "working_days_used",
    "promised_limit",
    "limits_compared",
    "compared_legal_limit",
    "compared_promised_limit",
    "supplement_notices",
    "warned",
    "overdue",
    "accountability_records",
    "evaluations",
    "bad_reviews",
    "excluded_reviews",
)


@dataclass(frozen=True)
class RollupFilter:
    """Selection of cases to count: a county (the city's code for its own), a node, months."""

    by: str = "county"
    county: str | None = None
    handler: str | None = None
    month_from: str | None = None
    month_to: str | None = None


@dataclass(frozen=True)
class CaseFigures:
    """Case counters of one group, and the rates and averages drawn from them.

    Rates and averages cover completed cases only and are None when there
    are none. The compression rate is how much shorter the promised limit
    is than the legal one, over completed cases whose legal limit is known.
    """

    key: str
    label: str
    received: int = 0
    accepted: int = 0
    completed: int = 0
    rejected: int = 0
    on_time: int = 0
    immediate: int = 0
    joint: int = 0
    working_days_used: int = 0
    promised_limit: int = 0
    limits_compared: int = 0
    compared_legal_limit: int = 0
    compared_promised_limit: int = 0
    supplement_notices: int = 0
    warned: int = 0
    overdue: int = 0
    accountability_records: int = 0
    evaluations: int = 0
    bad_reviews: int = 0
    excluded_reviews: int = 0
    # A link one level down, or None at the bottom.
    drill: dict[str, str] | None = None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.completed if self.completed else None

    @property
    def average_working_days_used(self) -> float | None:
        return _average(self.working_days_used, self.completed)

    @property
    def average_promised_limit_working_days(self) -> float | None:
        return _average(self.promised_limit, self.completed)

    @property
    def compression_rate(self) -> float | None:
        if not self.compared_legal_limit:
            return None
        return round(1 - self.compared_promised_limit / self.compared_legal_limit, 4)

    @property
    def bad_review_rate(self) -> float | None:
        """Share of bad reviews among the evaluations that count.

        Reviews excluded on appeal count neither as bad nor as evaluations, as
        in each center's satisfaction rate.
        """
        counted = self.evaluations - self.excluded_reviews
        if counted <= 0:
            return None
        return max(self.bad_reviews - self.excluded_reviews, 0) / counted


@dataclass(frozen=True)
class ServiceFigures:
    """Queue waiting and staffing gaps of one group of nodes."""

    key: str
    label: str
    tickets_called: int = 0
    waited_seconds: int = 0
    staffing_gaps: int = 0
    gap_minutes: int = 0

    @property
    def average_wait_minutes(self) -> float | None:
        return _average(self.waited_seconds, self.tickets_called * 60)


@dataclass(frozen=True)
class HotlineFigures:
    """Hotline tickets of one kind."""

    key: str
    label: str
    tickets: int = 0
    replied: int = 0
    reply_seconds: int = 0

    @property
    def average_reply_hours(self) -> float | None:
        return _average(self.reply_seconds, self.replied * 3600)


@dataclass(frozen=True)
class RollupReport:
    """Everything the rollup API and the dashboard show for one filter."""

    filter: RollupFilter
    rows: list[CaseFigures]
    total: CaseFigures
    months: list[CaseFigures] = field(default_factory=list)
    service: list[ServiceFigures] = field(default_factory=list)
    hotline: list[HotlineFigures] = field(default_factory=list)


def _average(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None


# --- checking the filter -----------------------------------------------------


def check_filter(context: NodeContext, selection: RollupFilter) -> None:
    """Raise ``InvalidInput`` naming the field when a filter names no place of the city."""
    divisions = context.divisions
    counties = {d.code for d in divisions.children(CITY_CODE)} | {CITY_CODE}
    if selection.county is not None and selection.county not in counties:
        message = (
            f"county {selection.county} not found in the city: give a county code, "
            f"or {CITY_CODE} for the cases the city handles itself"
        )
        raise InvalidInput(message, {"fields": {"county": [message]}})
    if selection.handler is not None:
        if selection.handler not in divisions:
            message = (
                f"node {selection.handler} not found in the city: give the code "
                "of a county, township or the city"
            )
            raise InvalidInput(message, {"fields": {"handler": [message]}})
        # Matters are handled at the city, a county or a township, never a village.
        if divisions.get(selection.handler).tier is Tier.VILLAGE:
            message = (
                f"node {selection.handler} is a village, which handles no cases: "
                "give the code of a county, township or the city"
            )
            raise InvalidInput(message, {"fields": {"handler": [message]}})
        county = divisions.county_of(selection.handler) or CITY_CODE
        if selection.county is not None and county != selection.county:
            message = (
                f"node {selection.handler} is not in county {selection.county}: "
                "leave out one of the two, or give a node of that county"
            )
            raise InvalidInput(message, {"fields": {"handler": [message]}})


def county_value(county: str) -> str:
    """Return the rollup key of a county parameter.

    The city's own code selects the cases that the city handles itself.
    """
    return CITY_LEVEL if county == CITY_CODE else county


def county_key(key: str) -> str:
    """Return the API's code of a rollup county key, the inverse of ``county_value``.

    The APIs name the city's own cases by the city's code, as the ``county``
    parameter does, rather than by the empty key the tables store.
    """
    return CITY_CODE if key == CITY_LEVEL else key


# --- case figures ------------------------------------------------------------


def _where(model: Any, selection: RollupFilter) -> list[ColumnElement[bool]]:
    conditions = []
    if selection.county is not None:
        conditions.append(model.county_code == county_value(selection.county))
    if selection.handler is not None and hasattr(model, "handler_code"):
        conditions.append(model.handler_code == selection.handler)
    if selection.month_from is not None:
        conditions.append(model.month >= selection.month_from)
    if selection.month_to is not None:
        conditions.append(model.month <= selection.month_to)
    return conditions


# Column of each grouping, in both case rollup tables.
GROUP_COLUMNS = {
    "county": "county_code",
    "tier": "handler_tier",
    "department": "department",
    "matter": "matter_code",
    "month": "month",
    "handler": "handler_code",
}
# Groupings the city rollup can serve, because it has no handler and no matter.
CITY_GROUPINGS = frozenset({"county", "tier", "department", "month"})


def _case_table(by: str, selection: RollupFilter) -> type[CaseRollup | CityRollup]:
    """Return the smaller case rollup with the columns of ``by`` and of the filter."""
    if by in CITY_GROUPINGS and selection.handler is None:
        return CityRollup
    return CaseRollup


def _sums(table: Any) -> list[Any]:
    return [
        func.coalesce(func.sum(getattr(table, name)), 0).label(name)
        for name in CASE_COUNTERS
    ]


def _case_rows(
    session: Session, by: str, selection: RollupFilter
) -> dict[str, dict[str, int]]:
    table = _case_table(by, selection)
    column = getattr(table, GROUP_COLUMNS[by])
    query = (
        select(column.label("key"), *_sums(table))
        .where(*_where(table, selection))
        .group_by(column)
    )
    return {
        row[0]: dict(zip(CASE_COUNTERS, map(int, row[1:]), strict=True))
        for row in session.execute(query)
    }


def _label(context: NodeContext, by: str, key: str) -> str:
    if by == "county":
        return CITY_LEVEL_LABEL if key == CITY_LEVEL else _name(context, key)
    if by == "handler":
        return _name(context, key)
    if by == "tier":
        return TIER_LABELS[Tier(key)] if key in {t.value for t in Tier} else key
    if by == "department":
        return key or NO_DEPARTMENT_LABEL
    return key


def _name(context: NodeContext, code: str) -> str:
    # A code outside the shipped division list is shown by itself.
    return context.divisions.get(code).name if code in context.divisions else code


def _drill(by: str, key: str, selection: RollupFilter) -> dict[str, str] | None:
    """Return the query of the next level down from a row, or None at the bottom."""
    if by == "county":
        return {"county": key or CITY_CODE, "by": "handler"}
    if by == "handler" and selection.handler is None:
        return {"handler": key, "by": "matter"}
    return None


def _keys(context: NodeContext, by: str, selection: RollupFilter, found: Any) -> list:
    """List the groups to show: every county side by side, else those with cases."""
    keys = set(found)
    if by == "county" and selection.county is None and selection.handler is None:
        keys |= {d.code for d in context.divisions.children(CITY_CODE)}
        keys.add(CITY_LEVEL)
    if by == "tier":
        return [tier.value for tier in Tier if tier.value in keys]
    return sorted(keys)


def case_figures(
    context: NodeContext, session: Session, selection: RollupFilter, by: str
) -> list[CaseFigures]:
    """Return the case figures of ``selection`` grouped ``by`` one of ``GROUPINGS``."""
    return _figure_list(context, by, selection, _case_rows(session, by, selection))


def _figure_list(
    context: NodeContext,
    by: str,
    selection: RollupFilter,
    rows: dict[str, dict[str, int]],
) -> list[CaseFigures]:
    return [
        CaseFigures(
            key=county_key(key) if by == "county" else key,
            label=_label(context, by, key),
            drill=_drill(by, key, selection),
            **rows.get(key, {}),
        )
        for key in _keys(context, by, selection, rows)
    ]


def _month_cells(
    session: Session, by: str, selection: RollupFilter
) -> dict[tuple[str, str], tuple[int, ...]]:
    """Sum the city rollup by ``by`` and by month in one GROUP BY."""
    column = getattr(CityRollup, GROUP_COLUMNS[by])
    query = (
        select(column.label("key"), CityRollup.month, *_sums(CityRollup))
        .where(*_where(CityRollup, selection))
        .group_by(column, CityRollup.month)
    )
    # Rows are read by position: named access costs more than the query here.
    return {(row[0], row[1]): tuple(row[2:]) for row in session.execute(query)}


def _add_up(
    cells: dict[tuple[str, str], tuple[int, ...]], position: int
) -> dict[str, dict[str, int]]:
    """Add up cells keyed (group, month) by the group (0) or by the month (1)."""
    groups: dict[str, list[int]] = {}
    for key, counters in cells.items():
        group = groups.setdefault(key[position], [0] * len(counters))
        for i, value in enumerate(counters):
            group[i] += value
    return {
        key: dict(zip(CASE_COUNTERS, map(int, counters), strict=True))
        for key, counters in groups.items()
    }


def _rows_and_months(
    context: NodeContext, session: Session, selection: RollupFilter
) -> tuple[list[CaseFigures], list[CaseFigures]]:
    """Return the figures grouped ``selection.by`` and grouped by month.

    Where the city rollup has the grouping, both come from one GROUP BY by
    group and month, which took about half the time of two passes on SQLite
    at 5,000,000 generated cases.
    """
    by = selection.by
    if by == "month":
        months = case_figures(context, session, selection, "month")
        return months, months
    if _case_table(by, selection) is not CityRollup:
        months = case_figures(context, session, selection, "month")
        return case_figures(context, session, selection, by), months
    cells = _month_cells(session, by, selection)
    rows = _figure_list(context, by, selection, _add_up(cells, 0))
    months = _figure_list(context, "month", selection, _add_up(cells, 1))
    return rows, months


def total_of(groups: list[CaseFigures]) -> CaseFigures:
    """Add up the counters of groups that split the same cases, such as months."""
    counters = {
        name: sum(getattr(figures, name) for figures in groups)
        for name in CASE_COUNTERS
    }
    return CaseFigures(key="", label=TOTAL_LABEL, **counters)


# --- queue, staffing and hotline -------------------------------------------------


def service_figures(
    context: NodeContext, session: Session, selection: RollupFilter
) -> list[ServiceFigures]:
    """Return queue and staffing figures by county, or by node within one county."""
    column = (
        ServiceRollup.county_code
        if selection.county is None
        else ServiceRollup.node_code
    )
    names = ("tickets_called", "waited_seconds", "staffing_gaps", "gap_minutes")
    sums = [func.sum(getattr(ServiceRollup, name)).label(name) for name in names]
    query = (
        select(column.label("key"), *sums)
        .where(*_where(ServiceRollup, selection))
        .group_by(column)
        .order_by(column)
    )
    by = "county" if selection.county is None else "handler"
    return [
        ServiceFigures(
            key=county_key(row.key) if by == "county" else row.key,
            label=_label(context, by, row.key),
            **{name: int(getattr(row, name)) for name in names},
        )
        for row in session.execute(query)
    ]


def handler_hotline_figures(
    session: Session, selection: RollupFilter
) -> list[HotlineFigures]:
    """Return the hotline tickets routed to the ``handler`` node, by kind.

    The hotline rollup is kept by county only, so these are counted from the
    city's tickets, which live in the hub's own database. As in the rollup,
    a ticket counts in the month it was opened and ``replied`` counts the
    closed ones.
    """
    counts: dict[str, dict[str, int]] = {}
    query = select(HotlineTicket).where(HotlineTicket.routed_to == selection.handler)
    for ticket in session.scalars(query):
        month = month_of(ticket.created_at)
        if selection.month_from is not None and month < selection.month_from:
            continue
        if selection.month_to is not None and month > selection.month_to:
            continue
        kind = counts.setdefault(
            ticket.kind, {"tickets": 0, "replied": 0, "reply_seconds": 0}
        )
        kind["tickets"] += 1
        if ticket.closed_at is not None:
            seconds = (ticket.closed_at - ticket.created_at).total_seconds()
            kind["replied"] += 1
            kind["reply_seconds"] += max(int(seconds), 0)
    return [
        HotlineFigures(key=kind, label=HOTLINE_KIND_LABELS.get(kind, kind), **figures)
        for kind, figures in sorted(counts.items())
    ]


def hotline_figures(session: Session, selection: RollupFilter) -> list[HotlineFigures]:
    """Return hotline tickets by kind, those routed to one node if ``handler`` names it."""
    if selection.handler is not None:
        return handler_hotline_figures(session, selection)
    names = ("tickets", "replied", "reply_seconds")
    sums = [func.sum(getattr(HotlineRollup, name)).label(name) for name in names]
    query = (
        select(HotlineRollup.kind, *sums)
        .where(*_where(HotlineRollup, selection))
        .group_by(HotlineRollup.kind)
        .order_by(HotlineRollup.kind)
    )
    return [
        HotlineFigures(
            key=row.kind,
            label=HOTLINE_KIND_LABELS.get(row.kind, row.kind),
            **{name: int(getattr(row, name)) for name in names},
        )
        for row in session.execute(query)
    ]


# --- all together ------------------------------------------------------------


def rollup_report(
    context: NodeContext, session: Session, selection: RollupFilter
) -> RollupReport:
    """Check the filter, then read every figure it selects in one transaction.

    The total is added up from the months, which split the same cases.
    """
    check_filter(context, selection)
    rows, months = _rows_and_months(context, session, selection)
    return RollupReport(
        filter=selection,
        rows=rows,
        total=total_of(months),
        months=months,
        service=service_figures(context, session, selection),
        hotline=hotline_figures(session, selection),
    )


CSV_COLUMNS = (
    ("label", "分组"),
    ("received", "收件"),
    ("accepted", "受理"),
    ("completed", "办结"),
    ("rejected", "不予受理"),
    ("on_time", "按时办结"),
    ("immediate", "即办件"),
    ("joint", "联办件"),
    ("supplement_notices", "补正告知"),
    ("warned", "预警（黄灯）"),
    ("overdue", "超时（红灯）"),
    ("accountability_records", "问责"),
    ("evaluations", "评价"),
    ("bad_reviews", "差评"),
    ("excluded_reviews", "剔除差评"),
    ("on_time_rate", "按时办结率"),
    ("average_working_days_used", "平均用时（工作日）"),
    ("compression_rate", "时限压缩率"),
)


def csv_rows(report: RollupReport) -> list[list[str]]:
    """Return the header and one line per group, then the total, as CSV cells."""
    lines = [[heading for _, heading in CSV_COLUMNS]]
    for figures in [*report.rows, report.total]:
        lines.append([_cell(getattr(figures, name)) for name, _ in CSV_COLUMNS])
    return lines


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(round(value, 4))
    text = str(value)
    # A department name from a node could start like a spreadsheet formula.
    return "'" + text if text[:1] in FORMULA_STARTS else text
