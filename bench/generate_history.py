"""Fill a city hub database with years of synthetic case history and its rollups.

The database is migrated with ``common.migrate.upgrade`` and gets the
starter catalog as release 1 (``hub.catalog.publish``), then:

- ``hub_case``: one row per case, as the projection would hold it;
- ``hub_rollup_case``: the rollups' record of each case;
- ``hub_case_rollup``: the counters those cases add up to, aggregated in
  Python with the same rules as ``hub.rollup_handlers``;
- ``hub_city_rollup``: the same counters summed over handling nodes and
  matters;
- ``hub_case_tally``: the counts of ``hub_case`` that ``hub.metrics`` reads,
  added up with ``hub.case_tally``'s own rules;
- ``hub_service_rollup`` and ``hub_hotline_rollup``: queue and hotline
  figures per month, so that the dashboard's full report has data.

Cases are filed at villages chosen uniformly, so each county gets a share
proportional to its villages. The matter decides the handling node (the
village's township, its county or the city, after delegations). Received
times are working hours on weekdays from 2021-01-04 to 2026-11-30, with
volume growing each year. Every random choice comes from one
``random.Random(seed)``, so the same arguments give the same rows.

Rows are written with SQLAlchemy Core ``insert()`` in chunks, so memory
stays bounded whatever ``--cases`` is. Run from the project root::

    .venv/bin/python bench/generate_history.py --cases 200000 \\
        --database-url sqlite:////tmp/hub-history.sqlite3
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import logging
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from common.config import NodeConfig
from common.context import NodeContext
from common.divisions import CITY_CODE, Divisions, Tier
from common.evaluation_models import HotlineKind
from common.migrate import upgrade
from hub.case_tally import TALLY_COUNTERS, TallyKey, tally_counters, tally_key
from hub.catalog import load_catalog, publish
from hub.models import HubCase
from hub.rollup_models import (
    CITY_LEVEL,
    CaseRollup,
    CaseTally,
    CityRollup,
    HotlineRollup,
    RollupCase,
    ServiceRollup,
)

logger = logging.getLogger("bench.generate_history")

CHINA_OFFSET = dt.timedelta(hours=8)
FIRST_DAY = dt.date(2021, 1, 4)
LAST_DAY = dt.date(2026, 11, 30)
# Case volume grows by this factor from one year to the next.
YEARLY_GROWTH = 1.15
# Working hours in China time, as seconds after midnight.
OPENING_SECONDS = 8 * 3600 + 30 * 60
CLOSING_SECONDS = 17 * 3600 + 30 * 60

# Share of all cases per handling tier of the matter, before delegations.
TIER_SHARES = {Tier.TOWNSHIP: 0.45, Tier.COUNTY: 0.45, Tier.CITY: 0.10}

# Outcome shares. These are estimates chosen to look plausible, not
# figures measured at a real service center.
REJECTED_SHARE = 0.03
OVERDUE_SHARE = 0.025
WARNED_ON_TIME_SHARE = 0.06
ONE_SUPPLEMENT_SHARE = 0.07
TWO_SUPPLEMENTS_SHARE = 0.02
ACCOUNTABILITY_SHARE_OF_OVERDUE = 0.6
EVALUATED_SHARE = 0.55
BAD_SHARE_OF_EVALUATED = 0.02
EXCLUDED_SHARE_OF_BAD = 0.25
# Queue tickets called per received case, and the mean wait in seconds.
TICKETS_PER_CASE = 1.3
MEAN_WAIT_SECONDS = 420
# Hotline tickets per county and month, by kind.
HOTLINE_TICKETS = {
    HotlineKind.CONSULTATION: 120,
    HotlineKind.QUERY: 60,
    HotlineKind.COMPLAINT: 8,
    HotlineKind.REPORT: 3,
}

CASE_COUNTERS = tuple(
    column.name
    for column in CaseRollup.__table__.columns
    if column.name
    not in {
        "month",
        "handler_code",
        "department",
        "matter_code",
        "county_code",
        "handler_tier",
    }
)
COUNTER_INDEX = {name: i for i, name in enumerate(CASE_COUNTERS)}


@dataclass(frozen=True)
class MatterPlan:
    """A matter of the catalog as the generator uses it."""

    code: str
    department: str
    tier: Tier
    kind: str
    legal_limit: int | None
    promised_limit: int
    joint: bool
    # (region code, tier that handles the matter there) from delegations.
    delegations: tuple[tuple[str, Tier], ...]


@dataclass(frozen=True)
class Day:
    """A weekday of the history: its date, month and China midnight in UTC."""

    date: dt.date
    month: str
    midnight_utc: dt.datetime


# --- topology and catalog ----------------------------------------------------


def village_codes(divisions: Divisions) -> list[str]:
    """Return every village code of the city, in a stable order."""
    villages = []
    for county in divisions.children(CITY_CODE):
        for township in divisions.children(county.code):
            villages.extend(v.code for v in divisions.children(township.code))
    return sorted(villages)


def matter_plans(content: dict[str, Any]) -> list[MatterPlan]:
    delegations: dict[str, list[tuple[str, Tier]]] = {}
    for delegation in content["delegations"]:
        delegations.setdefault(delegation["matter_code"], []).append(
            (delegation["region"], Tier(delegation["handled_by_tier"]))
        )
    return [
        MatterPlan(
            code=matter["code"],
            department=matter["department"],
            tier=Tier(matter["handling_tier"]),
            kind=matter["kind"],
            legal_limit=matter.get("legal_limit_working_days"),
            promised_limit=matter["promised_limit_working_days"],
            joint=bool(matter.get("joint")),
            delegations=tuple(delegations.get(matter["code"], [])),
        )
        for matter in content["matters"]
    ]


def matter_weights(plans: list[MatterPlan]) -> list[float]:
    """Weight matters so each tier gets its share, split evenly by department, then matter."""
    weights = []
    for plan in plans:
        same_tier = [p for p in plans if p.tier is plan.tier]
        departments = {p.department for p in same_tier}
        same_department = [p for p in same_tier if p.department == plan.department]
        share = TIER_SHARES[plan.tier] / len(departments) / len(same_department)
        weights.append(share)
    return weights


def handler_of(plan: MatterPlan, village: str) -> tuple[str, Tier]:
    """Return the handling node of a matter filed at a village, and its tier."""
    tier = plan.tier
    for region, delegated_tier in plan.delegations:
        if village.startswith(region):
            tier = delegated_tier
    if tier is Tier.CITY:
        return CITY_CODE, tier
    if tier is Tier.COUNTY:
        return village[:6], tier
    if tier is Tier.TOWNSHIP:
        return village[:9], tier
    return village, tier


# --- calendar ----------------------------------------------------------------


def history_days() -> tuple[list[Day], list[float]]:
    """Return the weekdays of the history and their cumulative weights."""
    days = []
    cumulative = []
    total = 0.0
    day = FIRST_DAY
    while day <= LAST_DAY:
        if day.weekday() < 5:
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            days.append(Day(day, day.strftime("%Y-%m"), midnight - CHINA_OFFSET))
            total += YEARLY_GROWTH ** (day.year - FIRST_DAY.year)
            cumulative.append(total)
        day += dt.timedelta(days=1)
    return days, cumulative


def add_weekdays(day: dt.date, count: int) -> dt.date:
    """Return the weekday ``count`` weekdays after ``day``, itself a weekday.

    NOTE: holidays and swapped working weekends are ignored, because the
    generator does not load the working calendar, so deadlines are estimates.
    """
    weeks, rest = divmod(count, 5)
    days = weeks * 7 + rest
    if day.weekday() + rest >= 5:
        days += 2
    return day + dt.timedelta(days=days)


def china_moment(day: dt.date, seconds: int) -> dt.datetime:
    """Return the UTC instant of ``seconds`` after midnight of ``day`` in China time."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return midnight - CHINA_OFFSET + dt.timedelta(seconds=seconds)


