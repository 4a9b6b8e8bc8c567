"""The city's PostgreSQL restarted while the county pushes batches to it.

The city runs on a private PostgreSQL cluster. The restart lands while
the city is inside the apply transaction of a batch, so that transaction
is rolled back and the county gets 503 for it. The county resends from
its cursor, and the city's engine gets new connections (``pool_pre_ping``
drops the ones the restart cut).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.jobs import push_up
from sync.transport import SyncRefused
from tests.faults.harness import (
    BRANCH,
    CITY,
    COUNTY,
    TOWNSHIP,
    VILLAGE,
    WAIT,
    PauseInApply,
    file_applications,
    push_until_settled,
    start_village,
    unacknowledged,
    wait_for,
)
from tests.faults.invariant import check_sync_invariant
from tests.faults.pg import PrivatePostgres, missing_binaries
from tests.federation import Federation


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    cluster = PrivatePostgres(tmp_path / "postgres")
    cluster.init()
    cluster.start()
    yield cluster
    cluster.stop()
    cluster.remove()


@pytest.fixture
def hub_database_url(postgres: PrivatePostgres) -> str:
    """Run the federation's city on the private cluster."""
    return postgres.url


def push_county(failures: list[Exception], done: threading.Event) -> None:
    """Push the county's events until the city stores them all, keeping each failure."""
    while not done.is_set():
        try:
            push_up(COUNTY)
        except Exception as exc:
            failures.append(exc)
        if unacknowledged(COUNTY) == 0:
            return


def test_hub_postgres_restart(
    federation: Federation, postgres: PrivatePostgres
) -> None:
    federation.start(CITY)
    # Batches of 20 carry the county's events in many applies.
    federation.start(COUNTY, batch_size=20)
    federation.start(TOWNSHIP)
    start_village(federation)
    file_applications(federation.nodes[VILLAGE], 120)
    for code in (VILLAGE, TOWNSHIP):
        push_up(code)
        assert unacknowledged(code) == 0

    pause = PauseInApply(federation.nodes[CITY].context.db.engine)
    failures: list[Exception] = []
    done = threading.Event()
    pusher = threading.Thread(target=push_county, args=(failures, done))
    pusher.start()
    try:
        assert pause.paused.wait(WAIT), "the county's batch never reached the city"
        postgres.restart()
        pause.release.set()
        wait_for(lambda: not pusher.is_alive(), "the county's push to finish")
    finally:
        pause.release.set()
        done.set()
        pusher.join(WAIT)

    refused = [f for f in failures if isinstance(f, SyncRefused)]
    assert refused, "no batch failed: the restart missed the apply"
    assert refused[0].error["code"] == "database_unavailable"
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)
