"""Measure a village catching up through a deployed branch, hops overlapping.

The village 350623100207 starts with ``--events`` events in its outbox, as
after a long time offline. Every node of its branch runs its own web server
and worker process (see ``bench/deployed.py``), so the township relays to
the county while the village is still pushing. Each run reports:

- catch-up to the parent: seconds until the township has stored every event;
- catch-up to the hub: seconds until the city has stored every event, and the
  sustained three-hop rate, events divided by that time;
- the peak RSS of each node's web server and worker.

The clock starts when the village's worker has registered with Redis: the
worker's first sync round starts the push at once, so the few milliseconds
between the two are timed too. Starting the processes is not timed.

Run from the project root::

    .venv/bin/python bench/bench_catchup.py --events 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import redis
from bench_sync import build_outbox, clear_node_keys, positive_int, wire_events
from deployed import (
    BRANCH,
    CITY,
    TOWNSHIP,
    VILLAGE,
    NodeProcesses,
    load_average,
    node_context,
    shared_redis,
    start_server,
    start_worker,
    stop,
)
from rq import Queue, Worker

from common.context import queue_name
from common.keys import KEY_FILE
from sync.enroll import enroll_with_parent, issue_token

# Seconds between two looks at the databases; a figure can be late by this much.
POLL_INTERVAL = 0.02
# Seconds a run may take before the benchmark gives up on it.
RUN_TIMEOUT = 600


def held_seq(database: Path, origin: str) -> int:
    """Return the highest sequence of ``origin`` that a node's SQLite file holds.

    Nodes store an origin's events without gaps, so this counts them.
    """
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        query = "SELECT max(seq) FROM sync_event WHERE origin = ?"
        return db.execute(query, (origin,)).fetchone()[0] or 0


def start_branch(
    root: Path, outbox: Path, redis_url: str, batch_size: int, stack: ExitStack
) -> dict[str, NodeProcesses]:
    """Start and enroll the four nodes; start every worker but the village's."""
    village_dir = root / VILLAGE
    village_dir.mkdir(parents=True)
    shutil.copyfile(outbox, village_dir / "node.sqlite3")
    shutil.copyfile(outbox.parent / KEY_FILE, village_dir / KEY_FILE)
    nodes: dict[str, NodeProcesses] = {}
    parent_url = None
    for code in BRANCH:
        node = start_server(code, root / code, parent_url, redis_url, batch_size)
        stack.callback(stop, node)
        nodes[code] = node
        if code != CITY:
            enroll(root, code, parent_url)
        if code != VILLAGE:
            start_worker(node, parent_url, redis_url, batch_size)
        parent_url = node.url
    return nodes


def enroll(root: Path, code: str, parent_url: str | None) -> None:
    """Enroll a node's key with a token from the city, from this process."""
    city = node_context(CITY, root / CITY, None)
    with city.db.transaction() as session:
        token = issue_token(city, session, code)
    city.close()
    context = node_context(code, root / code, parent_url)
    enroll_with_parent(context, token)
    context.close()


def wait_for_worker(redis_url: str, code: str) -> float:
    """Return the ``perf_counter`` time at which node ``code``'s worker registered."""
    connection = redis.Redis.from_url(redis_url)
    queue = Queue(queue_name(code), connection=connection)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if Worker.count(connection=connection, queue=queue):
                return time.perf_counter()
            time.sleep(0.005)
    finally:
        connection.close()
    raise RuntimeError(f"the worker of node {code} did not start within 60 s")


def catch_up(
    root: Path, outbox: Path, redis_url: str, batch_size: int, last_seq: int
) -> dict[str, float]:
    """Run one catch-up and return its seconds and peak RSS figures."""
    clear_node_keys(redis_url)
    with ExitStack() as stack:
        nodes = start_branch(root, outbox, redis_url, batch_size, stack)
        village = nodes[VILLAGE]
        start_worker(village, nodes[TOWNSHIP].url, redis_url, batch_size)
        start = wait_for_worker(redis_url, VILLAGE)
        figures = {}
        deadline = time.monotonic() + RUN_TIMEOUT
        while "hub" not in figures:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the city held {held_seq(nodes[CITY].database, VILLAGE)} of "
                    f"{last_seq} events after {RUN_TIMEOUT} s"
                )
            now = time.perf_counter()
            if "parent" not in figures:
                if held_seq(nodes[TOWNSHIP].database, VILLAGE) >= last_seq:
                    figures["parent"] = now - start
            if held_seq(nodes[CITY].database, VILLAGE) >= last_seq:
                figures["hub"] = now - start
            time.sleep(POLL_INTERVAL)
    for code, node in nodes.items():
        for role, rss in node.peak_rss_mib.items():
            figures[f"rss {code} {role}"] = rss
    return figures


def outbox_last_seq(outbox: Path) -> int:
    return held_seq(outbox, VILLAGE)


def format_report(
    runs: list[dict[str, float]], args: argparse.Namespace, loads: list[str]
) -> str:
    events = args.events
    parent = [r["parent"] for r in runs]
    hub = [r["hub"] for r in runs]
    lines = [
        f"{events:,} events of about 1 KB in the village's outbox, batches of "
        f"{args.batch_size}, {len(runs)} runs, each node's web server and worker "
        "in its own process.",
        "",
        "| figure | median | each run |",
        "| --- | ---: | ---: |",
        f"| catch-up to the township, s | {statistics.median(parent):.2f} "
        f"| {' / '.join(f'{s:.2f}' for s in parent)} |",
        f"| catch-up to the city, s | {statistics.median(hub):.2f} "
        f"| {' / '.join(f'{s:.2f}' for s in hub)} |",
        f"| sustained three-hop rate, events/s | "
        f"{statistics.median(events / s for s in hub):,.0f} "
        f"| {' / '.join(f'{events / s:,.0f}' for s in hub)} |",
        "",
        "| process | peak RSS, MiB, max over runs |",
        "| --- | ---: |",
    ]
    for key in sorted(k for k in runs[0] if k.startswith("rss ")):
        peak = max(r.get(key, 0.0) for r in runs)
        lines.append(f"| {key.removeprefix('rss ')} | {peak:,.0f} |")
    lines += ["", f"Load average (1, 5, 15 min) before each run: {'; '.join(loads)}."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=positive_int,
        default=10000,
        help="events in the village's outbox (default 10000)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=500,
        help="NODE_BATCH_SIZE of every node, events per push (default 500)",
    )
    parser.add_argument(
        "--repeat", type=positive_int, default=3, help="runs (default 3)"
    )
    parser.add_argument(
        "--output", type=Path, help="also write the Markdown report to this file"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    runs, loads = [], []
    with tempfile.TemporaryDirectory(prefix="bench-catchup-") as directory:
        root = Path(directory)
        outbox = build_outbox(root / "outbox", wire_events(args.events))
        last_seq = outbox_last_seq(outbox)
        with shared_redis(root) as redis_url:
            for index in range(args.repeat):
                loads.append(load_average())
                run_root = Path(tempfile.mkdtemp(prefix=f"run{index}-", dir=root))
                runs.append(
                    catch_up(run_root, outbox, redis_url, args.batch_size, last_seq)
                )
                print(
                    f"run {index + 1} of {args.repeat}: to the township "
                    f"{runs[-1]['parent']:.2f} s, to the city {runs[-1]['hub']:.2f} s",
                    file=sys.stderr,
                )
    report = format_report(runs, args, loads)
    print(report, end="")
    if args.output:
        args.output.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