# --- cases -------------------------------------------------------------------


class HistoryGenerator:
    """Random source of cases that adds up their rollup counters as it draws them."""

    def __init__(self, seed: int, divisions: Divisions, plans: list[MatterPlan]):
        self.rng = random.Random(seed)
        self.divisions = divisions
        self.plans = plans
        self.villages = village_codes(divisions)
        self.days, self.day_weights = history_days()
        self.matter_cumulative = _cumulative(matter_weights(plans))
        self.case_numbers: dict[str, int] = {}
        # (month, handler, department, matter) -> counters in CASE_COUNTERS order.
        self.case_rollup: dict[tuple[str, str, str, str], list[int]] = {}
        # (month, handler) -> cases received, for the queue figures.
        self.received_by_node: dict[tuple[str, str], int] = {}
        # (county, tier) -> counters in TALLY_COUNTERS order.
        self.tally: dict[TallyKey, list[int]] = {}

    def cases(self, count: int, chunk_size: int) -> Iterator[list[dict[str, Any]]]:
        """Yield chunks of ``hub_case`` rows, each with its ``hub_rollup_case`` row."""
        chunk: list[dict[str, Any]] = []
        for _ in range(count):
            chunk.append(self.case())
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def case(self) -> dict[str, Any]:
        rng = self.rng
        village = self.villages[int(rng.random() * len(self.villages))]
        plan = self.plans[_pick(self.matter_cumulative, rng.random())]
        handler, tier = handler_of(plan, village)
        day = self.days[_pick(self.day_weights, rng.random() * self.day_weights[-1])]
        case = self.blank_case(plan, village, handler, tier, day)
        self.settle(case, plan, day)
        self.count(case, plan, day.month)
        return case

    def blank_case(
        self, plan: MatterPlan, village: str, handler: str, tier: Tier, day: Day
    ) -> dict[str, Any]:
        rng = self.rng
        number = self.case_numbers.get(village, 0) + 1
        self.case_numbers[village] = number
        seconds = rng.randint(OPENING_SECONDS, CLOSING_SECONDS - 3600)
        return {
            "case_id": f"{village}-{number:06d}",
            "matter_code": plan.code,
            "release": 1,
            "handler_code": handler,
            "handler_tier": tier.value,
            "county_code": None if tier is Tier.CITY else handler[:6],
            "filed_at_code": village,
            "applicant_pseudonym": f"{rng.getrandbits(256):064x}",
            "status": "received",
            "promised_limit_working_days": plan.promised_limit,
            "received_at": day.midnight_utc + dt.timedelta(seconds=seconds),
            "accepted_at": None,
            "deadline": None,
            "completed_at": None,
            "working_days_used": None,
            "on_time": None,
            "department": plan.department,
            "kind": plan.kind,
            "joint": plan.joint,
            "supplement_notices": 0,
            "light": "green",
            "warned": False,
            "overdue": False,
            "accountability_records": 0,
            # Not columns of hub_case, but the rollup counters need them.
            "evaluations": 0,
            "bad_reviews": 0,
            "excluded_reviews": 0,
        }

    def settle(self, case: dict[str, Any], plan: MatterPlan, day: Day) -> None:
        """Decide what happened to a case by the last day of the history."""
        rng = self.rng
        immediate = plan.kind == "immediate"
        accept_day = (
            day.date if immediate else add_weekdays(day.date, rng.randint(0, 1))
        )
        if accept_day > LAST_DAY:
            return
        if not immediate and rng.random() < REJECTED_SHARE:
            case["status"] = "rejected"
            return

        case["status"] = "accepted"
        case["accepted_at"] = case["received_at"] + dt.timedelta(minutes=20)
        if accept_day != day.date:
            seconds = rng.randint(OPENING_SECONDS, CLOSING_SECONDS - 3600)
            case["accepted_at"] = china_moment(accept_day, seconds)
        limit = plan.promised_limit
        case["deadline"] = add_weekdays(accept_day, limit)
        if not immediate:
            draw = rng.random()
            if draw < TWO_SUPPLEMENTS_SHARE:
                case["supplement_notices"] = 2
            elif draw < TWO_SUPPLEMENTS_SHARE + ONE_SUPPLEMENT_SHARE:
                case["supplement_notices"] = 1

        late = limit > 0 and rng.random() < OVERDUE_SHARE
        if late:
            used = limit + rng.randint(1, max(2, limit // 3))
        else:
            used = int(limit * rng.random() ** 1.5 + 0.5)
        done_day = add_weekdays(accept_day, used)
        if done_day > LAST_DAY:
            self.leave_open(case, late)
        else:
            self.complete(case, accept_day, done_day, used, late)

    def complete(
        self,
        case: dict[str, Any],
        accept_day: dt.date,
        done_day: dt.date,
        used: int,
        late: bool,
    ) -> None:
        """Mark a case completed after ``used`` working days, and maybe evaluated."""
        rng = self.rng
        case["status"] = "completed"
        case["completed_at"] = case["accepted_at"] + dt.timedelta(
            days=(done_day - accept_day).days, hours=1
        )
        case["working_days_used"] = used
        case["on_time"] = not late
        case["warned"] = late or rng.random() < WARNED_ON_TIME_SHARE
        case["overdue"] = late
        if late and rng.random() < ACCOUNTABILITY_SHARE_OF_OVERDUE:
            case["accountability_records"] = 1

        if rng.random() < EVALUATED_SHARE:
            case["evaluations"] = 1
            if rng.random() < BAD_SHARE_OF_EVALUATED:
                case["bad_reviews"] = 1
                case["excluded_reviews"] = int(rng.random() < EXCLUDED_SHARE_OF_BAD)

    def leave_open(self, case: dict[str, Any], late: bool) -> None:
        """Mark a case still open at the end of the history, red when it ran late."""
        if late and case["deadline"] < LAST_DAY:
            case["light"] = "red"
            case["warned"] = True
            case["overdue"] = True
        elif self.rng.random() < WARNED_ON_TIME_SHARE:
            case["light"] = "yellow"
            case["warned"] = True

    def count(self, case: dict[str, Any], plan: MatterPlan, month: str) -> None:
        """Add a case to the rollup counters as the rollup handlers would."""
        key = (month, case["handler_code"], plan.department, plan.code)
        counters = self.case_rollup.get(key)
        if counters is None:
            counters = self.case_rollup[key] = [0] * len(CASE_COUNTERS)
        node_key = (month, case["handler_code"])
        self.received_by_node[node_key] = self.received_by_node.get(node_key, 0) + 1
        completed = case["status"] == "completed"
        promised = plan.promised_limit
        legal = plan.legal_limit
        values = {
            "received": 1,
            "accepted": int(case["accepted_at"] is not None),
            "completed": int(completed),
            "rejected": int(case["status"] == "rejected"),
            "on_time": int(bool(case["on_time"])),
            "immediate": int(plan.kind == "immediate"),
            "joint": int(plan.joint),
            "working_days_used": case["working_days_used"] or 0,
            "promised_limit": promised if completed else 0,
            "limits_compared": int(completed and legal is not None),
            "compared_legal_limit": (legal or 0) if completed else 0,
            "compared_promised_limit": promised
            if completed and legal is not None
            else 0,
            "supplement_notices": case["supplement_notices"],
            "warned": int(case["warned"]),
            "overdue": int(case["overdue"]),
            "accountability_records": case["accountability_records"],
            "evaluations": case["evaluations"],
            "bad_reviews": case["bad_reviews"],
            "excluded_reviews": case["excluded_reviews"],
        }
        for name, value in values.items():
            if value:
                counters[COUNTER_INDEX[name]] += value
        self.count_in_tally(case)

    def count_in_tally(self, case: dict[str, Any]) -> None:
        """Add a ``hub_case`` row to the tally as ``hub.case_tally`` would."""
        key = tally_key(case)
        counters = self.tally.get(key)
        if counters is None:
            counters = self.tally[key] = [0] * len(TALLY_COUNTERS)
        values = tally_counters(case)
        for i, name in enumerate(TALLY_COUNTERS):
            counters[i] += values[name]

    # --- rollup rows ---------------------------------------------------------

    def case_rollup_rows(self) -> list[dict[str, Any]]:
        rows = []
        for (month, handler, department, matter), counters in self.case_rollup.items():
            row = {
                "month": month,
                "handler_code": handler,
                "department": department,
                "matter_code": matter,
                "county_code": self.county_key(handler),
                "handler_tier": self.divisions.get(handler).tier.value,
            }
            row.update(zip(CASE_COUNTERS, counters, strict=True))
            rows.append(row)
        return rows

    def city_rollup_rows(self) -> list[dict[str, Any]]:
        """Sum the case rollup rows over handling nodes and matters."""
        totals: dict[tuple[str, str, str, str], list[int]] = {}
        for row in self.case_rollup_rows():
            key = (
                row["month"],
                row["county_code"],
                row["handler_tier"],
                row["department"],
            )
            counters = totals.setdefault(key, [0] * len(CASE_COUNTERS))
            for i, name in enumerate(CASE_COUNTERS):
                counters[i] += row[name]
        return [
            {
                "month": month,
                "county_code": county,
                "handler_tier": tier,
                "department": department,
                **dict(zip(CASE_COUNTERS, counters, strict=True)),
            }
            for (month, county, tier, department), counters in totals.items()
        ]

    def tally_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "county_code": county,
                "handler_tier": tier,
                **dict(zip(TALLY_COUNTERS, counters, strict=True)),
            }
            for (county, tier), counters in self.tally.items()
        ]

    def service_rollup_rows(self) -> list[dict[str, Any]]:
        """Return queue figures of each node and month that received cases."""
        rng = self.rng
        rows = []
        for (month, node), received in sorted(self.received_by_node.items()):
            tickets = int(received * TICKETS_PER_CASE)
            gaps = rng.randint(0, 3)
            rows.append(
                {
                    "month": month,
                    "node_code": node,
                    "county_code": self.county_key(node),
                    "tickets_called": tickets,
                    "waited_seconds": int(
                        tickets * MEAN_WAIT_SECONDS * rng.uniform(0.6, 1.4)
                    ),
                    "staffing_gaps": gaps,
                    "gap_minutes": gaps * rng.randint(15, 120),
                }
            )
        return rows

    def hotline_rollup_rows(self) -> list[dict[str, Any]]:
        """Return hotline tickets of every county, month and kind."""
        rng = self.rng
        months = sorted({day.month for day in self.days})
        counties = sorted(d.code for d in self.divisions.children(CITY_CODE))
        rows = []
        for month in months:
            for county in counties:
                for kind, mean in HOTLINE_TICKETS.items():
                    tickets = max(0, int(rng.gauss(mean, mean / 4)))
                    replied = int(tickets * rng.uniform(0.9, 1.0))
                    rows.append(
                        {
                            "month": month,
                            "county_code": county,
                            "kind": kind.value,
                            "tickets": tickets,
                            "replied": replied,
                            "reply_seconds": replied * rng.randint(4, 40) * 3600,
                        }
                    )
        return rows

    def county_key(self, code: str) -> str:
        return self.divisions.county_of(code) or CITY_LEVEL


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    cumulative = []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return [value / total for value in cumulative]


