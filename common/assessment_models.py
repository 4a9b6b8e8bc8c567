"""Tables of window staffing and the monthly window assessment (考评).

A center writes all of them: shifts when clerks sign in and out, gaps when
a finished day is checked, and scores with their deductions when a month is
computed. Only the events announcing them travel up to the hub.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base
from common.models import UTCDateTime


class StaffingShift(Base):
    """A clerk's time at a window, from sign-in to sign-out (None while there)."""

    __tablename__ = "staffing_shift"
    __table_args__ = (
        Index("ix_staffing_shift_day_window_id", "day", "window_id"),
        Index("ix_staffing_shift_user_id_signed_out_at", "user_id", "signed_out_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("service_window.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The sign-in date in China.
    day: Mapped[dt.date] = mapped_column(Date)
    signed_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    signed_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StaffingGap(Base):
    """Minutes of one working day in which an assigned clerk was not at the window."""

    __tablename__ = "staffing_gap"
    __table_args__ = (UniqueConstraint("window_id", "user_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("service_window.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    minutes_missing: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WindowScore(Base):
    """A window's assessment score of one month, as last computed."""

    __tablename__ = "assessment_score"

    # "YYYY-MM"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    window_id: Mapped[int] = mapped_column(
        ForeignKey("service_window.id"), primary_key=True
    )
    # Copied from the window, so that a year's results keep the department
    # the window had in each month.
    department: Mapped[str] = mapped_column(String(100))
    full_marks: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    red_flag: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Deduction(Base):
    """Points a window lost in a month, with the record or event that caused it.

    ``source_kind`` is a table name (``staffing_gap``, ``accountability_record``)
    or an event kind; ``source_id`` is the row id or the event's ``origin#seq``.
    """

    __tablename__ = "assessment_deduction"
    __table_args__ = (
        UniqueConstraint("month", "window_id", "rule", "source_kind", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    window_id: Mapped[int] = mapped_column(ForeignKey("service_window.id"))
    rule: Mapped[str] = mapped_column(String(40))
    points: Mapped[int] = mapped_column(Integer)
    source_kind: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(60))
