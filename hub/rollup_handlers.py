"""Keep the hub's rollups up to date as events arrive.

Handlers run at the city node only, in the transaction that stores the
event. An event is stored once per (origin, seq) (see ``sync.dispatch``),
so adding to a counter here counts the event exactly once. They keep their own record of each case
(``RollupCase``) and do not read ``hub_case``, so they work in whatever
order they run beside the projection's handlers.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from common.clock import CHINA
from common.context import NodeContext
from hub.rollup_models import (
    CITY_LEVEL,
    CaseRollup,
    CityRollup,
    HotlineRollup,
    RollupCase,
    ServiceRollup,
)
from sync.dispatch import on

logger = logging.getLogger(__name__)

EventData = dict[str, Any]


def month_of(moment: dt.datetime) -> str:
    """Return the month "YYYY-MM" of a timestamp in China time."""
    return moment.astimezone(CHINA).strftime("%Y-%m")


def county_key(context: NodeContext, code: str) -> str:
    return context.divisions.county_of(code) or CITY_LEVEL


def add_to(session: Session, table: Any, key: dict[str, Any], **counters: int) -> None:
    """Add ``counters`` to the row of ``table`` at ``key``, creating it at zero first.

    The UPDATE comes first because the row usually exists. When it does not,
    the row is created with INSERT … ON CONFLICT DO NOTHING and updated
    again, so two transactions that reach a new key at once both count,
    where a read-then-insert would fail one of them.
    """
    keys = [getattr(table, name) == value for name, value in key.items()]
    increments = {name: getattr(table, name) + n for name, n in counters.items()}
    statement = update(table).where(*keys).values(increments)
    # No rollup row is loaded as an object, so there is nothing to refresh.
    statement = statement.execution_options(synchronize_session=False)
    if session.execute(statement).rowcount:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(table).values(**key).on_conflict_do_nothing())
    session.execute(statement)


def _case_key(context: NodeContext, case: RollupCase) -> dict[str, Any]:
    return {
        "month": case.month,
        "handler_code": case.handler_code,
        "department": case.department,
        "matter_code": case.matter_code,
        "county_code": county_key(context, case.handler_code),
        "handler_tier": case.handler_tier,
    }


def _city_key(context: NodeContext, case: RollupCase) -> dict[str, Any]:
    return {
        "month": case.month,
        "county_code": county_key(context, case.handler_code),
        "handler_tier": case.handler_tier,
        "department": case.department,
    }


def add_to_case(
    context: NodeContext, session: Session, case: RollupCase, **counters: int
) -> None:
    """Add ``counters`` to the case's row of both the case and the city rollup."""
    add_to(session, CaseRollup, _case_key(context, case), **counters)
    add_to(session, CityRollup, _city_key(context, case), **counters)


def _handled_case(
    context: NodeContext, session: Session, event: EventData
) -> RollupCase | None:
    """Return the record of a status event's case if its handling node sent it, else None.

    The same rule as the projection's: a node that does not handle the case
    changes nothing.
    """
    if not context.is_hub:
        return None
    case = _known_case(session, event)
    if case is not None and case.handler_code != event["origin"]:
        return None
    return case


def _known_case(session: Session, event: EventData) -> RollupCase | None:
    case = session.get(RollupCase, event["payload"]["case_id"])
    if case is None:
        logger.warning(
            "Rollups: %s of case %s not counted, because the hub has not received the case",
            event["kind"],
            event["payload"]["case_id"],
        )
    return case


# --- cases -------------------------------------------------------------------


@on("case.received")
def case_received(context: NodeContext, session: Session, event: EventData) -> None:
    if not context.is_hub:
        return
    payload = event["payload"]
    if session.get(RollupCase, payload["case_id"]) is not None:
        # The projection keeps only the first announcement, and so do the rollups.
        return
    case = RollupCase(
        case_id=payload["case_id"],
        month=month_of(dt.datetime.fromisoformat(payload["received_at"])),
        handler_code=payload["handler"],
        handler_tier=payload["handler_tier"],
        department=payload.get("department", ""),
        matter_code=payload["matter_code"],
        legal_limit_working_days=payload.get("legal_limit_working_days"),
        promised_limit_working_days=payload["promised_limit_working_days"],
        accepted=False,
        completed=False,
        rejected=False,
        warned=False,
        overdue=False,
    )
    session.add(case)
    # Later events of the same batch look the case up in this transaction.
    session.flush()
    add_to_case(
        context,
        session,
        case,
        received=1,
        immediate=int(payload.get("kind") == "immediate"),
        joint=int(bool(payload.get("joint", False))),
    )


@on("case.accepted")
def case_accepted(context: NodeContext, session: Session, event: EventData) -> None:
    case = _handled_case(context, session, event)
    if case is None:
        return
    case.promised_limit_working_days = event["payload"]["promised_limit_working_days"]
    if not case.accepted:
        case.accepted = True
        add_to_case(context, session, case, accepted=1)


@on("case.rejected")
def case_rejected(context: NodeContext, session: Session, event: EventData) -> None:
    case = _handled_case(context, session, event)
    if case is not None and not case.rejected:
        case.rejected = True
        add_to_case(context, session, case, rejected=1)


