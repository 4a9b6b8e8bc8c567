"""Tables that every node has: catalog, sync state, applications and cases.

Every record has exactly one writer. Catalog releases are written by the
city; events by their origin (and copied unchanged by every node they pass);
applications by the node where they were filed; cases by the handling node.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from common.clock import utcnow
from common.db import Base

__all__ = ["utcnow"]


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC value."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; pass an aware UTC value")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


# --- catalog -----------------------------------------------------------------


class Release(Base):
    """One published, immutable version of the standards catalog."""

    __tablename__ = "catalog_release"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The canonical content as published: {"matters": [...], "delegations": [...]}.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)


class Matter(Base):
    """One matter's standard as published in one release."""

    __tablename__ = "catalog_matter"

    release: Mapped[int] = mapped_column(
        ForeignKey("catalog_release.number"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(100))
    handling_tier: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    legal_limit_working_days: Mapped[int | None] = mapped_column(Integer)
    promised_limit_working_days: Mapped[int] = mapped_column(Integer)
    # materials, steps, fee, legal_basis, joint, visits_required, assumed_fields
    standard: Mapped[dict[str, Any]] = mapped_column(JSON)


class Delegation(Base):
    """A matter handled at a lower tier for one region (下放)."""

    __tablename__ = "catalog_delegation"

    release: Mapped[int] = mapped_column(
        ForeignKey("catalog_release.number"), primary_key=True
    )
    matter_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(12), primary_key=True)
    handled_by_tier: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


# --- sync --------------------------------------------------------------------


class Event(Base):
    """An event as written by its origin, held here by (origin, seq).

    ``id`` is this node's own insertion order and means nothing elsewhere.
    ``destination`` names the node that must act on the event (the handling
    node of an application, or the filing node of a status change); it is
    None for events whose only reader is the hub. ``personal`` holds the
    applicant's personal data and travels only as far as the destination.
    """

    __tablename__ = "sync_event"
    __table_args__ = (
        UniqueConstraint("origin", "seq"),
        Index("ix_sync_event_destination_origin_seq", "destination", "origin", "seq"),
        Index("ix_sync_event_case_id_kind", "case_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(12))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(40))
    destination: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    personal: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # The origin's Ed25519 signatures, kept unchanged through every relay:
    # over the event without personal data, and over the personal data.
    key_id: Mapped[str | None] = mapped_column(String(16))
    signature: Mapped[str | None] = mapped_column(String(100))
    personal_signature: Mapped[str | None] = mapped_column(String(100))


class OriginState(Base):
    """Sync position of one origin at this node.

    ``held_seq`` is the highest sequence held here with no gap below it; for
    this node's own origin it is the last sequence number issued.
    ``acked_seq`` is the highest sequence the parent has acknowledged; the
    sender moves it only on the parent's answer. ``reported_seq`` and
    ``last_contact`` are what the origin's side of the tree last reported
    about it, for the lag figures.
    """

    __tablename__ = "sync_origin"

    origin: Mapped[str] = mapped_column(String(12), primary_key=True)
    held_seq: Mapped[int] = mapped_column(Integer, default=0)
    acked_seq: Mapped[int] = mapped_column(Integer, default=0)
    reported_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_contact: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FeedCursor(Base):
    """Highest sequence of one origin received from the parent's feed."""

    __tablename__ = "sync_feed_cursor"

    origin: Mapped[str] = mapped_column(String(12), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)


class Link(Base):
    """Health of the link to the parent or to one child."""

    __tablename__ = "sync_link"

    peer: Mapped[str] = mapped_column(String(12), primary_key=True)
    relation: Mapped[str] = mapped_column(String(8))  # "parent" or "child"
    last_contact: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Counter(Base):
    """A named gapless counter, incremented under a row lock."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


# --- applications and cases --------------------------------------------------


class CaseStatus(enum.StrEnum):
    FILED = "filed"  # sent towards the handling node, not yet received there
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    CaseStatus.FILED: "已报送",
    CaseStatus.RECEIVED: "已收件",
    CaseStatus.ACCEPTED: "已受理",
    CaseStatus.REJECTED: "不予受理",
    CaseStatus.COMPLETED: "已办结",
}


class Application(Base):
    """A case as the filing node sees it: what was filed and its latest status."""

    __tablename__ = "application"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    matter_code: Mapped[str] = mapped_column(String(64))
    release: Mapped[int] = mapped_column(Integer)
    handler_code: Mapped[str] = mapped_column(String(12))
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_id_number: Mapped[str] = mapped_column(String(18))
    applicant_phone: Mapped[str] = mapped_column(String(20))
    materials: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.FILED)
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    # True while the deadline counts weekends only, for lack of calendar data.
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)


class Case(Base):
    """A case at its handling node, the only node that writes it."""

    __tablename__ = "case"
    __table_args__ = (Index("ix_case_status", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    matter_code: Mapped[str] = mapped_column(String(64))
    # The catalog release whose standard the case follows.
    release: Mapped[int] = mapped_column(Integer)
    filed_at_code: Mapped[str] = mapped_column(String(12))
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_id_number: Mapped[str] = mapped_column(String(18))
    applicant_phone: Mapped[str] = mapped_column(String(20))
    applicant_pseudonym: Mapped[str] = mapped_column(String(64))
    materials: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.RECEIVED)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    working_days_used: Mapped[int | None] = mapped_column(Integer)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)


# --- keys --------------------------------------------------------------------


class NodeKey(Base):
    """A public key enrolled for a node of this node's subtree."""

    __tablename__ = "node_key"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EnrollmentToken(Base):
    """A one-time enrollment token issued by the city; only its hash is kept."""

    __tablename__ = "enrollment_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(12))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SeenNonce(Base):
    """A request nonce seen inside the timestamp window, to refuse replays."""

    __tablename__ = "sync_nonce"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
