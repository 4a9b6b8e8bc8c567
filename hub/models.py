"""The hub's projection of every case event of the city."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from common.db import Base
from common.models import UTCDateTime


class HubCase(Base):
    """One case of the city as the hub knows it from its events.

    Holds no personal data: the applicant appears only as a keyed pseudonym.
    """

    __tablename__ = "hub_case"
    __table_args__ = (Index("ix_hub_case_county_tier", "county_code", "handler_tier"),)

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    matter_code: Mapped[str] = mapped_column(String(64))
    release: Mapped[int] = mapped_column(Integer)
    handler_code: Mapped[str] = mapped_column(String(12))
    handler_tier: Mapped[str] = mapped_column(String(16))
    # The county of the handling node; None for cases handled by the city.
    county_code: Mapped[str | None] = mapped_column(String(6))
    filed_at_code: Mapped[str] = mapped_column(String(12))
    applicant_pseudonym: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    promised_limit_working_days: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    working_days_used: Mapped[int | None] = mapped_column(Integer)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    department: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(16), default="promised")
    joint: Mapped[bool] = mapped_column(Boolean, default=False)
    supplement_notices: Mapped[int] = mapped_column(Integer, default=0)
    # The light electronic supervision last reported, and whether the case
    # was ever yellow or red.
    light: Mapped[str] = mapped_column(String(8), default="green")
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    accountability_records: Mapped[int] = mapped_column(Integer, default=0)
