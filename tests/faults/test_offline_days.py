"""A village cut off for three simulated days while it files every day.

The village and the township run on settable clocks (NODE_SETTABLE_CLOCK),
set with PUT /api/clock to the same simulated moments, because every node
of this process shares one clock offset. The village files applications on Monday,
Tuesday and Wednesday with its link cut, and catches up on Thursday.

Sync freshness stays on the machine's time: a request's signature carries
the machine's Unix time (``sync.auth``), and the parent accepts it within
its window of machine time. A settable clock moves the dates that
supervision counts, so a clock set days ahead must not make every sync
request stale, and the pushes below pass the freshness check although the
simulated clock is months away from the machine's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from common import clock
from common.calendar import load_calendar
from common.context import get_context
from common.models import Application, Case, CaseStatus
from node.supervision import sweep_all
from sync.jobs import push_up
from sync.transport import ParentUnreachable
from tests.conftest import at
from tests.faults.harness import (
    BRANCH,
    CITY,
    COUNTY,
    TOWNSHIP,
    VILLAGE,
    LinkProxy,
    file_applications,
    push_until_settled,
    start_village,
    unacknowledged,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation

# Handled at the township, promised in 15 working days.
TOWNSHIP_MATTER = ("ZZ-NY-001",)
# Monday to Wednesday of a week without holidays, then the reconnect day.
OFFLINE_DAYS = ("2026-03-02", "2026-03-03", "2026-03-04")
RECONNECT_DAY = "2026-03-05"
PER_DAY = 2


def set_clocks(federation: Federation, moment: dt.datetime) -> None:
    """Set the clock of the village and the township through their API."""
    for code in (VILLAGE, TOWNSHIP):
        response = federation.nodes[code].request(
            "PUT", "/api/clock", json={"now": moment.isoformat()}
        )
        assert response.status_code == 200, response.text


def filed_days(federation: Federation) -> dict[str, dt.date]:
    """Return each application's filing day in China, as the village stored it."""
    with federation.nodes[VILLAGE].context.db.transaction() as session:
        rows = session.execute(select(Application.id, Application.filed_at))
        return {case_id: clock.local_date(filed) for case_id, filed in rows}


def township_cases() -> dict[str, Case]:
    with get_context(TOWNSHIP).db.transaction() as session:
        return {case.id: case for case in session.scalars(select(Case))}


@pytest.fixture
def offline_week(federation: Federation, links: list[LinkProxy]) -> Iterator[LinkProxy]:
    """File for three days with the village's link cut; reconnect on the fourth."""
    for code in (CITY, COUNTY):
        federation.start(code)
    federation.start(TOWNSHIP, settable_clock=True)
    link = LinkProxy(federation.nodes[TOWNSHIP].server.server_port)
    links.append(link)
    link.restore()
    start_village(federation, parent_url=link.url, settable_clock=True)

    link.cut()
    for day in OFFLINE_DAYS:
        set_clocks(federation, at(day, 10))
        file_applications(federation.nodes[VILLAGE], PER_DAY, TOWNSHIP_MATTER)
        with pytest.raises(ParentUnreachable):
            push_up(VILLAGE)
    set_clocks(federation, at(RECONNECT_DAY, 9))
    link.restore()
    push_until_settled(BRANCH)
    yield link
    clock.reset()


def test_offline_days_catch_up(federation: Federation, offline_week: LinkProxy) -> None:
    assert unacknowledged(VILLAGE) == 0
    check_sync_invariant(BRANCH)


def test_offline_filing_days_kept(
    federation: Federation, offline_week: LinkProxy
) -> None:
    days = filed_days(federation)

    assert sorted(days.values()) == sorted(
        dt.date.fromisoformat(day) for day in OFFLINE_DAYS for _ in range(PER_DAY)
    )


def test_handler_receives_on_filing_day(
    federation: Federation, offline_week: LinkProxy
) -> None:
    days = filed_days(federation)
    cases = township_cases()

    assert set(cases) == set(days)
    received = {i: clock.local_date(c.received_at) for i, c in cases.items()}
    assert received == days


def test_deemed_acceptance_counts_from_filing(
    federation: Federation, offline_week: LinkProxy
) -> None:
    # Tuesday 10 March is the 6th working day after Monday 2 March and the
    # 5th after Tuesday 3 March: only Monday's filings are past the 5
    # working days a supplement notice may take.
    set_clocks(federation, at("2026-03-10", 10))
    sweep_all(TOWNSHIP)

    days = filed_days(federation)
    first_day = dt.date.fromisoformat(OFFLINE_DAYS[0])
    cases = township_cases()
    accepted = {i for i, c in cases.items() if c.status != CaseStatus.RECEIVED}
    assert accepted == {i for i, day in days.items() if day == first_day}
    with get_context(TOWNSHIP).db.transaction() as session:
        calendar = load_calendar(session)
    expected = calendar.add_working_days(first_day, 15).date
    assert {cases[i].deadline for i in accepted} == {expected}


def test_acceptance_day_starts_deadline(
    federation: Federation, offline_week: LinkProxy
) -> None:
    days = filed_days(federation)
    last = max(days, key=lambda case_id: (days[case_id], case_id))
    set_clocks(federation, at(RECONNECT_DAY, 11))

    response = federation.nodes[TOWNSHIP].post(f"/api/cases/{last}/accept")

    assert response.status_code == 200, response.text
    with get_context(TOWNSHIP).db.transaction() as session:
        calendar = load_calendar(session)
        deadline = session.get(Case, last).deadline
    reconnect = dt.date.fromisoformat(RECONNECT_DAY)
    assert deadline == calendar.add_working_days(reconnect, 15).date


def test_offline_sweep_then_invariant(
    federation: Federation, offline_week: LinkProxy
) -> None:
    set_clocks(federation, at("2026-03-10", 10))
    sweep_all(TOWNSHIP)

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)