@on("case.completed")
def case_completed(context: NodeContext, session: Session, event: EventData) -> None:
    case = _handled_case(context, session, event)
    if case is None or case.completed:
        return
    payload = event["payload"]
    case.completed = True
    legal = case.legal_limit_working_days
    promised = case.promised_limit_working_days
    add_to_case(
        context,
        session,
        case,
        completed=1,
        on_time=int(payload["on_time"]),
        working_days_used=payload["working_days_used"],
        promised_limit=promised,
        limits_compared=int(legal is not None),
        compared_legal_limit=legal or 0,
        compared_promised_limit=promised if legal is not None else 0,
    )


@on("case.supplement_notice")
def supplement_notice(context: NodeContext, session: Session, event: EventData) -> None:
    case = _handled_case(context, session, event)
    if case is not None:
        add_to_case(context, session, case, supplement_notices=1)


@on("case.light_changed")
def light_changed(context: NodeContext, session: Session, event: EventData) -> None:
    """Count a case as warned or overdue when any of its items first turns yellow or red."""
    case = _handled_case(context, session, event)
    if case is None:
        return
    light = event["payload"]["light"]
    if light == "yellow" and not case.warned:
        case.warned = True
        add_to_case(context, session, case, warned=1)
    elif light == "red" and not case.overdue:
        case.overdue = True
        add_to_case(context, session, case, overdue=1)


@on("accountability.opened")
def accountability_opened(
    context: NodeContext, session: Session, event: EventData
) -> None:
    case = _handled_case(context, session, event)
    if case is not None:
        add_to_case(context, session, case, accountability_records=1)


# --- evaluations -------------------------------------------------------------
# Evaluations may be entered away from the handling node (a slip, the
# hotline), so any origin counts.


@on("evaluation.recorded")
def evaluation_recorded(
    context: NodeContext, session: Session, event: EventData
) -> None:
    if not context.is_hub:
        return
    case = _known_case(session, event)
    if case is not None:
        bad = int(bool(event["payload"]["bad"]))
        add_to_case(context, session, case, evaluations=1, bad_reviews=bad)


@on("evaluation.follow_up")
def evaluation_follow_up(
    context: NodeContext, session: Session, event: EventData
) -> None:
    if not context.is_hub or event["payload"]["action"] != "excluded":
        return
    case = _known_case(session, event)
    if case is not None:
        add_to_case(context, session, case, excluded_reviews=1)


# --- queue and staffing ------------------------------------------------------


def add_to_service(
    context: NodeContext, session: Session, node: str, month: str, **counters: int
) -> None:
    key = {"month": month, "node_code": node, "county_code": county_key(context, node)}
    add_to(session, ServiceRollup, key, **counters)


@on("ticket.called")
def ticket_called(context: NodeContext, session: Session, event: EventData) -> None:
    if not context.is_hub:
        return
    payload = event["payload"]
    month = month_of(dt.datetime.fromisoformat(payload["called_at"]))
    add_to_service(
        context,
        session,
        event["origin"],
        month,
        tickets_called=1,
        waited_seconds=payload["waited_seconds"],
    )


@on("staffing.gap")
def staffing_gap(context: NodeContext, session: Session, event: EventData) -> None:
    if not context.is_hub:
        return
    payload = event["payload"]
    month = dt.date.fromisoformat(payload["day"]).strftime("%Y-%m")
    add_to_service(
        context,
        session,
        event["origin"],
        month,
        staffing_gaps=1,
        gap_minutes=payload["minutes_missing"],
    )


# --- hotline -----------------------------------------------------------------
# Hotline tickets are written at the city, so the hotline service calls
# these in the transaction that opens, re-routes or closes a ticket.


def hotline_ticket_opened(
    context: NodeContext,
    session: Session,
    kind: str,
    routed_to: str,
    created_at: dt.datetime,
) -> None:
    """Count a new hotline ticket in the month it was opened."""
    key = {
        "month": month_of(created_at),
        "county_code": county_key(context, routed_to),
        "kind": kind,
    }
    add_to(session, HotlineRollup, key, tickets=1)


def hotline_ticket_replied(
    context: NodeContext,
    session: Session,
    kind: str,
    routed_to: str,
    created_at: dt.datetime,
    closed_at: dt.datetime,
) -> None:
    """Count a ticket's reply, in the month the ticket was opened."""
    key = {
        "month": month_of(created_at),
        "county_code": county_key(context, routed_to),
        "kind": kind,
    }
    seconds = max(int((closed_at - created_at).total_seconds()), 0)
    add_to(session, HotlineRollup, key, replied=1, reply_seconds=seconds)


def hotline_ticket_rerouted(
    context: NodeContext,
    session: Session,
    kind: str,
    previous: str,
    routed_to: str,
    created_at: dt.datetime,
) -> None:
    """Move an open ticket's count to the county of the node it is re-routed to."""
    month = month_of(created_at)
    old_county = county_key(context, previous)
    new_county = county_key(context, routed_to)
    if old_county == new_county:
        return
    key = {"month": month, "kind": kind}
    add_to(session, HotlineRollup, {**key, "county_code": old_county}, tickets=-1)
    add_to(session, HotlineRollup, {**key, "county_code": new_county}, tickets=1)
