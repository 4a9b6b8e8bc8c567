"""City rollup and hub case tally: each equals a recount of the rows it sums up."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from bench.generate_history import (
    HistoryGenerator,
    prepare_hub,
    write_cases,
    write_rollups,
)
from common.context import NodeContext
from common.divisions import CITY_CODE
from common.migrate import alembic_config
from hub.metrics import city_total, figures_by_county, figures_by_tier
from hub.models import HubCase
from hub.rollup_models import CaseRollup, CaseTally, CityRollup
from hub.rollups import (
    CASE_COUNTERS,
    GROUP_COLUMNS,
    RollupFilter,
    case_figures,
    county_key,
    rollup_report,
)

GENERATED_CASES = 3000
COUNTY, TOWNSHIP = "350623", "350623100"


@pytest.fixture
def generated_hub(
    tmp_path: Path, hub_database_url: str | None
) -> Iterator[NodeContext]:
    """A hub database filled by the history generator."""
    url = hub_database_url or f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    context, plans = prepare_hub(url, tmp_path)
    generator = HistoryGenerator(7, context.divisions, plans)
    with context.db.engine.connect() as connection:
        write_cases(connection, generator, GENERATED_CASES, 500)
        write_rollups(connection, generator, 500)
    yield context
    context.db.dispose()


# --- the case tally and the metrics it feeds ---------------------------------


def recount(session: Session, column: Any = None) -> dict[Any, dict[str, Any]]:
    """Count ``hub_case`` rows by ``column`` (all together if None), as the metrics once did."""
    completed = HubCase.status == "completed"
    measured = and_(completed, HubCase.working_days_used.is_not(None))

    def count_if(condition: Any) -> Any:
        return func.count(case((condition, 1)))

    query = select(
        func.count().label("received"),
        func.count(HubCase.accepted_at).label("accepted"),
        count_if(completed).label("completed"),
        count_if(HubCase.status == "rejected").label("rejected"),
        count_if(and_(completed, HubCase.on_time.is_(True))).label("on_time"),
        func.avg(case((measured, HubCase.working_days_used))).label("days"),
        func.avg(case((measured, HubCase.promised_limit_working_days))).label("limit"),
        func.sum(HubCase.supplement_notices).label("supplement_notices"),
        count_if(HubCase.warned.is_(True)).label("warned"),
        count_if(HubCase.overdue.is_(True)).label("overdue"),
        func.sum(HubCase.accountability_records).label("accountability_records"),
        count_if(HubCase.joint.is_(True)).label("joint"),
    )
    if column is None:
        return {None: session.execute(query).one()._asdict()}
    query = query.add_columns(column.label("key")).group_by(column)
    return {row.key: row._asdict() for row in session.execute(query)}


def as_recounted(figures: Any) -> dict[str, Any]:
    """Return a metrics row in the shape of ``recount``'s rows."""
    values = dataclasses.asdict(figures)
    values["days"] = values.pop("average_working_days_used")
    values["limit"] = values.pop("average_promised_limit_working_days")
    return values


def check_same(figures: Any, row: dict[str, Any], group: str) -> None:
    expected = as_recounted(figures)
    for name, value in row.items():
        if name == "key":
            continue
        if name in {"days", "limit"} and value is not None:
            value = round(float(value), 2)
        assert expected[name] == value, f"{group}: {name}"


def test_metrics_by_county_equal_recount(generated_hub: NodeContext) -> None:
    with generated_hub.db.sessions() as session:
        figures = figures_by_county(generated_hub, session)
        rows = recount(session, HubCase.county_code)
    # The city's own cases have no county; the metrics name them by the city's code.
    rows = {key or CITY_CODE: row for key, row in rows.items()}
    figures_by_key = {f.key: f for f in figures if f.received}
    assert set(figures_by_key) == set(rows)
    for key, row in rows.items():
        check_same(figures_by_key[key], row, f"county {key}")


