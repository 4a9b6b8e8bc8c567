"""End to end: ``make demo ARGS="--once --summary FILE"`` on the real data."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODES = {"350600", "350623", "350623100", "350623100207", "350623100208"}


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("demo")
    target = folder / "summary.json"
    args = f"--once --summary {target} --data-dir {folder / 'data'}"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    completed = subprocess.run(
        ["make", "--no-print-directory", "demo", f"ARGS={args}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, (
        completed.stdout[-3000:] + completed.stderr[-3000:]
    )
    return json.loads(target.read_text(encoding="utf-8"))


def test_demo_files_twenty_cases(summary: dict) -> None:
    assert len(summary["cases"]) >= 20


def test_demo_cases_handled_at_three_tiers(summary: dict) -> None:
    handlers = {case["handled_at"] for case in summary["cases"]}
    assert {"350600", "350623", "350623100"} <= handlers


def test_demo_hub_holds_each_case_once(summary: dict) -> None:
    copies = Counter(case["at_hub"] for case in summary["cases"])
    assert copies == {1: len(summary["cases"])}


def test_demo_status_equal_at_origin_and_handler(summary: dict) -> None:
    differing = [
        case["id"]
        for case in summary["cases"]
        if case["status_at_origin"] != case["status_at_handler"]
    ]
    assert differing == []


def test_demo_cases_completed(summary: dict) -> None:
    statuses = {case["status_at_handler"] for case in summary["cases"]}
    assert statuses == {"completed"}


def test_demo_same_release_everywhere(summary: dict) -> None:
    assert summary["catalog"] == dict.fromkeys(NODES, 1)


def test_demo_delegated_matter_at_county(summary: dict) -> None:
    handlers = {
        c["handled_at"] for c in summary["cases"] if c["matter_code"] == "000164213003"
    }
    assert handlers == {"350623"}


@pytest.mark.parametrize(
    "count", ["supplement_notices", "yellow", "red", "accountability_records"]
)
def test_demo_shows_supervision(summary: dict, count: str) -> None:
    assert summary["supervision"][count] >= 1


def test_demo_shows_joint_cases(summary: dict) -> None:
    assert summary["supervision"]["joint_cases"] >= 1


@pytest.mark.parametrize(
    "count",
    ["evaluations", "bad_reviews", "follow_ups", "staffing_gaps", "hotline_tickets"],
)
def test_demo_shows_public_service(summary: dict, count: str) -> None:
    assert summary["hub"][count] >= 1


def test_demo_hotline_has_every_kind(summary: dict) -> None:
    assert summary["hub"]["hotline_tickets"] == 4


def test_demo_reconciliation_has_no_difference(summary: dict) -> None:
    assert summary["hub"]["reconciliation_differences"] == 0


def test_demo_compares_snapshots(summary: dict) -> None:
    assert summary["hub"]["snapshots"] >= 1
