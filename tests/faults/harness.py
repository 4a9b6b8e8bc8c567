"""Tools that break a running federation: subprocesses, a link proxy, gates.

Nodes run in the test process (``tests.federation``) unless a test must
kill one. A node that is killed runs its web server or worker as
``python -m node``, with the environment a deployment would give it and
the same data folder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import requests
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from common.context import NodeContext, get_context
from common.models import Event, OriginState
from sync.enroll import enroll_with_parent, issue_token
from sync.jobs import pull_catalog, push_up
from sync.push import unacked_count
from tests.conftest import application
from tests.federation import Federation, RunningNode

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"
BRANCH = (CITY, COUNTY, TOWNSHIP, VILLAGE)
# One matter handled at each of the township, the county and the city, so
# that applications filed at the village end at three different nodes.
MATTERS = ("ZZ-WJ-001", "ZZ-MZ-001", "ZZ-RS-001")
# Seconds any single wait of a fault test may take before it fails.
WAIT = 30.0
ROOT = Path(__file__).resolve().parents[2]


def wait_for(
    condition: Callable[[], Any], description: str, timeout: float = WAIT
) -> Any:
    """Poll ``condition`` until it returns a true value; raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {description}")


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


# --- the federation ----------------------------------------------------------


def start_branch(federation: Federation, **village_settings: Any) -> None:
    """Start city, county, township and village in this process, all on release 1."""
    for code in (CITY, COUNTY, TOWNSHIP):
        federation.start(code)
    start_village(federation, **village_settings)


def start_village(federation: Federation, **settings: Any) -> None:
    """Start the village below running parents, publish release 1 and pull it down."""
    federation.start(VILLAGE, **settings)
    federation.publish_catalog()
    for code in (COUNTY, TOWNSHIP, VILLAGE):
        pull_catalog(code)


def enroll(federation: Federation, context: NodeContext) -> None:
    """Enroll the key of a node that runs outside the federation, with a city token."""
    city = federation.nodes[CITY].context
    with city.db.transaction() as session:
        token = issue_token(city, session, context.code)
    enroll_with_parent(context, token)


