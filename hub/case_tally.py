"""Keep ``hub_case_tally`` equal to a GROUP BY over ``hub_case`` as the projection writes it.

SQLAlchemy mapper events follow every ORM insert, update and delete of a
``HubCase``: each adds the row's new counts to its county and tier and takes
its old counts away, on the flush's own connection, so the tally commits or
rolls back with the row (savepoints included). Core statements that write
``hub_case`` bypass these events, so a writer that uses them must fill the
tally itself, as ``bench/generate_history.py`` does with ``tally_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, event, inspect, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.models import HubCase
from hub.rollup_models import CITY_LEVEL, CaseTally

TALLY_COUNTERS = (
    "received",
    "accepted",
    "completed",
    "rejected",
    "on_time",
    "measured",
    "working_days_used",
    "promised_limit",
    "supplement_notices",
    "warned",
    "overdue",
    "accountability_records",
    "joint",
)
# HubCase columns that the key and the counters are computed from.
TALLIED_COLUMNS = (
    "county_code",
    "handler_tier",
    "status",
    "accepted_at",
    "on_time",
    "working_days_used",
    "promised_limit_working_days",
    "supplement_notices",
    "warned",
    "overdue",
    "accountability_records",
    "joint",
)

TallyKey = tuple[str, str]


def tally_key(case: Mapping[str, Any]) -> TallyKey:
    return (case["county_code"] or CITY_LEVEL, case["handler_tier"])


def tally_counters(case: Mapping[str, Any]) -> dict[str, int]:
    """Return what one ``hub_case`` row adds to each counter of its tally row.

    The rules are those of the GROUP BY it replaces: a case counts as
    accepted once it has an acceptance time, and as completed or rejected
    by its current status.
    """
    completed = case["status"] == "completed"
    measured = completed and case["working_days_used"] is not None
    return {
        "received": 1,
        "accepted": int(case["accepted_at"] is not None),
        "completed": int(completed),
        "rejected": int(case["status"] == "rejected"),
        "on_time": int(completed and case["on_time"] is True),
        "measured": int(measured),
        "working_days_used": case["working_days_used"] if measured else 0,
        "promised_limit": case["promised_limit_working_days"] if measured else 0,
        "supplement_notices": case["supplement_notices"] or 0,
        "warned": int(bool(case["warned"])),
        "overdue": int(bool(case["overdue"])),
        "accountability_records": case["accountability_records"] or 0,
        "joint": int(bool(case["joint"])),
    }


def tally_rows(cases: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Add up the tally rows of ``cases``, ready to insert into ``hub_case_tally``."""
    totals: dict[TallyKey, dict[str, int]] = {}
    for case in cases:
        counters = totals.setdefault(tally_key(case), dict.fromkeys(TALLY_COUNTERS, 0))
        for name, value in tally_counters(case).items():
            counters[name] += value
    return [
        {"county_code": county, "handler_tier": tier, **counters}
        for (county, tier), counters in totals.items()
    ]


def add_to_tally(
    connection: Connection, key: TallyKey, counters: dict[str, int]
) -> None:
    """Add ``counters`` (negative to take away) to the tally row at ``key``.

    The UPDATE comes first because the row nearly always exists. When it
    does not, the row is created at zero with INSERT … ON CONFLICT DO NOTHING
    and updated again, so a concurrent transaction that creates it too does
    not fail.
    """
    # NOTE: the tally has one row per county and tier, so on PostgreSQL two
    # transactions that change cases of the same county and tier wait for
    # each other's commit here. Throughput under that wait was not measured.
    changes = {name: n for name, n in counters.items() if n}
    if not changes:
        return
    county, tier = key
    where = (CaseTally.county_code == county, CaseTally.handler_tier == tier)
    increments = {name: getattr(CaseTally, name) + n for name, n in changes.items()}
    statement = update(CaseTally).where(*where).values(increments)
    if connection.execute(statement).rowcount:
        return
    insert = (
        postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    )
    blank = dict.fromkeys(TALLY_COUNTERS, 0)
    row = insert(CaseTally).values(county_code=county, handler_tier=tier, **blank)
    connection.execute(row.on_conflict_do_nothing())
    connection.execute(statement)


def _current(case: HubCase) -> dict[str, Any]:
    return {name: getattr(case, name) for name in TALLIED_COLUMNS}


def _before_flush_values(case: HubCase) -> dict[str, Any]:
    """Return the tallied columns of ``case`` as they were before this flush."""
    state = inspect(case)
    values = {}
    for name in TALLIED_COLUMNS:
        history = state.attrs[name].history
        values[name] = history.deleted[0] if history.deleted else getattr(case, name)
    return values


@event.listens_for(HubCase, "after_insert")
def _inserted(_mapper: Any, connection: Connection, case: HubCase) -> None:
    values = _current(case)
    add_to_tally(connection, tally_key(values), tally_counters(values))


@event.listens_for(HubCase, "after_update")
def _updated(_mapper: Any, connection: Connection, case: HubCase) -> None:
    old, new = _before_flush_values(case), _current(case)
    if old == new:
        return
    old_counters, new_counters = tally_counters(old), tally_counters(new)
    if tally_key(old) == tally_key(new):
        difference = {n: new_counters[n] - old_counters[n] for n in TALLY_COUNTERS}
        add_to_tally(connection, tally_key(new), difference)
        return
    add_to_tally(connection, tally_key(old), {n: -v for n, v in old_counters.items()})
    add_to_tally(connection, tally_key(new), new_counters)


@event.listens_for(HubCase, "after_delete")
def _deleted(_mapper: Any, connection: Connection, case: HubCase) -> None:
    values = _before_flush_values(case)
    counters = tally_counters(values)
    add_to_tally(connection, tally_key(values), {n: -v for n, v in counters.items()})


def _want_old_values(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return value


# An update must know each tallied column's value before it changed. A column
# that was expired (after a savepoint rolled back, say) has no old value in
# its history unless the attribute loads it before it is set.
for _name in TALLIED_COLUMNS:
    event.listen(
        getattr(HubCase, _name),
        "set",
        _want_old_values,
        active_history=True,
        retval=True,
    )
