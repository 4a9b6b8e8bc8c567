"""Hotline tickets as stored at the node they are routed to.

The city keeps the ticket with the caller's personal data in
``hotline_ticket``. The routed node, which may be the city itself, keeps
this copy without the caller's name or phone and replies through the city.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base
from common.models import UTCDateTime


class RoutedHotlineTicket(Base):
    """A hotline ticket routed to this node, with the reply its staff gave."""

    __tablename__ = "hotline_routed_ticket"

    # The city's ticket id, which names the ticket on every node.
    ticket_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    number: Mapped[str] = mapped_column(String(40))
    # The city's routing count: 1 when the ticket is recorded, plus 1 for
    # each re-routing. An event with a lower count than the stored one is stale.
    routing: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(String(100))
    matter_code: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(40))
    caller_division: Mapped[str] = mapped_column(String(12))
    routed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[dt.date] = mapped_column(Date)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the city routes the ticket to another node.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    replied_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Set when the city closes the ticket, which then takes no more replies.
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