def _pick(cumulative: list[float], draw: float) -> int:
    """Return the index of the first cumulative weight above ``draw``."""
    return min(bisect.bisect_right(cumulative, draw), len(cumulative) - 1)


# --- writing -----------------------------------------------------------------

# Page cache of the generator's SQLite connection, in KiB (512 MiB).
SQLITE_CACHE_KIB = 512 * 1024
HUB_CASE_COLUMNS = tuple(column.name for column in HubCase.__table__.columns)


def rollup_case_row(
    case: dict[str, Any], plan: MatterPlan, month: str
) -> dict[str, Any]:
    return {
        "case_id": case["case_id"],
        "month": month,
        "handler_code": case["handler_code"],
        "handler_tier": case["handler_tier"],
        "department": plan.department,
        "matter_code": plan.code,
        "legal_limit_working_days": plan.legal_limit,
        "promised_limit_working_days": plan.promised_limit,
        "accepted": case["accepted_at"] is not None,
        "completed": case["status"] == "completed",
        "rejected": case["status"] == "rejected",
        "warned": case["warned"],
        "overdue": case["overdue"],
    }


def write_cases(
    connection: Connection,
    generator: HistoryGenerator,
    count: int,
    chunk_size: int,
) -> float:
    """Insert ``count`` cases and their rollup records, one transaction per chunk.

    Returns the seconds spent.
    """
    plans = {plan.code: plan for plan in generator.plans}
    started = time.perf_counter()
    written = 0
    next_report = started + 10
    for chunk in generator.cases(count, chunk_size):
        cases = [{name: case[name] for name in HUB_CASE_COLUMNS} for case in chunk]
        records = [
            rollup_case_row(case, plans[case["matter_code"]], _month(case))
            for case in chunk
        ]
        with connection.begin():
            connection.execute(insert(HubCase.__table__), cases)
            connection.execute(insert(RollupCase.__table__), records)
        written += len(chunk)
        now = time.perf_counter()
        if now >= next_report:
            logger.info(
                "%d of %d cases written, %.0f cases/s",
                written,
                count,
                written / (now - started),
            )
            next_report = now + 10
    return time.perf_counter() - started


