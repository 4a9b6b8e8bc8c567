"""Tables of the daily metric snapshots that nodes send, and of the differences found.

A node sends, for each finished day (China date), the counts of the cases
it handled that day. The hub keeps the latest snapshot of each node and day
and the figures on which its own count from the events differs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base
from common.models import UTCDateTime


class HubSnapshot(Base):
    """The latest daily snapshot of one node: its own counts of one day."""

    __tablename__ = "hub_snapshot"

    node: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    # Figure name → count, as the node sent them.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    # When the node emitted the snapshot, and when the hub stored it.
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # When the hub last compared the snapshot with its own figures.
    reconciled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class HubReconciliation(Base):
    """One figure of a node and day on which the node's snapshot and the hub differ.

    Only differences are stored, so no row for a snapshot means it matched.
    """

    __tablename__ = "hub_reconciliation"

    node: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    figure: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_count: Mapped[int] = mapped_column(Integer)
    hub_count: Mapped[int] = mapped_column(Integer)
