"""Compare each node's daily snapshot with the hub's own count from the events it holds.

The monthly rollups cannot give a day's figures, so the hub counts from
``hub_case`` (received, accepted, completed by their timestamps) and from the
stored events of the node (rejections and supplement notices by the China
date of their creation). A figure that differs is kept in
``hub_reconciliation`` until a recomputation finds it equal again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from common.clock import utcnow
from common.context import NodeContext
from common.errors import InvalidInput
from hub.models import HubCase
from hub.snapshot_models import HubReconciliation, HubSnapshot
from node.snapshots import FIGURES, SNAPSHOT_KIND, count_events, within
from sync.dispatch import on

logger = logging.getLogger(__name__)

FIGURE_LABELS = {
    "received": "收件",
    "accepted": "受理",
    "completed": "办结",
    "rejected": "不予受理",
    "supplement_notices": "补正告知",
}


@dataclass(frozen=True)
class ReconciliationFilter:
    """Selection of snapshots by day and node. A field left as None selects every value."""

    day: dt.date | None = None
    node: str | None = None


@dataclass(frozen=True)
class ReconciliationReport:
    """Differences of the selected snapshots, and how many snapshots were compared."""

    filter: ReconciliationFilter
    snapshots: int
    differences: list[HubReconciliation]


def _count_cases(session: Session, node: str, column: Any, day: dt.date) -> int:
    query = select(func.count()).where(
        HubCase.handler_code == node, within(column, day)
    )
    return session.scalar(query) or 0


def hub_counts(session: Session, node: str, day: dt.date) -> dict[str, int]:
    """Count, from what the hub holds, the figures of ``node`` as handling node on ``day``."""
    return {
        "received": _count_cases(session, node, HubCase.received_at, day),
        "accepted": _count_cases(session, node, HubCase.accepted_at, day),
        "completed": _count_cases(session, node, HubCase.completed_at, day),
        # ``hub_case`` keeps no time of a rejection, so both counts come from
        # the node's events, as the node counts them too.
        "rejected": count_events(session, node, "case.rejected", day),
        "supplement_notices": count_events(
            session, node, "case.supplement_notice", day
        ),
    }


def reconcile(session: Session, snapshot: HubSnapshot) -> list[HubReconciliation]:
    """Replace the stored differences of one snapshot with a fresh comparison and return them.

    A figure that the snapshot lacks counts as 0 on the node's side.
    """
    session.execute(
        delete(HubReconciliation).where(
            HubReconciliation.node == snapshot.node,
            HubReconciliation.day == snapshot.day,
        )
    )
    ours = hub_counts(session, snapshot.node, snapshot.day)
    differences = []
    for figure in FIGURES:
        theirs = int(snapshot.counts.get(figure, 0))
        if theirs != ours[figure]:
            differences.append(
                HubReconciliation(
                    node=snapshot.node,
                    day=snapshot.day,
                    figure=figure,
                    node_count=theirs,
                    hub_count=ours[figure],
                )
            )
    session.add_all(differences)
    snapshot.reconciled_at = utcnow()
    if differences:
        logger.warning(
            "Reconciliation: node %s on %s differs on %s",
            snapshot.node,
            snapshot.day,
            ", ".join(d.figure for d in differences),
        )
    return differences


@on(SNAPSHOT_KIND)
def snapshot_received(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    """Store a node's snapshot in place of any earlier one of its day, and compare it.

    The signed origin names the node. A payload that names another node is
    logged and ignored, because one node cannot report for another.
    """
    if not context.is_hub:
        return
    payload = event["payload"]
    node = event["origin"]
    if payload["node"] != node:
        logger.warning(
            "Reconciliation: snapshot #%d of node %s ignored, because it names node %s",
            event["seq"],
            node,
            payload["node"],
        )
        return
    day = dt.date.fromisoformat(payload["day"])
    snapshot = session.get(HubSnapshot, (node, day))
    if snapshot is None:
        snapshot = HubSnapshot(node=node, day=day)
        session.add(snapshot)
    snapshot.counts = dict(payload["counts"])
    snapshot.sent_at = event["created_at"]
    snapshot.received_at = snapshot.reconciled_at = utcnow()
    session.flush()
    reconcile(session, snapshot)


# --- reading and recomputing -------------------------------------------------


def check_filter(context: NodeContext, selection: ReconciliationFilter) -> None:
    """Raise ``InvalidInput`` naming the field when the node is no division of the city."""
    if selection.node is not None and selection.node not in context.divisions:
        message = (
            f"node {selection.node} not found in the city: give the code of "
            "the city, a county or a township"
        )
        raise InvalidInput(message, {"fields": {"node": [message]}})


def _snapshots(session: Session, selection: ReconciliationFilter) -> list[HubSnapshot]:
    query = select(HubSnapshot).order_by(HubSnapshot.day.desc(), HubSnapshot.node)
    if selection.day is not None:
        query = query.where(HubSnapshot.day == selection.day)
    if selection.node is not None:
        query = query.where(HubSnapshot.node == selection.node)
    return list(session.scalars(query))


def recompute(
    context: NodeContext, session: Session, selection: ReconciliationFilter
) -> int:
    """Compare every selected snapshot again with the hub's counts and return how many.

    Used once missing events have arrived or were replayed, so that the
    differences they caused disappear.
    """
    check_filter(context, selection)
    snapshots = _snapshots(session, selection)
    for snapshot in snapshots:
        reconcile(session, snapshot)
    logger.info(
        "Reconciliation: %d snapshots compared again (day %s, node %s)",
        len(snapshots),
        selection.day,
        selection.node,
    )
    return len(snapshots)


def reconciliation_report(
    context: NodeContext, session: Session, selection: ReconciliationFilter
) -> ReconciliationReport:
    """Return the stored differences of the selected snapshots, latest day first."""
    check_filter(context, selection)
    query = select(func.count()).select_from(HubSnapshot)
    differences = select(HubReconciliation).order_by(
        HubReconciliation.day.desc(), HubReconciliation.node, HubReconciliation.figure
    )
    if selection.day is not None:
        query = query.where(HubSnapshot.day == selection.day)
        differences = differences.where(HubReconciliation.day == selection.day)
    if selection.node is not None:
        query = query.where(HubSnapshot.node == selection.node)
        differences = differences.where(HubReconciliation.node == selection.node)
    return ReconciliationReport(
        filter=selection,
        snapshots=session.scalar(query) or 0,
        differences=list(session.scalars(differences)),
    )
