"""Measure how long a proxy application filed at a village takes to reach the hub.

The branch city 350600, county 350623, township 350623100 and village
350623100207 runs as deployed: each node has its own web server and worker
process (see ``bench/deployed.py``). The city publishes the starter catalog
and the nodes start top-down, each once its parent has the catalog.

Then a village agent files ``--applications`` proxy applications for the
matter ZZ-MZ-001, one at a time with ``--pause`` seconds between them, so
that each one travels up an idle branch. An application's latency runs from
just before its POST is sent until the city's database stores its
``application.filed`` event; the city's database is polled every
``POLL_INTERVAL`` seconds, so each figure can be late by that much.

Run from the project root::

    .venv/bin/python bench/bench_latency.py --applications 50
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests
from bench_sync import clear_node_keys, positive_int
from deployed import (
    BRANCH,
    CITY,
    VILLAGE,
    NodeProcesses,
    load_average,
    node_context,
    shared_redis,
    start_server,
    start_worker,
    stop,
)

from common.models import Role
from hub.catalog import STARTER, load_catalog, publish
from node.auth import create_user, issue_api_token
from sync.enroll import enroll_with_parent, issue_token

MATTER = "ZZ-MZ-001"
# A resident ID number with a correct check digit (GB 11643).
ID_NUMBER = "11010519491231002X"
POLL_INTERVAL = 0.005
# Seconds one application may take to reach the city before the run fails.
LATENCY_TIMEOUT = 60
# Seconds a node may take to receive the catalog from its parent.
CATALOG_TIMEOUT = 120


def has_catalog(database: Path) -> bool:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("SELECT count(*) FROM catalog_release").fetchone()[0] > 0


def holds_application(database: Path, case_id: str) -> bool:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        query = (
            "SELECT 1 FROM sync_event WHERE case_id = ? AND kind = 'application.filed'"
        )
        return db.execute(query, (case_id,)).fetchone() is not None


def wait_for_catalog(node: NodeProcesses) -> None:
    deadline = time.monotonic() + CATALOG_TIMEOUT
    while not has_catalog(node.database):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"node {node.code} has no catalog release after {CATALOG_TIMEOUT} s"
            )
        time.sleep(0.1)


def start_branch(
    root: Path, redis_url: str, stack: ExitStack
) -> dict[str, NodeProcesses]:
    """Start the four nodes top-down, each once its parent has the catalog."""
    nodes: dict[str, NodeProcesses] = {}
    parent_url = None
    for code in BRANCH:
        node = start_server(code, root / code, parent_url, redis_url, 500)
        stack.callback(stop, node)
        nodes[code] = node
        if code == CITY:
            publish_starter_catalog(root)
        else:
            enroll(root, code, parent_url)
        # A starting worker runs a sync round at once, which pulls the catalog.
        start_worker(node, parent_url, redis_url, 500)
        wait_for_catalog(node)
        parent_url = node.url
    return nodes


def publish_starter_catalog(root: Path) -> None:
    city = node_context(CITY, root / CITY, None)
    with city.db.transaction() as session:
        publish(city, session, load_catalog(city.divisions))
    city.close()


def enroll(root: Path, code: str, parent_url: str | None) -> None:
    """Enroll a node's key with a token from the city, from this process."""
    city = node_context(CITY, root / CITY, None)
    with city.db.transaction() as session:
        token = issue_token(city, session, code)
    city.close()
    context = node_context(code, root / code, parent_url)
    enroll_with_parent(context, token)
    context.close()


def agent_token(root: Path) -> str:
    """Add a village agent to the village and return an API token for them."""
    village = node_context(VILLAGE, root / VILLAGE, None)
    with village.db.transaction() as session:
        user = create_user(
            session, "agent", "bench-password-1", [Role.VILLAGE_AGENT.value]
        )
        token = issue_api_token(session, user)
    village.close()
    return token


def required_materials() -> list[str]:
    matters = json.loads(STARTER.read_text(encoding="utf-8"))
    matter = next(m for m in matters if m["code"] == MATTER)
    return [m["name"] for m in matter["materials"] if m["required"]]


def file_and_wait(
    http: requests.Session, village: NodeProcesses, city: NodeProcesses, body: dict
) -> tuple[float, float]:
    """File one application; return seconds until the city stores it, and the POST's."""
    start = time.perf_counter()
    response = http.post(village.url + "/api/applications", json=body, timeout=30)
    posted = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(
            f"filing at the village failed with HTTP {response.status_code}: "
            f"{response.text[:500]}"
        )
    case_id = response.json()["id"]
    deadline = start + LATENCY_TIMEOUT
    while not holds_application(city.database, case_id):
        if time.perf_counter() > deadline:
            raise RuntimeError(
                f"the city did not hold application {case_id} after {LATENCY_TIMEOUT} s"
            )
        time.sleep(POLL_INTERVAL)
    return time.perf_counter() - start, posted


def nearest_rank(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile ``share`` (0 to 1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(root: Path, redis_url: str, args: argparse.Namespace) -> dict[str, object]:
    clear_node_keys(redis_url)
    with ExitStack() as stack:
        nodes = start_branch(root, redis_url, stack)
        token = agent_token(root)
        body = {
            "matter_code": MATTER,
            "applicant": {
                "name": "张三",
                "id_number": ID_NUMBER,
                "phone": "13800000000",
            },
            "materials": required_materials(),
        }
        latencies, posts = [], []
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {token}"
            for _ in range(args.applications):
                time.sleep(args.pause)
                latency, posted = file_and_wait(http, nodes[VILLAGE], nodes[CITY], body)
                latencies.append(latency)
                posts.append(posted)
    rss = {
        f"{code} {role}": value
        for code, node in nodes.items()
        for role, value in node.peak_rss_mib.items()
    }
    return {"latencies": latencies, "posts": posts, "rss": rss}


def format_report(result: dict, args: argparse.Namespace, load: str) -> str:
    latencies = [s * 1000 for s in result["latencies"]]
    posts = [s * 1000 for s in result["posts"]]
    lines = [
        f"{args.applications} proxy applications filed at the village one at a "
        f"time, {args.pause} s apart; each node's web server and worker in its "
        "own process.",
        "",
        "| figure, ms | median | p95 | max |",
        "| --- | ---: | ---: | ---: |",
        f"| village to city: POST sent until the city holds the event "
        f"| {statistics.median(latencies):.0f} | {nearest_rank(latencies, 0.95):.0f} "
        f"| {max(latencies):.0f} |",
        f"| of which the POST at the village | {statistics.median(posts):.0f} "
        f"| {nearest_rank(posts, 0.95):.0f} | {max(posts):.0f} |",
        "",
        "| process | peak RSS, MiB |",
        "| --- | ---: |",
    ]
    for key, value in sorted(result["rss"].items()):
        lines.append(f"| {key} | {value:,.0f} |")
    lines += ["", f"Load average (1, 5, 15 min) when filing started: {load}."]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--applications",
        type=positive_int,
        default=50,
        help="applications to file (default 50)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="seconds to wait before filing each application (default 0.5)",
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
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as directory:
        root = Path(directory)
        with shared_redis(root) as redis_url:
            load = load_average()
            result = measure(root, redis_url, args)
    report = format_report(result, args, load)
    print(report, end="")
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    print(f"done at load average {load_average()}", file=sys.stderr)


if __name__ == "__main__":
    main()
