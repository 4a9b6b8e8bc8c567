"""City-wide case figures and sync lag, computed at the hub from its own tables.

Case figures come from ``hub_case_tally``, which ``hub.case_tally`` keeps
equal to a count of ``hub_case``, the hub's projection of every case event
of the city, so no request scans the cases themselves. Sync lag comes from
the hub's per-origin positions and from the health of its links to the
county nodes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from common.clock import utcnow
from common.context import NodeContext
from common.divisions import CITY_CODE, TIER_LABELS, Divisions, Tier
from common.models import Event, Link, OriginState
from hub.case_tally import TALLY_COUNTERS
from hub.models import HubCase
from hub.rollup_models import CITY_LEVEL, CaseTally

# Label of the cases handled by the city node itself, listed under the city's code.
CITY_LEVEL_LABEL = "市本级"
TOTAL_LABEL = "全市合计"


@dataclass(frozen=True)
class CaseFigures:
    """Case counts and averages of one group of cases.

    ``key`` is the county code or the tier value of the group, the city's
    code for the city's own cases, or None for the city-wide total. The
    on-time rate and the two averages cover completed cases only, and are
    None when the group has none.
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
    # Software version the origin last reported, None until it has.
    software: str | None = None


@dataclass(frozen=True)
class LinkHealth:
    """Last successful contact and last error on the link to one child node."""

    peer: str
    name: str
    last_contact: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    peer_software: str | None = None
    peer_protocols: str | None = None


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


def _average(total: int, count: int) -> float | None:
    # Two decimals are all a working-day average needs.
    return round(total / count, 2) if count else None


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
        average_working_days_used=_average(row.working_days_used, row.measured),
        average_promised_limit_working_days=_average(row.promised_limit, row.measured),
        supplement_notices=row.supplement_notices,
        warned=row.warned,
        overdue=row.overdue,
        accountability_records=row.accountability_records,
        joint=row.joint,
    )


def _tally_sums() -> list[ColumnElement[int]]:
    return [
        func.coalesce(func.sum(getattr(CaseTally, name)), 0).label(name)
        for name in TALLY_COUNTERS
    ]


def _grouped_rows(session: Session, column: Any) -> dict[str, Any]:
    query = select(column.label("key"), *_tally_sums()).group_by(column)
    return {row.key: row for row in session.execute(query)}


def _division_name(divisions: Divisions, code: str) -> str:
    # An origin outside the shipped division list is shown by its code.
    return divisions.get(code).name if code in divisions else code


def figures_by_county(context: NodeContext, session: Session) -> list[CaseFigures]:
    """Compute the figures of the city's own cases, then of each county in code order.

    Every county of the city is listed, with zero counts when the hub stores
    none of its cases.
    """
    rows = _grouped_rows(session, CaseTally.county_code)
    counties = {d.code for d in context.divisions.children(CITY_CODE)}
    counties |= {code for code in rows if code != CITY_LEVEL}
    own = rows.get(CITY_LEVEL)
    figures = [_figures_or_empty(own, CITY_CODE, CITY_LEVEL_LABEL)]
    for code in sorted(counties):
        label = _division_name(context.divisions, code)
        figures.append(_figures_or_empty(rows.get(code), code, label))
    return figures


def figures_by_tier(session: Session) -> list[CaseFigures]:
    """Compute the figures per handling tier, from the city down to the villages."""
    rows = _grouped_rows(session, CaseTally.handler_tier)
    return [
        _figures_or_empty(rows.get(tier.value), tier.value, TIER_LABELS[tier])
        for tier in Tier
    ]


def _figures_or_empty(row: Any, key: str | None, label: str) -> CaseFigures:
    return _figures(key, label, row) if row is not None else CaseFigures(key, label)


def city_total(session: Session) -> CaseFigures:
    """Compute the figures over every case the hub stores."""
    row = session.execute(select(*_tally_sums())).one()
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
                software=state.software,
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
            peer_software=link.peer_software,
            peer_protocols=link.peer_protocols,
        )
        for link in session.scalars(query)
    ]


def sync_lag(context: NodeContext, session: Session) -> SyncLag:
    return SyncLag(origin_lags(context, session), child_links(context, session))


# --- all together ------------------------------------------------------------


def city_metrics(context: NodeContext, session: Session) -> CityMetrics:
    """Compute the dashboard's figures in one read transaction."""
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
