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
    # Software version the origin last reported of itself, for city-wide health.
    software: Mapped[str | None] = mapped_column(String(40))


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
    # What the peer last sent in its version headers: its software version
    # and the sync protocol versions it speaks, comma-separated.
    peer_software: Mapped[str | None] = mapped_column(String(40))
    peer_protocols: Mapped[str | None] = mapped_column(String(40))


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
    result: Mapped[str | None] = mapped_column(Text)
    # How the result is handed over: window, post or filing_node.
    handover: Mapped[str | None] = mapped_column(String(16))
    # The materials an open supplement notice lists, or None when no notice is open.
    supplement: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON(none_as_null=True)
    )


class Case(Base):
    """A case at its handling node, the only node that writes it."""

    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_status", "status"),
        # Finds an applicant's other cases of one matter, for the duplicate flag.
        Index(
            "ix_case_applicant_id_number_matter_code",
            "applicant_id_number",
            "matter_code",
        ),
    )

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
    # From the matter's standard: its department, immediate or promised, joint.
    department: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(16), default="promised")
    joint: Mapped[bool] = mapped_column(Boolean, default=False)
    # The clerk who took the case in, and the queue ticket it came from.
    intake_by: Mapped[int | None] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    # Materials as the clerk checked them against the standard:
    # [{"name": ..., "originals": n, "copies": n}]
    materials_checked: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON(none_as_null=True)
    )
    # Set while a supplement notice is open: the case clock is stopped.
    clock_stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused_working_days: Mapped[int] = mapped_column(Integer, default=0)
    supplement_notices: Mapped[int] = mapped_column(Integer, default=0)
    # Accepted by law (Administrative Licensing Law art. 32) because no
    # supplement notice came within 5 working days of intake.
    deemed_accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    light: Mapped[str] = mapped_column(String(8), default="green")
    # window, post or filing_node (back to the village where it was filed)
    handover: Mapped[str | None] = mapped_column(String(16))
    # Other open cases of the same applicant and matter at this node when
    # this one arrived, or that arrived while this one was open.
    possible_duplicates: Mapped[list[str] | None] = mapped_column(
        JSON(none_as_null=True)
    )


# --- keys --------------------------------------------------------------------


class NodeKey(Base):
    """A public key enrolled for a node of this node's subtree."""

    __tablename__ = "node_key"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class KeyRevocation(Base):
    """A revocation of one node key, signed by the node that revoked it.

    Events of ``code`` signed with the key are accepted up to sequence
    ``valid_through``: the highest sequence of ``code`` that the revoking
    node held when it revoked the key. Any later one is rejected.
    """

    __tablename__ = "key_revocation"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    revoked_by: Mapped[str] = mapped_column(String(12))
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_through: Mapped[int] = mapped_column(Integer)
    signer_key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(100))
    # When the record was last delivered to this node's parent; None while
    # it still has to go up.
    sent_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


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


# --- users -------------------------------------------------------------------


class Role(enum.StrEnum):
    """A local user's role at a center. One user may have several roles."""

    WINDOW_CLERK = "window_clerk"
    DEPARTMENT_APPROVER = "department_approver"
    SUPERVISOR = "supervisor"
    CENTER_ADMIN = "center_admin"
    VILLAGE_AGENT = "village_agent"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.WINDOW_CLERK: "窗口工作人员",
    Role.DEPARTMENT_APPROVER: "部门审批人员",
    Role.SUPERVISOR: "监察人员",
    Role.CENTER_ADMIN: "中心管理员",
    Role.VILLAGE_AGENT: "村代办员",
}


class User(Base):
    """A local user of this center. Only the hash of the password is kept."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    # The department a clerk or approver works for, and a clerk's window.
    department: Mapped[str | None] = mapped_column(String(100))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("service_window.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token for the API, held by one user; only its hash is kept."""

    __tablename__ = "api_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class NodeSetting(Base):
    """A setting of this center kept in its database, for example the warning threshold."""

    __tablename__ = "node_setting"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


# --- windows and queue tickets -------------------------------------------------


class ServiceWindow(Base):
    """A department's counter at this center (窗口)."""

    __tablename__ = "service_window"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    department: Mapped[str] = mapped_column(String(100))
    # Service categories whose tickets this window calls.
    categories: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # None for a window created before this was recorded.
    created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=utcnow)


