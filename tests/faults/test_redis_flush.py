"""Redis flushed under running workers; the outbox in the database drives the resend."""

from __future__ import annotations

import signal
import subprocess

import redis

from tests.faults.harness import (
    BRANCH,
    CITY,
    COUNTY,
    TOWNSHIP,
    VILLAGE,
    NodeProcesses,
    events_held,
    file_applications,
    settled,
    start_branch,
    unacknowledged,
    wait_for,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation

# Seconds the scheduled rounds get to send everything after a flush.
RECOVERY = 45


def start_workers(
    federation: Federation, processes: NodeProcesses
) -> list[subprocess.Popen[bytes]]:
    """Start the workers of village, township and county, each on a 0.5 s schedule."""
    return [
        processes.start_worker(code, federation.nodes[parent].url)
        for code, parent in ((VILLAGE, TOWNSHIP), (TOWNSHIP, COUNTY), (COUNTY, CITY))
    ]


def test_flushall_while_events_flow(
    federation: Federation, processes: NodeProcesses, redis_client: redis.Redis
) -> None:
    start_branch(federation)
    workers = start_workers(federation, processes)
    village = federation.nodes[VILLAGE]
    file_applications(village, 20)
    wait_for(lambda: events_held(TOWNSHIP, VILLAGE) > 0, "events to flow upward")

    # Running jobs lose their Redis keys, queued jobs and markers are gone.
    redis_client.flushall()
    file_applications(village, 20)
    redis_client.flushall()
    file_applications(village, 20)
    wait_for(lambda: settled(BRANCH), "every event to be acknowledged", RECOVERY)
    assert [w.poll() for w in workers] == [None] * 3, "a worker exited"

    for worker in workers:
        processes.stop(worker)
    check_sync_invariant(BRANCH)


def test_flushall_drops_queued_push(
    federation: Federation, processes: NodeProcesses, redis_client: redis.Redis
) -> None:
    start_branch(federation)
    workers = start_workers(federation, processes)
    village = federation.nodes[VILLAGE]
    file_applications(village, 10)
    wait_for(lambda: settled(BRANCH), "the first events to reach the city")

    # With the workers frozen, the push that filing queues exists only in
    # Redis, even when a frozen worker's blocking pop has taken its id. The
    # flush then leaves the scheduled rounds as the one way up.
    for worker in workers:
        worker.send_signal(signal.SIGSTOP)
    file_applications(village, 10)
    assert unacknowledged(VILLAGE) == 10, "the new events wait at the village"
    redis_client.flushall()
    for worker in workers:
        worker.send_signal(signal.SIGCONT)

    wait_for(lambda: settled(BRANCH), "the scheduled rounds to send the rest", RECOVERY)
    assert [w.poll() for w in workers] == [None] * 3, "a worker exited"
    for worker in workers:
        processes.stop(worker)
    check_sync_invariant(BRANCH)
