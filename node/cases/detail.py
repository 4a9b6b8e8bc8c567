"""A case as its handlers see it: steps, notices, joint review and timeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.models import Case, CaseStatus, Event, Light, SupplementNotice
from common.schemas.cases import CaseSchema, CaseStepSchema, SupplementNoticeOutSchema
from node.cases.joint import review_view
from node.cases.steps import steps_of


def case_view(case: Case) -> dict[str, Any]:
    return {
        **{c: getattr(case, c) for c in CaseSchema().fields if hasattr(case, c)},
        "status_label": CaseStatus(case.status).label,
        "light_label": Light(case.light).label,
        "possible_duplicate": bool(case.possible_duplicates),
        "possible_duplicates": case.possible_duplicates or [],
    }


def notices_of(session: Session, case_id: str) -> list[SupplementNotice]:
    query = (
        select(SupplementNotice)
        .where(SupplementNotice.case_id == case_id)
        .order_by(SupplementNotice.number)
    )
    return list(session.scalars(query))


def timeline_of(
    context: NodeContext, session: Session, case_id: str
) -> list[dict[str, Any]]:
    """Return the events this node wrote about the case, oldest first."""
    query = (
        select(Event)
        .where(Event.case_id == case_id, Event.origin == context.code)
        .order_by(Event.seq)
    )
    return [
        {"seq": e.seq, "kind": e.kind, "at": e.created_at, "payload": e.payload}
        for e in session.scalars(query)
    ]


def case_detail(context: NodeContext, session: Session, case: Case) -> dict[str, Any]:
    step_fields, notice_fields = (
        CaseStepSchema().fields,
        SupplementNoticeOutSchema().fields,
    )
    return {
        **case_view(case),
        "steps": [
            {name: getattr(s, name) for name in step_fields}
            for s in steps_of(session, case.id)
        ],
        "notices": [
            {name: getattr(n, name) for name in notice_fields}
            for n in notices_of(session, case.id)
        ],
        "joint_review": review_view(session, case.id),
        "timeline": timeline_of(context, session, case.id),
    }