class TicketStatus(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    DONE = "done"
    NO_SHOW = "no_show"


class QueueTicket(Base):
    """A queue ticket (取号) taken for a service category on one day."""

    __tablename__ = "queue_ticket"
    __table_args__ = (
        UniqueConstraint("day", "number"),
        Index("ix_queue_ticket_day_status", "day", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)
    number: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default=TicketStatus.WAITING)
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    called_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("service_window.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    case_id: Mapped[str | None] = mapped_column(String(40))


# --- handling by the standard ------------------------------------------------


class Light(enum.StrEnum):
    """Electronic supervision's light of an open case, step or opinion."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    # The clock is stopped while a supplement notice is open.
    PAUSED = "paused"

    @property
    def label(self) -> str:
        return LIGHT_LABELS[self]


LIGHT_LABELS = {
    Light.GREEN: "绿灯",
    Light.YELLOW: "黄灯（预警）",
    Light.RED: "红灯（超时）",
    Light.PAUSED: "补正中（停止计时）",
}


class CaseStep(Base):
    """One step of a case's process, as its standard version lays it out."""

    __tablename__ = "case_step"
    __table_args__ = (Index("ix_case_step_status", "status"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The role that acts on the step: window_clerk or department_approver.
    role: Mapped[str] = mapped_column(String(40))
    # The role as the standard words it, shown to users.
    role_text: Mapped[str] = mapped_column(String(100))
    department: Mapped[str] = mapped_column(String(100))
    limit_working_days: Mapped[int | None] = mapped_column(Integer)
    # pending, active, approved, returned
    status: Mapped[str] = mapped_column(String(12), default="pending")
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opinion: Mapped[str | None] = mapped_column(Text)
    light: Mapped[str] = mapped_column(String(8), default=Light.GREEN)


class SupplementNotice(Base):
    """A supplement notice (一次性告知) listing every missing material."""

    __tablename__ = "supplement_notice"
    __table_args__ = (UniqueConstraint("case_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"))
    # 1 for the notice; 2 and more only with a reason, each a violation.
    number: Mapped[int] = mapped_column(Integer)
    # [{"name": ..., "originals": n|None, "copies": n|None, "problem": ...}]
    missing: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Working days the clock stood still, set when the materials arrive.
    paused_working_days: Mapped[int | None] = mapped_column(Integer)


class JointReview(Base):
    """The joint review (联审联办) of a case of a joint matter."""

    __tablename__ = "joint_review"

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    lead: Mapped[str] = mapped_column(String(100))
    departments: Mapped[list[str]] = mapped_column(JSON)
    inspection_on: Mapped[dt.date | None] = mapped_column(Date)
    inspection_note: Mapped[str | None] = mapped_column(Text)
    meeting_on: Mapped[dt.date | None] = mapped_column(Date)
    meeting_outcome: Mapped[str | None] = mapped_column(Text)
    minutes: Mapped[str | None] = mapped_column(Text)
    minutes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class JointOpinion(Base):
    """One participating department's opinion in a joint review."""

    __tablename__ = "joint_opinion"

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # agree, disagree, conditional; None until given
    decision: Mapped[str | None] = mapped_column(String(12))
    opinion: Mapped[str | None] = mapped_column(Text)
    given_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    given_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    light: Mapped[str] = mapped_column(String(8), default=Light.GREEN)


class Breach(enum.StrEnum):
    CASE_OVERDUE = "case_overdue"
    STEP_OVERDUE = "step_overdue"
    OPINION_OVERDUE = "opinion_overdue"
    SECOND_NOTICE = "second_notice"

    @property
    def label(self) -> str:
        return BREACH_LABELS[self]


BREACH_LABELS = {
    Breach.CASE_OVERDUE: "办件超时",
    Breach.STEP_OVERDUE: "环节超时",
    Breach.OPINION_OVERDUE: "联审意见超时",
    Breach.SECOND_NOTICE: "二次补正告知",
}


class AccountabilityRecord(Base):
    """A recorded violation (问责) and how a supervisor decided it.

    ``subject`` names what breached: the step position, the department of a
    joint opinion, or the notice number; with case and breach it identifies
    one breach, so that no breach gets two records.
    """

    __tablename__ = "accountability_record"
    __table_args__ = (UniqueConstraint("case_id", "breach", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"))
    breach: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(100), default="")
    # Who is answerable: a user where one acted, and always a department.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    department: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    working_days_late: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    explanation: Mapped[str | None] = mapped_column(Text)
    # excused or deducted; None while open
    decision: Mapped[str | None] = mapped_column(String(12))
    points: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- working-day calendar ----------------------------------------------------


class CalendarRelease(Base):
    """A published working-day calendar of one year: holidays and make-up days."""

    __tablename__ = "calendar_release"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    year: Mapped[int] = mapped_column(Integer, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # {"year": 2027, "holidays": ["2027-01-01", ...], "workdays": [...]}
    content: Mapped[dict[str, Any]] = mapped_column(JSON)


# --- quarantine of received events ---------------------------------------------


class Resolution(enum.StrEnum):
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class QuarantinedEvent(Base):
    """A received event whose handlers have not run here, and why.

    The event itself is stored and relayed like any other, so its origin's
    sequence stays gapless; only its effect at this node waits. A row with
    ``blocked_by`` set waits behind an earlier event of the same origin and
    case (``"origin#seq"``), so that one case's events apply in order. A
    resolved row is kept as the record of what was decided.
    """

    __tablename__ = "sync_quarantine"
    __table_args__ = (
        Index("ix_sync_quarantine_resolved_at_origin", "resolved_at", "origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("sync_event.id"), unique=True)
    # The event's origin and sequence, copied for listing and ordering.
    origin: Mapped[str] = mapped_column(String(12))
    seq: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    # True when the handlers may succeed later on their own, for example once
    # a catalog release arrives; the scheduled job retries only those.
    transient: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_by: Mapped[str | None] = mapped_column(String(40))
    quarantined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(12))
    # None when the scheduled job resolved it.
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)
    # The applicant's data of an event addressed to this node, kept until the
    # event is resolved: the event's own copy is erased once the parent holds it.
    personal: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
