"""Two workers running the village's push job at the same moment."""

from __future__ import annotations

import threading

from common.context import get_context
from sync.jobs import push_up
from tests.faults.harness import (
    BRANCH,
    TOWNSHIP,
    VILLAGE,
    WAIT,
    BatchBarrier,
    NodeProcesses,
    acked_seq,
    file_applications,
    push_until_settled,
    start_branch,
    wait_for,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation


def hold_first_batches(federation: Federation) -> BatchBarrier:
    """Make the township let in the first two batches only once both have arrived."""
    township = federation.nodes[TOWNSHIP]
    barrier = BatchBarrier(township.app.wsgi_app)
    township.app.wsgi_app = barrier  # type: ignore[method-assign]
    return barrier


def test_two_threads_push_at_once(federation: Federation) -> None:
    # Batches of 4 make each push run several rounds, which then interleave.
    start_branch(federation, batch_size=4)
    barrier = hold_first_batches(federation)
    file_applications(federation.nodes[VILLAGE], 15)
    failures: list[Exception] = []

    def push() -> None:
        try:
            push_up(VILLAGE)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert barrier.met.is_set(), "the two first batches did not meet at the township"
    assert not failures
    assert acked_seq(VILLAGE) == 15

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_two_workers_share_queue(
    federation: Federation, processes: NodeProcesses
) -> None:
    start_branch(federation, batch_size=4)
    barrier = hold_first_batches(federation)
    file_applications(federation.nodes[VILLAGE], 15)
    # Filing already queued one push; two more, queued past the marker that
    # keeps the queue to one, give each worker a push of its own.
    for _ in range(2):
        get_context(VILLAGE).queue.enqueue(push_up, VILLAGE)

    township_url = federation.nodes[TOWNSHIP].url
    workers = [
        processes.start_worker(VILLAGE, township_url, NODE_BATCH_SIZE="4")
        for _ in range(2)
    ]
    wait_for(lambda: acked_seq(VILLAGE) == 15, "the workers to push every event")
    for worker in workers:
        processes.stop(worker)
    assert barrier.met.is_set(), "the two first batches did not meet at the township"

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)
