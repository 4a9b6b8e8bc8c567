"""An upgrade with schema migrations keeps every sync cursor.

Each node of a branch is stopped, its database is taken back to the schema
of an older release with Alembic's downgrade, and the node is started
again, which upgrades it to the newest schema before it serves. The cursors
are the same afterwards, and sync goes on from them without resending or
skipping anything.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from common.context import get_context
from common.migrate import alembic_config
from common.models import FeedCursor, OriginState
from tests.faults.harness import (
    BRANCH,
    VILLAGE,
    file_applications,
    push_until_settled,
    start_branch,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation

# The schema before quarantine, evaluations and every later table, so that
# the upgrade runs most of the migrations.
OLD_REVISION = "0005"
BELOW_CITY = BRANCH[1:]


def cursors(code: str) -> dict[str, Any]:
    """Return the sync positions that node ``code`` keeps, by origin."""
    with get_context(code).db.transaction() as session:
        origins = {
            row.origin: (row.held_seq, row.acked_seq)
            for row in session.scalars(select(OriginState))
        }
        feed = {row.origin: row.seq for row in session.scalars(select(FeedCursor))}
    return {"origins": origins, "feed": feed}


def downgrade(federation: Federation, code: str) -> None:
    """Stop the node and take its database back to ``OLD_REVISION``."""
    url = federation.nodes[code].context.db.url
    federation.stop_node(code)
    command.downgrade(alembic_config(url), OLD_REVISION)


@pytest.fixture
def upgraded(federation: Federation) -> dict[str, dict[str, Any]]:
    """Run the branch, downgrade and restart every node below the city.

    Returns each node's cursors as they were before the downgrade.
    """
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 6)
    push_until_settled(BRANCH)
    federation.sync()
    before = {code: cursors(code) for code in BELOW_CITY}
    for code in reversed(BELOW_CITY):
        downgrade(federation, code)
    for code in BELOW_CITY:
        federation.restart_node(code)
    return before


@pytest.mark.parametrize("code", BELOW_CITY)
def test_origin_cursors_kept(upgraded: dict[str, Any], code: str) -> None:
    assert cursors(code)["origins"] == upgraded[code]["origins"]


@pytest.mark.parametrize("code", BELOW_CITY)
def test_feed_cursors_kept(upgraded: dict[str, Any], code: str) -> None:
    assert cursors(code)["feed"] == upgraded[code]["feed"]


def test_sync_resumes_after_upgrade(
    federation: Federation, upgraded: dict[str, Any]
) -> None:
    file_applications(federation.nodes[VILLAGE], 3)
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)
