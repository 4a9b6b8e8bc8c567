"""Time the hub dashboard's rollup queries against a naive GROUP BY over ``hub_case``.

Run it on a database filled by ``bench/generate_history.py``. For each
grouping of ``hub.rollups.GROUPINGS`` and each filter, the script times:

- rollup: ``hub.rollups.case_figures``, which sums ``hub_city_rollup``, or
  ``hub_case_rollup`` for the matter and handler groupings;
- naive: one GROUP BY over the raw ``hub_case`` table, joined to
  ``catalog_matter`` for the legal limit, that computes the same counters.

It also times ``hub.rollups.rollup_report`` for each filter, which is all
that ``GET /api/hub/rollups`` and the ``/hub`` page read, and
``hub.metrics.city_metrics``, which ``GET /api/hub/metrics`` reads. Both sides run in
the same process on the same database, one after the other. Each rollup
query and report gets one untimed warm-up call. The naive side gets one
warm-up scan of ``hub_case`` in all. Only the query call is timed, inside an
open session.

``hub_case`` has no evaluation columns, so the naive query leaves out the
evaluation counters. The script compares every other counter of the two
sides and prints any group where they differ. It asserts nothing.

Run from the project root::

    .venv/bin/python bench/bench_dashboard.py --database-url sqlite:////tmp/hub-history.sqlite3 \\
        --repeat 20 --naive-repeat 5 --output dashboard.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from common.config import NodeConfig
from common.context import NodeContext
from common.divisions import CITY_CODE
from common.models import Matter
from hub.metrics import city_metrics
from hub.models import HubCase
from hub.rollup_models import CaseRollup, CityRollup
from hub.rollups import (
    CASE_COUNTERS,
    GROUPINGS,
    RollupFilter,
    case_figures,
    county_value,
    rollup_report,
)

CHINA_OFFSET = dt.timedelta(hours=8)
COUNTY = "350623"
MONTH_FROM, MONTH_TO = "2025-01", "2025-12"
FILTERS = {
    "all": {},
    "county": {"county": COUNTY},
    "months": {"month_from": MONTH_FROM, "month_to": MONTH_TO},
    "county+months": {"county": COUNTY, "month_from": MONTH_FROM, "month_to": MONTH_TO},
}
# Counters that hub_case cannot give, because evaluations reach the hub only as events.
NOT_IN_HUB_CASE = {"evaluations", "bad_reviews", "excluded_reviews"}
NAIVE_COUNTERS = tuple(name for name in CASE_COUNTERS if name not in NOT_IN_HUB_CASE)


@dataclass
class Timing:
    """Seconds of the repeated calls of one query."""

    name: str
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p95_ms(self) -> float:
        """The 95th percentile by the nearest-rank method (the maximum below 20 calls)."""
        ordered = sorted(self.seconds)
        return ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000


# --- the naive query -----------------------------------------------------------


def month_start_utc(month: str) -> dt.datetime:
    """Return the UTC instant at which a month "YYYY-MM" starts in China time."""
    year, number = (int(part) for part in month.split("-"))
    return dt.datetime(year, number, 1, tzinfo=dt.UTC) - CHINA_OFFSET


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def month_expression(dialect: str) -> ColumnElement[str]:
    """Return the month "YYYY-MM" of ``received_at`` in China time, in SQL."""
    if dialect == "postgresql":
        # received_at is stored as naive UTC, so mark it as UTC, then read it in China time.
        china = func.timezone(
            "Asia/Shanghai", func.timezone("UTC", HubCase.received_at)
        )
        return func.to_char(china, "YYYY-MM")
    return func.strftime("%Y-%m", HubCase.received_at, "+8 hours")


def naive_group_column(by: str, dialect: str) -> ColumnElement[Any]:
    columns = {
        "county": func.coalesce(HubCase.county_code, ""),
        "tier": HubCase.handler_tier,
        "department": HubCase.department,
        "matter": HubCase.matter_code,
        "handler": HubCase.handler_code,
    }
    return columns[by] if by in columns else month_expression(dialect)


def naive_sums() -> list[ColumnElement[Any]]:
    completed = HubCase.status == "completed"
    legal = Matter.legal_limit_working_days
    compared = and_(completed, legal.is_not(None))

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    def sum_if(condition: ColumnElement[bool], value: Any) -> ColumnElement[int]:
        return func.sum(case((condition, value), else_=0))

    sums = {
        "received": func.count(),
        "accepted": count_if(HubCase.accepted_at.is_not(None)),
        "completed": count_if(completed),
        "rejected": count_if(HubCase.status == "rejected"),
        "on_time": count_if(HubCase.on_time.is_(True)),
        "immediate": count_if(HubCase.kind == "immediate"),
        "joint": count_if(HubCase.joint.is_(True)),
        "working_days_used": sum_if(completed, HubCase.working_days_used),
        "promised_limit": sum_if(completed, HubCase.promised_limit_working_days),
        "limits_compared": count_if(compared),
        "compared_legal_limit": sum_if(compared, legal),
        "compared_promised_limit": sum_if(
            compared, HubCase.promised_limit_working_days
        ),
        "supplement_notices": func.sum(HubCase.supplement_notices),
        "warned": count_if(HubCase.warned.is_(True)),
        "overdue": count_if(HubCase.overdue.is_(True)),
        "accountability_records": func.sum(HubCase.accountability_records),
    }
    return [sums[name].label(name) for name in NAIVE_COUNTERS]


def naive_where(selection: RollupFilter) -> list[ColumnElement[bool]]:
    conditions = []
    if selection.county is not None:
        value = county_value(selection.county)
        if value:
            conditions.append(HubCase.county_code == value)
        else:
            conditions.append(HubCase.county_code.is_(None))
    if selection.handler is not None:
        conditions.append(HubCase.handler_code == selection.handler)
    if selection.month_from is not None:
        conditions.append(HubCase.received_at >= month_start_utc(selection.month_from))
    if selection.month_to is not None:
        end = month_start_utc(next_month(selection.month_to))
        conditions.append(HubCase.received_at < end)
    return conditions


def naive_rows(
    session: Session, selection: RollupFilter, by: str
) -> dict[str, dict[str, int]]:
    """Compute the case counters of each group straight from ``hub_case``."""
    column = naive_group_column(by, session.get_bind().dialect.name)
    query = (
        select(column.label("key"), *naive_sums())
        .select_from(HubCase)
        .outerjoin(
            Matter,
            and_(Matter.release == HubCase.release, Matter.code == HubCase.matter_code),
        )
        .where(*naive_where(selection))
        .group_by(column)
    )
    return {
        row.key: {name: int(getattr(row, name) or 0) for name in NAIVE_COUNTERS}
        for row in session.execute(query)
    }


def rollup_rows(
    context: NodeContext, session: Session, selection: RollupFilter, by: str
) -> dict[str, dict[str, int]]:
    """Return the counters of each group with cases, from the rollup tables."""
    return {
        figures.key: {name: getattr(figures, name) for name in NAIVE_COUNTERS}
        for figures in case_figures(context, session, selection, by)
        if figures.received
    }


def differences(
    rollup: dict[str, dict[str, int]], naive: dict[str, dict[str, int]]
) -> list[str]:
    """List the groups whose counters differ between the two sides."""
    found = []
    for key in sorted(set(rollup) | set(naive)):
        if rollup.get(key) != naive.get(key):
            found.append(f"{key}: rollup {rollup.get(key)} != naive {naive.get(key)}")
    return found


# --- timing ------------------------------------------------------------------


def timed_calls(
    context: NodeContext,
    query: Callable[[Session], Any],
    repeat: int,
    warm_up: bool = True,
) -> tuple[list[float], Any]:
    """Call ``query`` ``repeat`` times, after one untimed call if ``warm_up``.

    Returns the seconds of each timed call and the result of the last one.
    """
    seconds = []
    result = None
    for attempt in range(repeat + int(warm_up)):
        with context.db.sessions() as session:
            started = time.perf_counter()
            result = query(session)
            elapsed = time.perf_counter() - started
        if attempt or not warm_up:
            seconds.append(elapsed)
    return seconds, result


def table_sizes(context: NodeContext) -> dict[str, int]:
    with context.db.sessions() as session:
        return {
            "hub_case": session.scalar(select(func.count()).select_from(HubCase)),
            "hub_case_rollup": session.scalar(
                select(func.count()).select_from(CaseRollup)
            ),
            "hub_city_rollup": session.scalar(
                select(func.count()).select_from(CityRollup)
            ),
        }


def run(context: NodeContext, repeat: int, naive_repeat: int) -> dict[str, Any]:
    """Time every grouping and filter on both sides, and the full report per filter.

    The naive queries get one warm-up scan at the start instead of one each,
    because each of them reads the whole of ``hub_case``.
    """
    results: dict[str, Any] = {"queries": [], "reports": [], "differences": []}
    timed_calls(context, partial(naive_rows, selection=RollupFilter(), by="county"), 1)
    seconds, _ = timed_calls(context, partial(city_metrics, context), repeat)
    metrics = Timing("metrics", seconds)
    results["reports"].append(metrics)
    print(
        f"{metrics.name:<32} median {metrics.median_ms:9.1f} ms  p95 {metrics.p95_ms:9.1f} ms"
    )
    for filter_name, values in FILTERS.items():
        selection = RollupFilter(**values)
        seconds, _ = timed_calls(
            context, partial(rollup_report, context, selection=selection), repeat
        )
        report = Timing(f"report {filter_name}", seconds)
        results["reports"].append(report)
        print(
            f"{report.name:<32} median {report.median_ms:9.1f} ms  p95 {report.p95_ms:9.1f} ms"
        )
        for by in GROUPINGS:
            name = f"{by} / {filter_name}"
            seconds, _ = timed_calls(
                context,
                partial(case_figures, context, selection=selection, by=by),
                repeat,
            )
            rollup = Timing(name, seconds)
            seconds, naive_result = timed_calls(
                context,
                partial(naive_rows, selection=selection, by=by),
                naive_repeat,
                warm_up=False,
            )
            naive = Timing(name, seconds)
            results["queries"].append((rollup, naive))
            with context.db.sessions() as session:
                found = differences(
                    rollup_rows(context, session, selection, by), naive_result
                )
            results["differences"].extend(f"{name}: {line}" for line in found)
            print(
                f"{name:<32} rollup median {rollup.median_ms:8.1f} p95 {rollup.p95_ms:8.1f} ms"
                f" | naive median {naive.median_ms:9.1f} p95 {naive.p95_ms:9.1f} ms"
                f" | naive/rollup p95 {naive.p95_ms / rollup.p95_ms:7.1f}x"
                f" | {'same figures' if not found else f'{len(found)} groups differ'}"
            )
    return results


def machine() -> dict[str, str]:
    return {
        "cpus": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def as_json(
    results: dict[str, Any], args: argparse.Namespace, sizes: dict[str, int]
) -> dict[str, Any]:
    def timing(value: Timing) -> dict[str, float]:
        return {
            "median_ms": round(value.median_ms, 3),
            "p95_ms": round(value.p95_ms, 3),
        }

    return {
        "machine": machine(),
        "database": args.database_url.split("@")[-1],
        "repeat": args.repeat,
        "naive_repeat": args.naive_repeat,
        "rows": sizes,
        "reports": {report.name: timing(report) for report in results["reports"]},
        "queries": {
            rollup.name: {
                "rollup": timing(rollup),
                "naive": timing(naive),
                "p95_ratio": round(naive.p95_ms / rollup.p95_ms, 1),
            }
            for rollup, naive in results["queries"]
        },
        "differences": results["differences"],
    }


# --- command line ------------------------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"invalid value {text}: give a whole number of 1 or more"
        )
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        required=True,
        help="SQLAlchemy URL of a database filled by bench/generate_history.py",
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=20,
        help="timed calls of each rollup query and report (default 20)",
    )
    parser.add_argument(
        "--naive-repeat",
        type=positive_int,
        default=5,
        help="timed calls of each naive query, which scans hub_case (default 5)",
    )
    parser.add_argument(
        "--output", type=Path, help="also write the results to this JSON file"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    config = NodeConfig(
        code=CITY_CODE, data_dir=data_dir, database_url=args.database_url
    )
    context = NodeContext(config)
    sizes = table_sizes(context)
    print(
        f"{sizes['hub_case']} cases, {sizes['hub_case_rollup']} case rollup rows, "
        f"{sizes['hub_city_rollup']} city rollup rows; "
        f"{machine()}; repeat {args.repeat}, naive repeat {args.naive_repeat}"
    )
    results = run(context, args.repeat, args.naive_repeat)
    context.db.dispose()
    if results["differences"]:
        print(f"{len(results['differences'])} groups differ between rollup and naive:")
        for line in results["differences"][:20]:
            print(f"  {line}")
    if args.output:
        document = as_json(results, args, sizes)
        args.output.write_text(
            json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        )
        print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
