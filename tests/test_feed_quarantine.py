"""Quarantine on the downward feed: one event that cannot apply does not stop the rest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.errors import Conflict
from common.models import Event, FeedCursor, NodeSetting, QuarantinedEvent
from sync.dispatch import Transient, off, on
from sync.outbox import emit
from tests.federation import Federation, RunningNode

CITY = "350600"
COUNTY = "350623"
# A kind that only these tests emit, so that its handler fails on purpose.
PROBE = "test.feed_probe"


class Probe:
    """A handler of ``PROBE`` events at the county that rejects chosen cases."""

    def __init__(self) -> None:
        self.rejected: set[str] = set()
        self.unready: set[str] = set()

    def __call__(
        self, context: NodeContext, session: Session, event: dict[str, Any]
    ) -> None:
        if context.code != COUNTY:
            return
        case_id = event["case_id"]
        if case_id in self.rejected:
            raise Conflict(f"probe rejects case {case_id}")
        if case_id in self.unready:
            raise Transient(f"probe waits for case {case_id}")
        session.add(NodeSetting(key=f"feed-probe.{case_id}", value=event["seq"]))


@pytest.fixture
def probe() -> Iterator[Probe]:
    handler = Probe()
    on(PROBE)(handler)
    yield handler
    off(PROBE, handler)


@pytest.fixture
def county(federation: Federation) -> RunningNode:
    federation.start(CITY)
    federation.publish_catalog()
    node = federation.start(COUNTY)
    federation.sync()
    return node


def send_down(federation: Federation, *cases: str) -> None:
    """Emit one probe event per case at the city, addressed to the county."""
    city = federation.nodes[CITY].context
    with city.db.transaction() as session:
        for case_id in cases:
            emit(
                city,
                session,
                PROBE,
                {"case_id": case_id},
                case_id=case_id,
                destination=COUNTY,
            )


def applied(county: RunningNode, case_id: str) -> bool:
    with county.context.db.transaction() as session:
        return session.get(NodeSetting, f"feed-probe.{case_id}") is not None


def holds(county: RunningNode) -> list[tuple[str, bool, bool]]:
    """Return (case, transient, resolved) of each quarantined event at the county."""
    with county.context.db.transaction() as session:
        rows = session.scalars(select(QuarantinedEvent).order_by(QuarantinedEvent.seq))
        return [(r.case_id, r.transient, r.resolved_at is not None) for r in rows]


def feed_cursor(county: RunningNode) -> int:
    with county.context.db.transaction() as session:
        cursor = session.get(FeedCursor, CITY)
        return cursor.seq if cursor else 0


def city_seq(federation: Federation) -> int:
    """Return the sequence of the city's newest event."""
    query = select(func.max(Event.seq)).where(Event.origin == CITY)
    with federation.nodes[CITY].context.db.transaction() as session:
        return session.scalar(query) or 0


def test_later_case_applied(
    federation: Federation, county: RunningNode, probe: Probe
) -> None:
    probe.rejected.add("case-a")
    send_down(federation, "case-a", "case-b")
    federation.sync()
    assert applied(county, "case-b")


def test_failed_event_quarantined(
    federation: Federation, county: RunningNode, probe: Probe
) -> None:
    probe.rejected.add("case-a")
    send_down(federation, "case-a", "case-b")
    federation.sync()
    assert holds(county) == [("case-a", False, False)]


def test_feed_cursor_moves_past(
    federation: Federation, county: RunningNode, probe: Probe
) -> None:
    probe.rejected.add("case-a")
    send_down(federation, "case-a", "case-b")
    federation.sync()
    assert feed_cursor(county) == city_seq(federation)


def test_same_case_waits(
    federation: Federation, county: RunningNode, probe: Probe
) -> None:
    probe.rejected.add("case-a")
    send_down(federation, "case-a", "case-a")
    federation.sync()
    assert holds(county) == [("case-a", False, False), ("case-a", False, False)]


def test_transient_retried(
    federation: Federation, county: RunningNode, probe: Probe
) -> None:
    probe.unready.add("case-a")
    send_down(federation, "case-a")
    federation.sync()
    probe.unready.clear()
    federation.sync()
    assert applied(county, "case-a")


def test_admin_replay_applies(
    federation: Federation, county: RunningNode, probe: Probe
) -> None:
    probe.rejected.add("case-a")
    send_down(federation, "case-a")
    federation.sync()
    probe.rejected.clear()
    row_id = county.get("/api/sync/quarantine").json()[0]["id"]
    response = county.post(f"/api/sync/quarantine/{row_id}/replay", json={})
    assert response.status_code == 200, response.text
    assert applied(county, "case-a")
