"""The township's web process killed with SIGKILL in the middle of an apply.

The township runs as ``python -m node serve``. This process opens the
township's database too, as its worker would, to run its push job and to
watch its write lock. The kill lands while the township has that lock,
which an upward batch's apply takes for most of its request.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from common.config import NodeConfig
from common.context import NodeContext, register
from sync.jobs import push_up
from sync.transport import ParentUnreachable
from tests.faults.harness import (
    BRANCH,
    CITY,
    COUNTY,
    TOWNSHIP,
    VILLAGE,
    WAIT,
    NodeProcesses,
    enroll,
    file_applications,
    free_port,
    push_until_settled,
    start_village,
    unacknowledged,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation


def is_locked(probe: sqlite3.Connection) -> bool:
    """Tell whether another connection holds the database's write lock."""
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    probe.execute("ROLLBACK")
    return False


def kill_inside_transaction(
    process: subprocess.Popen[bytes], database: Path, busy: threading.Thread
) -> bool:
    """SIGKILL ``process`` while it holds ``database``'s write lock, as long as ``busy`` runs.

    The process is frozen first and killed only if it still holds the
    lock; returns whether the kill happened.
    """
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        while busy.is_alive():
            if is_locked(probe):
                process.send_signal(signal.SIGSTOP)
                if is_locked(probe):
                    process.kill()
                    process.wait(WAIT)
                    return True
                process.send_signal(signal.SIGCONT)
            time.sleep(0.001)
        return False
    finally:
        probe.close()


def test_parent_killed_during_apply(
    federation: Federation,
    processes: NodeProcesses,
    outside_nodes: list[NodeContext],
    redis_url: str,
) -> None:
    for code in (CITY, COUNTY):
        federation.start(code)
    county_url = federation.nodes[COUNTY].url
    config = NodeConfig(
        code=TOWNSHIP,
        data_dir=federation.root / TOWNSHIP,
        parent_url=county_url,
        redis_url=redis_url,
    )
    township = register(NodeContext(config.validate()))
    outside_nodes.append(township)
    township.migrate()
    enroll(federation, township)
    port = free_port()
    web = processes.start_web(TOWNSHIP, port, county_url)
    # Batches of 50 give the kill several applies to land in.
    start_village(federation, parent_url=f"http://127.0.0.1:{port}", batch_size=50)

    database = Path(township.db.engine.url.database or "")
    failures: list[Exception] = []
    killed = False
    for _ in range(3):
        file_applications(federation.nodes[VILLAGE], 150)
        pusher = threading.Thread(target=push_recording, args=(failures,))
        pusher.start()
        killed = kill_inside_transaction(web, database, pusher)
        pusher.join(WAIT)
        if killed:
            break
    assert killed, "the township was never caught holding its write lock"
    assert unacknowledged(VILLAGE) > 0, "the kill cut the stream short"
    unexpected = [f for f in failures if not isinstance(f, ParentUnreachable)]
    assert not unexpected, "the push failed other than by losing the township"

    processes.start_web(TOWNSHIP, port, county_url)
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def push_recording(failures: list[Exception]) -> None:
    """Run the village's push and keep the exception it raises, if any."""
    try:
        push_up(VILLAGE)
    except Exception as exc:
        failures.append(exc)
