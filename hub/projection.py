"""Project every case event of the city into the hub's case table.

Handlers run at the city node only, in the transaction that stores the
event, so the projection holds each event's effect exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from common.context import NodeContext
from hub.models import HubCase
from sync.dispatch import on

logger = logging.getLogger(__name__)


def _timestamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@on("case.received")
def case_received(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    if not context.is_hub:
        return
    payload = event["payload"]
    if session.get(HubCase, payload["case_id"]) is not None:
        # One case is received once; a second announcement is kept as an
        # event (it shows in the copy count) but changes nothing here.
        logger.warning(
            "Node %s: case %s announced again by %s#%d; kept the first",
            context.code,
            payload["case_id"],
            event["origin"],
            event["seq"],
        )
        return
    handler = payload["handler"]
    session.add(
        HubCase(
            case_id=payload["case_id"],
            matter_code=payload["matter_code"],
            release=payload["release"],
            handler_code=handler,
            handler_tier=payload["handler_tier"],
            county_code=context.divisions.county_of(handler),
            filed_at_code=payload["filed_at"],
            applicant_pseudonym=payload["applicant_pseudonym"],
            status="received",
            promised_limit_working_days=payload["promised_limit_working_days"],
            received_at=_timestamp(payload["received_at"]),
            department=payload.get("department", ""),
            kind=payload.get("kind", "promised"),
            joint=payload.get("joint", False),
        )
    )


def _case(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> HubCase | None:
    """Return the hub's case for a status event from its handling node, else None."""
    if not context.is_hub:
        return None
    case = session.get(HubCase, event["payload"]["case_id"])
    if case is not None and case.handler_code != event["origin"]:
        logger.warning(
            "Node %s: ignored %s of case %s from %s, which does not handle it",
            context.code,
            event["kind"],
            case.case_id,
            event["origin"],
        )
        return None
    return case


@on("case.accepted")
def case_accepted(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    case = _case(context, session, event)
    if case is None:
        return
    payload = event["payload"]
    case.status = "accepted"
    case.accepted_at = _timestamp(payload["accepted_at"])
    case.release = payload["release"]
    case.promised_limit_working_days = payload["promised_limit_working_days"]
    case.deadline = dt.date.fromisoformat(payload["deadline"])


@on("case.rejected")
def case_rejected(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    case = _case(context, session, event)
    if case is not None:
        case.status = "rejected"


@on("case.completed")
def case_completed(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    case = _case(context, session, event)
    if case is None:
        return
    payload = event["payload"]
    case.status = "completed"
    case.completed_at = _timestamp(payload["completed_at"])
    case.working_days_used = payload["working_days_used"]
    case.on_time = payload["on_time"]


@on("case.supplement_notice")
def supplement_notice(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    case = _case(context, session, event)
    if case is not None:
        case.supplement_notices += 1


@on("case.deadline_changed")
def deadline_changed(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    case = _case(context, session, event)
    if case is not None:
        case.deadline = dt.date.fromisoformat(event["payload"]["deadline"])


@on("case.supplement_received")
def supplement_received(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    case = _case(context, session, event)
    if case is not None and "deadline" in event["payload"]:
        case.deadline = dt.date.fromisoformat(event["payload"]["deadline"])


@on("case.light_changed")
def light_changed(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    """Keep the case's own light, and whether any of its items turned yellow or red."""
    case = _case(context, session, event)
    if case is None:
        return
    light = event["payload"]["light"]
    if event["payload"]["item"] == "case":
        case.light = light
    case.warned = case.warned or light == "yellow"
    case.overdue = case.overdue or light == "red"


@on("accountability.opened")
def accountability_opened(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    case = _case(context, session, event)
    if case is not None:
        case.accountability_records += 1
