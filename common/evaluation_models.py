"""Tables of evaluations (好差评), bad-review follow-ups and 96123 hotline tickets.

Evaluations and follow-ups are written by the node that handles the case.
Hotline tickets are written only by the city, where the caller's personal
data stays.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.clock import utcnow
from common.db import Base
from common.models import UTCDateTime


class Level(enum.StrEnum):
    """The five levels of GB/T 39735-2020, best first."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]

    @property
    def bad(self) -> bool:
        return self in (Level.DISSATISFIED, Level.VERY_DISSATISFIED)


LEVEL_LABELS = {
    Level.VERY_SATISFIED: "非常满意",
    Level.SATISFIED: "满意",
    Level.BASICALLY_SATISFIED: "基本满意",
    Level.DISSATISFIED: "不满意",
    Level.VERY_DISSATISFIED: "非常不满意",
}


class Channel(enum.StrEnum):
    DEVICE = "device"  # the rating device at the window
    WEB = "web"
    HOTLINE = "hotline"
    SLIP = "slip"  # a paper slip from the evaluation box

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {
    Channel.DEVICE: "窗口评价器",
    Channel.WEB: "网上评价",
    Channel.HOTLINE: "热线评价",
    Channel.SLIP: "评议卡",
}


class Evaluation(Base):
    """An applicant's rating of one case, which has at most one."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), unique=True)
    level: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(12))
    # The number printed on a paper slip, or None for the other channels.
    slip_number: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    # Copied from the case and its intake clerk's window when rated.
    department: Mapped[str] = mapped_column(String(100))
    window: Mapped[str | None] = mapped_column(String(40))
    # The staff member who entered a slip or hotline rating; None for the
    # device and web channels, where the applicant rates alone.
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when an appeal finds the bad review mistaken or malicious: an
    # excluded review does not count in the satisfaction rate.
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)


class FollowUpStatus(enum.StrEnum):
    OPEN = "open"
    VERIFIED = "verified"
    RECTIFIED = "rectified"
    EXCLUDED = "excluded"

    @property
    def label(self) -> str:
        return FOLLOW_UP_LABELS[self]


FOLLOW_UP_LABELS = {
    FollowUpStatus.OPEN: "待回访核实",
    FollowUpStatus.VERIFIED: "已核实，整改中",
    FollowUpStatus.RECTIFIED: "已整改",
    FollowUpStatus.EXCLUDED: "申诉排除",
}


class FollowUp(Base):
    """The follow-up of one bad review: call-back, rectification or exclusion."""

    __tablename__ = "evaluation_follow_up"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=FollowUpStatus.OPEN)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Rectification deadline: the city's policy in working days after the rating day.
    deadline: Mapped[dt.date] = mapped_column(Date)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # The call-back: whether the applicant's complaint was found true.
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified: Mapped[bool | None] = mapped_column(Boolean)
    verification_note: Mapped[str | None] = mapped_column(Text)
    rectified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rectification_note: Mapped[str | None] = mapped_column(Text)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    excluded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # mistaken or malicious
    exclusion_reason: Mapped[str | None] = mapped_column(String(12))
    exclusion_note: Mapped[str | None] = mapped_column(Text)
    # The supervisor who took the last step.
    acted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class HotlineKind(enum.StrEnum):
    CONSULTATION = "consultation"
    QUERY = "query"
    COMPLAINT = "complaint"
    REPORT = "report"

    @property
    def label(self) -> str:
        return HOTLINE_KIND_LABELS[self]


HOTLINE_KIND_LABELS = {
    HotlineKind.CONSULTATION: "咨询",
    HotlineKind.QUERY: "查询",
    HotlineKind.COMPLAINT: "投诉",
    HotlineKind.REPORT: "举报",
}


class HotlineTicket(Base):
    """A 96123 hotline ticket, kept at the city with the caller's personal data."""

    __tablename__ = "hotline_ticket"
    __table_args__ = (Index("ix_hotline_ticket_closed_at", "closed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # phone or web
    channel: Mapped[str] = mapped_column(String(8))
    caller_name: Mapped[str] = mapped_column(String(100))
    caller_phone: Mapped[str] = mapped_column(String(20))
    # The division the caller lives in, which picks the matter's handling node.
    caller_division: Mapped[str] = mapped_column(String(12))
    subject: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(String(100))
    matter_code: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(40))
    # The node the ticket is routed to: the matter's or the case's handling node.
    routed_to: Mapped[str] = mapped_column(String(12))
    # 1 when recorded, plus 1 for each re-routing; a reply names the routing
    # it replies to, so a late reply from the previous node is ignored.
    routing: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None for a ticket the caller filed on the web form.
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    deadline: Mapped[dt.date] = mapped_column(Date)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)
    # The routed node's reply, before the operator closes the ticket.
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reply_from: Mapped[str | None] = mapped_column(String(12))
    caller_rating: Mapped[str | None] = mapped_column(String(24))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Set once a complaint is found true; it then counts in the window assessment.
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verification_note: Mapped[str | None] = mapped_column(Text)
