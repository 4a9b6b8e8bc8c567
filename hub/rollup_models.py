"""The hub's incremental rollups: additive counters kept up to date as events arrive.

The dashboard reads these small tables instead of scanning ``hub_case``, so
it stays fast over years of cases. Every counter of a case counts in the
month the case was received (China time), whatever the event that moves it.

Drill-down: the case rollup is keyed by handling node, so the county and
tier columns, which follow from the handler, group it city → county →
township → node without another table.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base

# Key value of the cases the city node handles itself, which have no county.
CITY_LEVEL = ""


class RollupCase(Base):
    """Record of what the rollups already counted of one case, and where it counts.

    Keeps the case's rollup key and legal limit, which ``hub_case`` lacks,
    and the flags that make each "ever" counter count a case only once.
    """

    __tablename__ = "hub_rollup_case"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    handler_code: Mapped[str] = mapped_column(String(12))
    handler_tier: Mapped[str] = mapped_column(String(16))
    department: Mapped[str] = mapped_column(String(100))
    matter_code: Mapped[str] = mapped_column(String(64))
    legal_limit_working_days: Mapped[int | None] = mapped_column(Integer)
    promised_limit_working_days: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)


class CaseCounters:
    """The additive case counters that both case rollup tables keep."""

    received: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    immediate: Mapped[int] = mapped_column(Integer, default=0)
    joint: Mapped[int] = mapped_column(Integer, default=0)
    # Sums over completed cases, for the averages.
    working_days_used: Mapped[int] = mapped_column(Integer, default=0)
    promised_limit: Mapped[int] = mapped_column(Integer, default=0)
    # Completed cases whose legal limit is known, and the sums of both limits
    # over them, for the compression rate 1 - promised / legal.
    limits_compared: Mapped[int] = mapped_column(Integer, default=0)
    compared_legal_limit: Mapped[int] = mapped_column(Integer, default=0)
    compared_promised_limit: Mapped[int] = mapped_column(Integer, default=0)
    supplement_notices: Mapped[int] = mapped_column(Integer, default=0)
    warned: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    accountability_records: Mapped[int] = mapped_column(Integer, default=0)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    bad_reviews: Mapped[int] = mapped_column(Integer, default=0)
    excluded_reviews: Mapped[int] = mapped_column(Integer, default=0)


class CaseRollup(CaseCounters, Base):
    """Case counters of one month, handling node, department and matter."""

    __tablename__ = "hub_case_rollup"
    __table_args__ = (
        Index("ix_hub_case_rollup_county_code_month", "county_code", "month"),
    )

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    handler_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    matter_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Both follow from the handler, and are kept as columns to group by them.
    county_code: Mapped[str] = mapped_column(String(6))
    handler_tier: Mapped[str] = mapped_column(String(16))


class ServiceRollup(Base):
    """Queue waiting and staffing gaps of one node in one month."""

    __tablename__ = "hub_service_rollup"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    node_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    tickets_called: Mapped[int] = mapped_column(Integer, default=0)
    waited_seconds: Mapped[int] = mapped_column(Integer, default=0)
    staffing_gaps: Mapped[int] = mapped_column(Integer, default=0)
    gap_minutes: Mapped[int] = mapped_column(Integer, default=0)


class HotlineRollup(Base):
    """Hotline tickets of one kind routed to one county in one month."""

    __tablename__ = "hub_hotline_rollup"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    replied: Mapped[int] = mapped_column(Integer, default=0)
    reply_seconds: Mapped[int] = mapped_column(Integer, default=0)


class CityRollup(CaseCounters, Base):
    """Case counters of one month, county, handling tier and department.

    The same counters as ``CaseRollup`` without the handling node and the
    matter, so the city-wide views sum about a sixth as many rows.
    """

    __tablename__ = "hub_city_rollup"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    handler_tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)


class CaseTally(Base):
    """Counts of the ``hub_case`` rows of one county and handling tier, by their state.

    Kept equal to a GROUP BY over ``hub_case`` by ``hub.case_tally``, which
    follows every ORM write of a ``HubCase``. Unlike the event counters
    above, it counts each case by its current status.
    """

    __tablename__ = "hub_case_tally"

    # CITY_LEVEL for the cases the city handles itself.
    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    handler_tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    # Completed cases with their working days used, and the sums of those
    # days and of their promised limits, for the averages.
    measured: Mapped[int] = mapped_column(Integer, default=0)
    working_days_used: Mapped[int] = mapped_column(Integer, default=0)
    promised_limit: Mapped[int] = mapped_column(Integer, default=0)
    supplement_notices: Mapped[int] = mapped_column(Integer, default=0)
    warned: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    accountability_records: Mapped[int] = mapped_column(Integer, default=0)
    joint: Mapped[int] = mapped_column(Integer, default=0)
