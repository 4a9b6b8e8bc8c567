"""A county down and a village cut off while the village files 300 applications."""

from __future__ import annotations

import pytest

from sync.jobs import push_up
from sync.manifests import SEGMENT
from sync.transport import ParentUnreachable
from tests.faults.harness import (
    BRANCH,
    CITY,
    COUNTY,
    TOWNSHIP,
    VILLAGE,
    LinkProxy,
    acked_seq,
    file_applications,
    push_until_settled,
    start_village,
    unacknowledged,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation


def test_offline_village_catches_up(
    federation: Federation, links: list[LinkProxy]
) -> None:
    for code in (CITY, COUNTY, TOWNSHIP):
        federation.start(code)
    link = LinkProxy(federation.nodes[TOWNSHIP].server.server_port)
    links.append(link)
    link.restore()
    # Batches of 64 carry the 300 events in five batches, each of the first
    # four ending in the middle of the village's run.
    start_village(federation, parent_url=link.url, batch_size=64)

    federation.stop_node(COUNTY)
    link.cut()
    file_applications(federation.nodes[VILLAGE], 300)
    # A manifest event follows each segment of the village's events.
    held = 300 + 300 // SEGMENT
    with pytest.raises(ParentUnreachable):
        push_up(VILLAGE)
    assert unacknowledged(VILLAGE) == held

    link.restore()
    push_up(VILLAGE)
    assert acked_seq(VILLAGE) == held
    with pytest.raises(ParentUnreachable):
        push_up(TOWNSHIP)

    federation.restart_node(COUNTY)
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)
