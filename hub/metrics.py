"""City-wide case figures and sync lag, computed at the hub from its own tables.

Case figures come from ``hub_case``, the hub's projection of every case
event of the city. Sync lag comes from the hub's per-origin positions and
from the health of its links to the county nodes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from common.clock import utcnow
from common.context import NodeContext
from common.divisions import CITY_CODE, TIER_LABELS, Divisions, Tier
from common.models import CaseStatus, Event, Link, OriginState
from hub.models import HubCase

# Label of the cases handled by the city node itself (county_code is None).
CITY_LEVEL_LABEL = "市本级"
TOTAL_LABEL = "全市合计"


@dataclass(frozen=True)
class CaseFigures:
    """Case counts and averages of one group of cases.

    ``key`` is the county code or the tier value of the group, or None for
    the city's own cases and for the city-wide total. The on-time rate and
    the two averages cover completed cases only, and are None when the
    group has none.
    """

    key: str | None
    label: str
    received: int = 0
    accepted: int = 0
    completed: int = 0
    rejected: int = 0
    on_time: int = 0
    on_time_rate: float | None = None
    average_working_days_used: float | None = None
    average_promised_limit_working_days: float | None = None
    # Electronic supervision: notices issued, cases ever yellow or red,
    # accountability records opened, and joint cases.
    supplement_notices: int = 0
    warned: int = 0
    overdue: int = 0
    accountability_records: int = 0
    joint: int = 0


@dataclass(frozen=True)
class OriginLag:
    """How far the hub's copy of one origin's events trails what was reported.

    ``reported_seq`` is the highest sequence that the origin's side of the
    tree last reported, and ``unacknowledged`` is how many of those events
    the hub has not received yet.
    """

    origin: str
    name: str
    tier: str | None
    held_seq: int
    reported_seq: int
    unacknowledged: int
    last_contact: dt.datetime | None


@dataclass(frozen=True)
class LinkHealth:
    """Last successful contact and last error on the link to one child node."""

    peer: str
    name: str
    last_contact: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None


@dataclass(frozen=True)
class SyncLag:
    """Sync positions of every origin at the hub and the health of its child links."""

    origins: list[OriginLag]
    links: list[LinkHealth]


@dataclass(frozen=True)
class CityMetrics:
    """Everything the hub dashboard shows, computed at ``computed_at``."""

    computed_at: dt.datetime
    by_county: list[CaseFigures]
    by_tier: list[CaseFigures]
    total: CaseFigures
    sync: SyncLag


class CaseCopies(NamedTuple):
    """A case as the hub projects it, and how many ``case.received`` events it stores.

    More than one copy means the handling node announced the case twice.
    """

    case: HubCase | None
    copies: int


# --- case figures ------------------------------------------------------------


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    # COUNT skips the NULL that CASE yields when the condition is false.
    return func.count(sql_case((condition, 1)))


def _average_where(
    condition: ColumnElement[bool], column: Any
) -> ColumnElement[Decimal | float | None]:
    return func.avg(sql_case((condition, column)))


def _figure_columns() -> list[ColumnElement[Any]]:
    """Return the aggregate columns that every figures query selects."""
    completed = HubCase.status == CaseStatus.COMPLETED.value
    measured = and_(completed, HubCase.working_days_used.is_not(None))
    return [
        func.count().label("received"),
        func.count(HubCase.accepted_at).label("accepted"),
        _count_where(completed).label("completed"),
        _count_where(HubCase.status == CaseStatus.REJECTED.value).label("rejected"),
        _count_where(and_(completed, HubCase.on_time.is_(True))).label("on_time"),
        _average_where(measured, HubCase.working_days_used).label("working_days"),
        _average_where(measured, HubCase.promised_limit_working_days).label(
            "promised_limit"
        ),
        func.coalesce(func.sum(HubCase.supplement_notices), 0).label("notices"),
        _count_where(HubCase.warned.is_(True)).label("warned"),
        _count_where(HubCase.overdue.is_(True)).label("overdue"),
        func.coalesce(func.sum(HubCase.accountability_records), 0).label("records"),
        _count_where(HubCase.joint.is_(True)).label("joint"),
    ]


def _as_float(value: Decimal | float | None) -> float | None:
    # PostgreSQL returns AVG of an integer column as NUMERIC, SQLite as REAL.
    # Two decimals are all a working-day average needs.
    return None if value is None else round(float(value), 2)


def _figures(key: str | None, label: str, row: Any) -> CaseFigures:
    return CaseFigures(
        key=key,
        label=label,
        received=row.received,
        accepted=row.accepted,
        completed=row.completed,
        rejected=row.rejected,
        on_time=row.on_time,
        on_time_rate=row.on_time / row.completed if row.completed else None,
        average_working_days_used=_as_float(row.working_days),
        average_promised_limit_working_days=_as_float(row.promised_limit),
        supplement_notices=int(row.notices),
        warned=row.warned,
        overdue=row.overdue,
        accountability_records=int(row.records),
        joint=row.joint,
    )


def _grouped_rows(session: Session, column: Any) -> dict[str | None, Any]:
    query = select(column.label("key"), *_figure_columns()).group_by(column)
    return {row.key: row for row in session.execute(query)}


def _division_name(divisions: Divisions, code: str) -> str:
    # An origin outside the shipped division list is shown by its code.
    return divisions.get(code).name if code in divisions else code


def figures_by_county(context: NodeContext, session: Session) -> list[CaseFigures]:
    """Compute the figures of the city's own cases, then of each county in code order.

    Every county of the city is listed, with zero counts when the hub stores
    none of its cases.
    """
    rows = _grouped_rows(session, HubCase.county_code)
    counties = {d.code for d in context.divisions.children(CITY_CODE)}
    counties |= {code for code in rows if code is not None}
    figures = [_figures_or_empty(rows, None, CITY_LEVEL_LABEL)]
    for code in sorted(counties):
        label = _division_name(context.divisions, code)
        figures.append(_figures_or_empty(rows, code, label))
    return figures


def figures_by_tier(session: Session) -> list[CaseFigures]:
    """Compute the figures per handling tier, from the city down to the villages."""
    rows = _grouped_rows(session, HubCase.handler_tier)
    return [_figures_or_empty(rows, tier.value, TIER_LABELS[tier]) for tier in Tier]


def _figures_or_empty(
    rows: dict[str | None, Any], key: str | None, label: str
) -> CaseFigures:
    row = rows.get(key)
    return _figures(key, label, row) if row is not None else CaseFigures(key, label)


def city_total(session: Session) -> CaseFigures:
    """Compute the figures over every case the hub stores."""
    row = session.execute(select(*_figure_columns())).one()
    return _figures(None, TOTAL_LABEL, row)


# --- sync lag ----------------------------------------------------------------


def origin_lags(context: NodeContext, session: Session) -> list[OriginLag]:
    """List every origin the hub tracks, in code order, with its lag."""
    lags = []
    query = select(OriginState).order_by(OriginState.origin)
    for state in session.scalars(query):
        known = state.origin in context.divisions
        lags.append(
            OriginLag(
                origin=state.origin,
                name=_division_name(context.divisions, state.origin),
                tier=context.divisions.get(state.origin).tier.value if known else None,
                held_seq=state.held_seq,
                reported_seq=state.reported_seq,
                unacknowledged=max(state.reported_seq - state.held_seq, 0),
                last_contact=state.last_contact,
            )
        )
    return lags


def child_links(context: NodeContext, session: Session) -> list[LinkHealth]:
    """List the links to the hub's direct children, in code order."""
    query = select(Link).where(Link.relation == "child").order_by(Link.peer)
    return [
        LinkHealth(
            peer=link.peer,
            name=_division_name(context.divisions, link.peer),
            last_contact=link.last_contact,
            last_error=link.last_error,
            last_error_at=link.last_error_at,
        )
        for link in session.scalars(query)
    ]


def sync_lag(context: NodeContext, session: Session) -> SyncLag:
    return SyncLag(origin_lags(context, session), child_links(context, session))


# --- all together ------------------------------------------------------------


def city_metrics(context: NodeContext, session: Session) -> CityMetrics:
    """Compute the dashboard's figures in one read transaction."""
    # TODO: read incremental rollup tables once they exist; these queries scan
    # hub_case on every call, which grows with years of cases.
    return CityMetrics(
        computed_at=utcnow(),
        by_county=figures_by_county(context, session),
        by_tier=figures_by_tier(session),
        total=city_total(session),
        sync=sync_lag(context, session),
    )


def case_copies(session: Session, case_id: str) -> CaseCopies:
    """Return the hub's row of a case and the number of its ``case.received`` events."""
    copies = session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.kind == "case.received", Event.case_id == case_id)
    )
    return CaseCopies(session.get(HubCase, case_id), copies or 0)