def file_applications(
    node: RunningNode, count: int, matters: tuple[str, ...] = MATTERS
) -> list[str]:
    """File ``count`` applications at ``node``, cycling through ``matters``; return their ids."""
    ids = []
    for index in range(count):
        body = application(matters[index % len(matters)])
        response = node.post("/api/applications", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def unacknowledged(code: str) -> int:
    """Count the events of ``code``'s subtree that its parent has not acknowledged."""
    context = get_context(code)
    with context.db.transaction() as session:
        return unacked_count(context, session)


def acked_seq(code: str) -> int:
    with get_context(code).db.transaction() as session:
        state = session.get(OriginState, code)
        return state.acked_seq if state else 0


def events_held(code: str, origin: str) -> int:
    """Count the events of ``origin`` stored at node ``code``."""
    with get_context(code).db.transaction() as session:
        query = select(func.count()).select_from(Event).where(Event.origin == origin)
        return session.scalar(query) or 0


def settled(codes: Iterable[str]) -> bool:
    """Tell whether every node below the city has its whole subtree acknowledged."""
    return all(unacknowledged(code) == 0 for code in codes if code != CITY)


def push_until_settled(codes: Iterable[str], timeout: float = WAIT) -> None:
    """Run push jobs in this process, lowest tier first, until nothing is unacknowledged."""
    senders = sorted((c for c in codes if c != CITY), key=len, reverse=True)

    def push_all() -> bool:
        for code in senders:
            push_up(code)
        return settled(senders)

    wait_for(push_all, "every event to be acknowledged up to the city", timeout)


# --- subprocesses ------------------------------------------------------------


class NodeProcesses:
    """Web servers and workers of nodes run as ``python -m node`` subprocesses."""

    def __init__(self, root: Path, redis_url: str) -> None:
        self.root = root
        self.redis_url = redis_url
        self.running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
        self.logs: dict[int, Path] = {}

    def environment(
        self, code: str, parent_url: str | None, **settings: str
    ) -> dict[str, str]:
        """Return the environment of node ``code``, sharing its data folder with this process."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("NODE_") and name != "DATABASE_URL"
        }
        env.update(
            NODE_CODE=code,
            NODE_DATA_DIR=str(self.root / code),
            REDIS_URL=self.redis_url,
            NODE_PARENT_URL=parent_url or "",
            NODE_SYNC_INTERVAL="0.5",
        )
        env.update(settings)
        return env

    def start_worker(
        self, code: str, parent_url: str | None, **settings: str
    ) -> subprocess.Popen[bytes]:
        """Start the node's RQ worker, which also schedules a sync round every 0.5 s."""
        return self._spawn(
            code, ["worker"], self.environment(code, parent_url, **settings)
        )

    def start_web(
        self, code: str, port: int, parent_url: str | None
    ) -> subprocess.Popen[bytes]:
        """Start the node's web server on ``port`` and wait until it responds."""
        process = self._spawn(
            code, ["serve", "--port", str(port)], self.environment(code, parent_url)
        )
        url = f"http://127.0.0.1:{port}/api/catalog"
        wait_for(lambda: self._serving(process, url), f"node {code} to serve")
        return process

    def _serving(self, process: subprocess.Popen[bytes], url: str) -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"web server exited: {self.log_tail(process)}")
        try:
            return requests.get(url, timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def _spawn(
        self, code: str, command: list[str], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        folder = self.root / code
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{command[0]}-{len(self.running)}.log"
        log = open(path, "ab")
        # A session of its own: the worker forks RQ's scheduler, which must
        # go down with it.
        process = subprocess.Popen(
            [sys.executable, "-m", "node", "--log-level", "info", *command],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((process, log))
        self.logs[process.pid] = path
        return process

    def log_tail(self, process: subprocess.Popen[bytes], size: int = 3000) -> str:
        return self.logs[process.pid].read_text(errors="replace")[-size:]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """Send SIGKILL to the process and its children; wait until it is gone."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=WAIT)

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Ask the process to stop with SIGTERM; SIGKILL what is left after 10 s."""
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill(process)

    def stop_all(self) -> None:
        for process, log in self.running:
            self.stop(process)
            log.close()
        self.running.clear()


# --- a link that can be cut --------------------------------------------------


class LinkProxy:
    """A TCP forwarder on loopback to ``target_port`` whose link can be cut.

    A cut closes the listening socket and every open connection, so a
    client gets "connection refused" until ``restore`` listens again on
    the same port.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.listening = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accepter: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self.listening.set()
        self._accepter = threading.Thread(
            target=self._accept, args=(listener,), daemon=True
        )
        self._accepter.start()

    def cut(self) -> None:
        self.listening.clear()
        if self._accepter is not None:
            self._accepter.join(timeout=WAIT)
            self._accepter = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for connection in sockets:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self.listening.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port))
                except OSError:
                    client.close()
                    continue
                with self._lock:
                    self._sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(
                        target=self._pump, args=(source, sink), daemon=True
                    ).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


# --- gates inside a parent ---------------------------------------------------


def is_batch(environ: dict[str, Any]) -> bool:
    return (
        environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/sync/events"
    )


class DelayedAck:
    """WSGI middleware that delays the response to the first upward batch.

    The parent applies and commits the batch, sets ``applied``, and sends
    the acknowledgement only once ``release`` is set.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.applied = threading.Event()
        self.release = threading.Event()
        self._armed = True
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        with self._lock:
            delay = self._armed and is_batch(environ)
            self._armed = self._armed and not delay
        if not delay:
            return self.app(environ, start_response)

        status_and_headers: list[Any] = []

        def keep(status: str, headers: list, exc_info: Any = None) -> Callable:
            status_and_headers[:] = [status, headers]
            return lambda data: None

        chunks = self.app(environ, keep)
        body = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
        self.applied.set()
        self.release.wait(WAIT)
        start_response(*status_and_headers)
        return [body]


class BatchBarrier:
    """WSGI middleware that lets the first ``parties`` upward batches in together."""

    def __init__(self, app: Callable[..., Any], parties: int = 2) -> None:
        self.app = app
        self.barrier = threading.Barrier(parties, timeout=WAIT)
        self.met = threading.Event()
        self._waiting = parties
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        with self._lock:
            wait = self._waiting > 0 and is_batch(environ)
            if wait:
                self._waiting -= 1
        if wait:
            try:
                self.barrier.wait()
                self.met.set()
            except threading.BrokenBarrierError:
                pass
        return self.app(environ, start_response)


class PauseInApply:
    """Pause the first insert of events into ``engine`` until ``release`` is set.

    The insert runs inside the parent's apply transaction, after it has
    locked the origin's row, so the pause lands in the middle of an apply.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.paused = threading.Event()
        self.release = threading.Event()
        self._armed = True
        self._lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", self._pause)

    def _pause(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The listener stays on the engine once disarmed: removing it while
        # another thread runs the engine's listeners breaks that thread.
        with self._lock:
            pause = self._armed and statement.startswith("INSERT INTO sync_event")
            self._armed = self._armed and not pause
        if pause:
            self.paused.set()
            self.release.wait(WAIT)
