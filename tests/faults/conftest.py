"""Fixtures of the fault tests: node subprocesses, stopped even when a test fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.context import NodeContext, unregister
from tests.faults.harness import LinkProxy, NodeProcesses
from tests.federation import Federation


@pytest.fixture
def processes(
    federation: Federation, tmp_path: Path, redis_url: str
) -> Iterator[NodeProcesses]:
    """Subprocesses of nodes; stopped before the in-process federation stops."""
    running = NodeProcesses(tmp_path, redis_url)
    yield running
    running.stop_all()


@pytest.fixture
def links() -> Iterator[list[LinkProxy]]:
    """Link proxies that a test opens; every one is cut at teardown."""
    proxies: list[LinkProxy] = []
    yield proxies
    for proxy in proxies:
        proxy.cut()


@pytest.fixture
def outside_nodes() -> Iterator[list[NodeContext]]:
    """Contexts of nodes whose web server runs in a subprocess, closed at teardown.

    Registering one lets this process run the node's jobs and read its
    database, as a second worker of the node would.
    """
    contexts: list[NodeContext] = []
    yield contexts
    for context in contexts:
        unregister(context.code)
        context.close()
