"""A village worker killed with SIGKILL while its parent applies or acknowledges.

The worker runs as ``python -m node worker``, as in production. The
parents run in this process, so that a gate can stop them at the exact
step where the kill must land.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from rq import Worker

from common.context import get_context
from tests.faults.harness import (
    BRANCH,
    TOWNSHIP,
    VILLAGE,
    WAIT,
    DelayedAck,
    NodeProcesses,
    PauseInApply,
    acked_seq,
    events_held,
    file_applications,
    push_until_settled,
    start_branch,
    wait_for,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation


def worker_idle(code: str) -> bool:
    """Tell whether a worker of node ``code`` waits in its blocking pop for a job."""
    workers = Worker.all(queue=get_context(code).queue)
    return bool(workers) and all(w.get_state() == "idle" for w in workers)


def eventually(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` for up to ``timeout`` seconds; return whether it came true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_kill_after_apply_before_ack(
    federation: Federation, processes: NodeProcesses
) -> None:
    start_branch(federation)
    township = federation.nodes[TOWNSHIP]
    gate = DelayedAck(township.app.wsgi_app)
    township.app.wsgi_app = gate  # type: ignore[method-assign]
    file_applications(federation.nodes[VILLAGE], 6)
    try:
        worker = processes.start_worker(VILLAGE, township.url)
        assert gate.applied.wait(WAIT), processes.log_tail(worker)
        processes.kill(worker)
    finally:
        gate.release.set()
    assert events_held(TOWNSHIP, VILLAGE) == 6, "the township applied the batch"
    assert acked_seq(VILLAGE) == 0, "the village recorded no acknowledgement"

    worker = processes.start_worker(VILLAGE, township.url)
    wait_for(lambda: acked_seq(VILLAGE) == 6, "the restarted worker to push again")
    processes.stop(worker)
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_kill_during_parent_apply(
    federation: Federation, processes: NodeProcesses
) -> None:
    start_branch(federation)
    township = federation.nodes[TOWNSHIP]
    file_applications(federation.nodes[VILLAGE], 6)
    pause = PauseInApply(township.context.db.engine)
    try:
        worker = processes.start_worker(VILLAGE, township.url)
        assert pause.paused.wait(WAIT), processes.log_tail(worker)
        processes.kill(worker)
    finally:
        # The township's database stays locked until the pause ends, so
        # nothing may read it before this point.
        pause.release.set()
    wait_for(lambda: events_held(TOWNSHIP, VILLAGE) == 6, "the township's apply")
    assert acked_seq(VILLAGE) == 0, "the village recorded no acknowledgement"

    worker = processes.start_worker(VILLAGE, township.url)
    wait_for(lambda: acked_seq(VILLAGE) == 6, "the restarted worker to push again")
    processes.stop(worker)
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_kill_holding_dequeued_push(
    federation: Federation, processes: NodeProcesses
) -> None:
    start_branch(federation)
    township = federation.nodes[TOWNSHIP]
    # A long interval keeps this worker's ticker quiet, so that it sits in
    # its blocking pop when it is frozen.
    frozen = processes.start_worker(VILLAGE, township.url, NODE_SYNC_INTERVAL="600")
    # The worker runs a sync round as it starts: let it finish every job.
    queue = get_context(VILLAGE).queue
    wait_for(
        lambda: queue.count == 0 and worker_idle(VILLAGE), "the worker to wait for jobs"
    )
    frozen.send_signal(signal.SIGSTOP)
    file_applications(federation.nodes[VILLAGE], 3)
    # Usually Redis hands the push to the frozen worker's blocking pop; when
    # the freeze caught the worker elsewhere the job stays queued, and the
    # new worker must push all the same.
    eventually(lambda: queue.count == 0, timeout=5)
    processes.kill(frozen)

    worker = processes.start_worker(VILLAGE, township.url)
    pushed = eventually(lambda: acked_seq(VILLAGE) == 3, timeout=10)
    processes.stop(worker)
    assert pushed, "the restarted worker did not push within 10 s"
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)