def _month(case: dict[str, Any]) -> str:
    return (case["received_at"] + CHINA_OFFSET).strftime("%Y-%m")


def write_rollups(
    connection: Connection, generator: HistoryGenerator, chunk_size: int
) -> int:
    """Insert the rollup rows and the case tally, and return how many rows."""
    tables = (
        (CaseRollup, generator.case_rollup_rows()),
        (CityRollup, generator.city_rollup_rows()),
        (CaseTally, generator.tally_rows()),
        (ServiceRollup, generator.service_rollup_rows()),
        (HotlineRollup, generator.hotline_rollup_rows()),
    )
    total = 0
    with connection.begin():
        for model, rows in tables:
            for start in range(0, len(rows), chunk_size):
                connection.execute(
                    insert(model.__table__), rows[start : start + chunk_size]
                )
            total += len(rows)
    return total


def prepare_hub(
    database_url: str, data_dir: Path
) -> tuple[NodeContext, list[MatterPlan]]:
    """Migrate the hub database, publish the starter catalog, return the matters.

    Raises ``SystemExit`` when the database already contains cases, because
    new case numbers would collide with theirs.
    """
    context = NodeContext(
        NodeConfig(code=CITY_CODE, data_dir=data_dir, database_url=database_url)
    )
    upgrade(context.db)
    with context.db.transaction() as session:
        if session.scalar(select(HubCase.case_id).limit(1)) is not None:
            raise SystemExit(
                f"{database_url} already contains hub cases: give the URL of a new, empty database"
            )
        content = load_catalog(context.divisions)
        publish(context, session, content)
    return context, matter_plans(content)


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
        "--cases",
        type=positive_int,
        default=5_000_000,
        help="cases to generate (default 5,000,000)",
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of the new hub database (default: hub-history.sqlite3 in a new temporary directory)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the random choices (default 1)"
    )
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=5000,
        help="cases inserted per transaction (default 5,000)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="hub-history-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'hub-history.sqlite3'}"
    context, plans = prepare_hub(database_url, data_dir)
    generator = HistoryGenerator(args.seed, context.divisions, plans)
    with context.db.engine.connect() as connection:
        if context.db.is_sqlite:
            # Case numbers arrive in random order, so every insert touches
            # some page of the two primary key indexes. In one run with the
            # default 2 MiB cache, the rate was down to 5,400 cases/s by
            # 280,000 cases, against 10,300 with this cache.
            connection.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            connection.commit()
        seconds = write_cases(connection, generator, args.cases, args.chunk_size)
        started = time.perf_counter()
        rollup_rows = write_rollups(connection, generator, args.chunk_size)
        rollup_seconds = time.perf_counter() - started
    context.db.dispose()
    print(f"database: {database_url}")
    print(
        f"cases: {args.cases} in {seconds:.1f} s, {args.cases / seconds:.0f} cases/s "
        f"({2 * args.cases / seconds:.0f} rows/s into hub_case and hub_rollup_case)"
    )
    print(f"rollup rows: {rollup_rows} in {rollup_seconds:.1f} s")


if __name__ == "__main__":
    main()