def test_metrics_by_tier_equal_recount(generated_hub: NodeContext) -> None:
    with generated_hub.db.sessions() as session:
        figures = figures_by_tier(session)
        rows = recount(session, HubCase.handler_tier)
    figures_by_key = {f.key: f for f in figures if f.received}
    assert set(figures_by_key) == set(rows)
    for key, row in rows.items():
        check_same(figures_by_key[key], row, f"tier {key}")


def test_metrics_total_equals_recount(generated_hub: NodeContext) -> None:
    with generated_hub.db.sessions() as session:
        total = city_total(session)
        row = recount(session)[None]
    assert total.received == GENERATED_CASES
    check_same(total, row, "total")


def tally(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """Return the tally rows that count at least one case, by county and tier."""
    rows = session.scalars(select(CaseTally)).all()
    return {
        (row.county_code, row.handler_tier): {
            column.name: getattr(row, column.name)
            for column in CaseTally.__table__.columns
        }
        for row in rows
        if row.received
    }


def hub_case(case_id: str, handler_code: str, **fields: Any) -> HubCase:
    values: dict[str, Any] = {
        "case_id": case_id,
        "matter_code": "ZZ-MZ-001",
        "release": 1,
        "handler_code": handler_code,
        "handler_tier": "county" if len(handler_code) == 6 else "township",
        "county_code": handler_code[:6],
        "filed_at_code": handler_code,
        "applicant_pseudonym": "0" * 64,
        "status": "received",
        "promised_limit_working_days": 5,
        "received_at": dt.datetime(2025, 3, 11, 2, tzinfo=dt.UTC),
    }
    values.update(fields)
    return HubCase(**values)


def test_tally_follows_orm_writes(generated_hub: NodeContext) -> None:
    """Inserts, updates, a move to another county and a delete keep the tally exact."""
    db = generated_hub.db
    with db.transaction() as session:
        session.add_all([hub_case("t-1", COUNTY), hub_case("t-2", TOWNSHIP)])
    with db.transaction() as session:
        first = session.get(HubCase, "t-1")
        first.status = "completed"
        first.accepted_at = dt.datetime(2025, 3, 11, 3, tzinfo=dt.UTC)
        first.working_days_used = 3
        first.on_time = True
        first.supplement_notices = 2
        first.warned = True
        second = session.get(HubCase, "t-2")
        second.county_code = "350602"
        second.handler_code = "350602"
        second.handler_tier = "county"
    with db.transaction() as session:
        session.delete(session.get(HubCase, "t-2"))
    with db.sessions() as session:
        counted = tally(session)
        expected = recount_tally(session)
    assert counted == expected


def test_tally_rolls_back_with_savepoint(generated_hub: NodeContext) -> None:
    db = generated_hub.db
    with db.transaction() as session:
        session.add(hub_case("t-1", COUNTY))
    with db.transaction() as session:
        row = session.get(HubCase, "t-1")
        with pytest.raises(RuntimeError), session.begin_nested():
            row.status = "rejected"
            session.flush()
            raise RuntimeError("roll the savepoint back")
        # The savepoint's rollback expired the row, so its old status is
        # loaded again when it is set.
        row.status = "completed"
        row.working_days_used = 1
    with db.sessions() as session:
        counted = tally(session)
        expected = recount_tally(session)
    assert counted == expected


def recount_tally(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """Recount the tally from ``hub_case`` as the migration that creates it fills it."""
    completed = HubCase.status == "completed"
    measured = and_(completed, HubCase.working_days_used.is_not(None))

    def count_if(condition: Any) -> Any:
        return func.count(case((condition, 1)))

    def sum_if(condition: Any, value: Any) -> Any:
        return func.coalesce(func.sum(case((condition, value))), 0)

    county = func.coalesce(HubCase.county_code, "")
    query = select(
        county.label("county_code"),
        HubCase.handler_tier,
        func.count().label("received"),
        func.count(HubCase.accepted_at).label("accepted"),
        count_if(completed).label("completed"),
        count_if(HubCase.status == "rejected").label("rejected"),
        count_if(and_(completed, HubCase.on_time.is_(True))).label("on_time"),
        count_if(measured).label("measured"),
        sum_if(measured, HubCase.working_days_used).label("working_days_used"),
        sum_if(measured, HubCase.promised_limit_working_days).label("promised_limit"),
        func.sum(HubCase.supplement_notices).label("supplement_notices"),
        count_if(HubCase.warned.is_(True)).label("warned"),
        count_if(HubCase.overdue.is_(True)).label("overdue"),
        func.sum(HubCase.accountability_records).label("accountability_records"),
        count_if(HubCase.joint.is_(True)).label("joint"),
    ).group_by(county, HubCase.handler_tier)
    return {
        (row.county_code, row.handler_tier): row._asdict()
        for row in session.execute(query)
    }


def test_migration_fills_same_tally(generated_hub: NodeContext) -> None:
    """Recreating the tables by migration gives the rows the generator wrote."""
    with generated_hub.db.sessions() as session:
        tally_before = tally(session)
        city_before = city_rows(session)
    config = alembic_config(generated_hub.db.url)
    with generated_hub.db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")
        command.upgrade(config, "0013")
        connection.commit()
    with generated_hub.db.sessions() as session:
        assert tally(session) == tally_before
        assert city_rows(session) == city_before


# --- the city rollup and the report ------------------------------------------


def city_rows(session: Session) -> dict[tuple[str, ...], tuple[int, ...]]:
    rows = session.scalars(select(CityRollup)).all()
    return {
        (row.month, row.county_code, row.handler_tier, row.department): tuple(
            getattr(row, name) for name in CASE_COUNTERS
        )
        for row in rows
    }


def case_rollup_groups(
    session: Session, by: str, selection: RollupFilter
) -> dict[str, dict[str, int]]:
    """Sum ``hub_case_rollup`` by one grouping, whatever table the report reads."""
    column = getattr(CaseRollup, GROUP_COLUMNS[by])
    conditions = []
    if selection.county is not None:
        conditions.append(CaseRollup.county_code == selection.county)
    if selection.month_from is not None:
        conditions.append(CaseRollup.month >= selection.month_from)
    sums = [func.sum(getattr(CaseRollup, name)).label(name) for name in CASE_COUNTERS]
    query = select(column.label("key"), *sums).where(*conditions).group_by(column)
    return {
        (county_key(row.key) if by == "county" else row.key): {
            name: int(getattr(row, name)) for name in CASE_COUNTERS
        }
        for row in session.execute(query)
    }


SELECTIONS = {
    "all": RollupFilter(),
    "county": RollupFilter(county=COUNTY),
    "months": RollupFilter(month_from="2025-01"),
}


@pytest.mark.parametrize("name", SELECTIONS)
@pytest.mark.parametrize("by", ["county", "tier", "department", "month"])
def test_city_rollup_equals_case_rollup(
    generated_hub: NodeContext, by: str, name: str
) -> None:
    selection = SELECTIONS[name]
    with generated_hub.db.sessions() as session:
        figures = case_figures(generated_hub, session, selection, by)
        expected = case_rollup_groups(session, by, selection)
    figures_by_key = {
        f.key: {n: getattr(f, n) for n in CASE_COUNTERS} for f in figures if f.received
    }
    assert figures_by_key == expected


def test_report_total_equals_case_rollup(generated_hub: NodeContext) -> None:
    with generated_hub.db.sessions() as session:
        report = rollup_report(generated_hub, session, RollupFilter())
        sums = [func.sum(getattr(CaseRollup, n)) for n in CASE_COUNTERS]
        expected = tuple(session.execute(select(*sums)).one())
    assert tuple(getattr(report.total, n) for n in CASE_COUNTERS) == expected
