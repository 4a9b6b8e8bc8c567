"""Filing, receiving, accepting, rejecting and completing cases.

Each function runs in the caller's transaction and writes its change and
the event announcing it together, through the outbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from sqlalchemy.orm import Session

from common.catalog import (
    current_release_number,
    delegations_of,
    get_matter,
    handling_node,
    require_release,
)
from common.clock import utcnow
from common.context import NodeContext
from common.errors import Conflict, InvalidInput, NotFound
from common.models import Application, Case, CaseStatus, Counter, Matter, User
from common.validation import normalize_id_number
from node.cases.duplicates import flag_possible_duplicates
from sync.dispatch import Transient
from sync.outbox import emit
from sync.state import lock_origin


def pseudonym(context: NodeContext, id_number: str) -> str:
    """Return the keyed hash under which an applicant travels to the hub."""
    key = context.config.pseudonym_key.encode()
    return hmac.new(key, id_number.upper().encode(), hashlib.sha256).hexdigest()


def next_case_id(context: NodeContext, session: Session) -> str:
    """Return the next case number of this node: ``<node code>-<6 digits>``.

    Numbers are taken under the node's origin row lock, so two filings at
    once get different numbers on every database.
    """
    lock_origin(session, context.code)
    counter = session.get(Counter, "case") or Counter(name="case", value=0)
    counter.value += 1
    session.add(counter)
    return f"{context.code}-{counter.value:06d}"


def _matter_for_filing(session: Session, code: str) -> Matter:
    try:
        return get_matter(session, code)
    except NotFound as exc:
        raise InvalidInput(
            exc.message, {"fields": {"matter_code": [exc.message]}}
        ) from None


def _check_materials(matter: Matter, materials: list[str]) -> None:
    known = {m["name"] for m in matter.standard.get("materials", [])}
    unknown = [name for name in materials if name not in known]
    if unknown:
        message = f"not a material of matter {matter.code}: {', '.join(unknown)}"
        raise InvalidInput(message, {"fields": {"materials": [message]}})


def file_application(
    context: NodeContext,
    session: Session,
    data: dict[str, Any],
    user: User | None = None,
) -> Application:
    """File an application; it goes to the handling node that the catalog names.

    Raises ``InvalidInput`` for an unknown matter, a material the matter
    does not list, a matter handled below this node's tier, or a queue
    ticket given for a case handled elsewhere.
    """
    require_release(session)
    matter = _matter_for_filing(session, data["matter_code"])
    handler = handling_node(
        context.divisions, matter, delegations_of(session, matter), context.code
    )
    _check_materials(matter, data["materials"])
    applicant = data["applicant"]
    application = Application(
        id=next_case_id(context, session),
        matter_code=matter.code,
        release=matter.release,
        handler_code=handler,
        applicant_name=applicant["name"],
        applicant_id_number=normalize_id_number(applicant["id_number"]),
        applicant_phone=applicant["phone"],
        materials=data["materials"],
        status=CaseStatus.FILED,
        filed_at=utcnow(),
        status_changed_at=utcnow(),
    )
    session.add(application)
    session.flush()

    payload = {
        "case_id": application.id,
        "matter_code": matter.code,
        "release": matter.release,
        "filed_at": context.code,
        "materials": application.materials,
        "applicant_pseudonym": pseudonym(context, application.applicant_id_number),
    }
    personal = {
        "name": applicant["name"],
        "id_number": application.applicant_id_number,
        "phone": applicant["phone"],
    }
    if "ticket_id" in data and handler != context.code:
        message = "a queue ticket belongs to a case handled at this node's window"
        raise InvalidInput(message, {"fields": {"ticket_id": [message]}})
    if handler == context.code:
        case = receive_application(context, session, payload, personal)
        case.intake_by = user.id if user else None
        if "ticket_id" in data:
            from node.tickets import link_case

            link_case(context, session, data["ticket_id"], case.id, user)
            case.ticket_id = data["ticket_id"]
    else:
        emit(
            context,
            session,
            "application.filed",
            payload,
            case_id=application.id,
            destination=handler,
            personal=personal,
        )
    return application


def intake_moment(filed_at: dt.datetime | None) -> dt.datetime:
    """Return when a case counts as received: its filing time, never in the future.

    NOTE: the filing time is the filing node's clock. One running ahead is
    cut to this node's time; one running behind dates the intake earlier.
    """
    now = utcnow()
    if filed_at is None:
        return now
    return min(filed_at, now)


def receive_application(
    context: NodeContext,
    session: Session,
    payload: dict[str, Any],
    personal: dict[str, Any] | None,
    filed_at: dt.datetime | None = None,
) -> Case:
    """Create the case at this handling node from a filed application.

    An application that arrives twice creates one case: the second is
    ignored. ``filed_at`` is when the filing node took the application in.
    The case counts as received then, not when it reached this node, so a
    village that was offline for days does not lengthen the notice period.
    """
    existing = session.get(Case, payload["case_id"])
    if existing is not None:
        return existing
    if personal is None:
        raise Conflict(
            f"application {payload['case_id']} arrived without the applicant's data"
        )
    held = current_release_number(session) or 0
    if payload["release"] > held:
        # A release reaches the filing node through this node, so this
        # happens only after this node lost releases, for example when it
        # was restored from a backup. The quarantine retries the event
        # after the release arrives again.
        raise Transient(
            f"application {payload['case_id']} was filed under catalog release "
            f"{payload['release']}, which has not arrived at this node yet "
            f"(it holds release {held})"
        )
    matter = get_matter(session, payload["matter_code"], payload["release"])
    case = Case(
        id=payload["case_id"],
        matter_code=matter.code,
        release=matter.release,
        filed_at_code=payload["filed_at"],
        applicant_name=personal["name"],
        applicant_id_number=personal["id_number"],
        applicant_phone=personal["phone"],
        applicant_pseudonym=payload["applicant_pseudonym"],
        materials=payload["materials"],
        status=CaseStatus.RECEIVED,
        received_at=intake_moment(filed_at),
        department=matter.department,
        kind=matter.kind,
        joint=bool(matter.standard.get("joint")),
    )
    session.add(case)
    session.flush()
    flag_possible_duplicates(session, case)
    announce(
        context,
        session,
        case,
        "case.received",
        {
            "matter_code": matter.code,
            "release": matter.release,
            "filed_at": case.filed_at_code,
            "handler": context.code,
            "handler_tier": context.tier.value,
            "promised_limit_working_days": matter.promised_limit_working_days,
            "legal_limit_working_days": matter.legal_limit_working_days,
            "applicant_pseudonym": case.applicant_pseudonym,
            "received_at": case.received_at.isoformat(),
            "department": case.department,
            "kind": case.kind,
            "joint": case.joint,
        },
    )
    return case


def get_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(
            f"no case {case_id} is handled at this node", {"case_id": case_id}
        )
    return case


def require_status(case: Case, *allowed: CaseStatus) -> None:
    if case.status not in allowed:
        wanted = " or ".join(s.value for s in allowed)
        raise Conflict(
            f"case {case.id} is {case.status}; this action needs a case that is {wanted}",
            {"case_id": case.id, "status": case.status},
        )


def announce(
    context: NodeContext,
    session: Session,
    case: Case,
    kind: str,
    payload: dict[str, Any],
) -> None:
    """Emit a case event, addressed to the filing node when that is elsewhere."""
    if case.filed_at_code == context.code:
        apply_status(session, case.id, kind, payload)
        destination = None
    else:
        destination = case.filed_at_code
    emit(
        context,
        session,
        kind,
        {"case_id": case.id, **payload},
        case_id=case.id,
        destination=destination,
    )


STATUS_OF_EVENT = {
    "case.received": CaseStatus.RECEIVED,
    "case.accepted": CaseStatus.ACCEPTED,
    "case.rejected": CaseStatus.REJECTED,
    "case.completed": CaseStatus.COMPLETED,
}
# Events of the handling node that the filing node mirrors on its application.
MIRRORED_KINDS = (
    *STATUS_OF_EVENT,
    "case.supplement_notice",
    "case.supplement_received",
    "case.deadline_changed",
)


def apply_status(
    session: Session, case_id: str, kind: str, payload: dict[str, Any]
) -> None:
    """Mirror a case's new status on the application at its filing node."""
    application = session.get(Application, case_id)
    if application is None:
        return
    if kind in STATUS_OF_EVENT:
        application.status = STATUS_OF_EVENT[kind]
    application.status_changed_at = utcnow()
    if "deadline" in payload:
        application.deadline = dt.date.fromisoformat(payload["deadline"])
        application.deadline_provisional = payload["deadline_provisional"]
    if "reason" in payload:
        application.reason = payload["reason"]
    if kind == "case.supplement_notice":
        application.supplement = payload["missing"]
    elif kind == "case.supplement_received":
        application.supplement = None
    elif kind == "case.completed":
        application.result = payload.get("result")
        application.handover = payload.get("handover")
