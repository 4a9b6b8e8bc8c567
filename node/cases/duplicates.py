"""Possible duplicate applications: one applicant, one matter, two open cases.

An applicant may file the same matter at two villages, or twice at one, while
the first case is still open. The handling node stores every such case with
the applicant's clear ID number, so it compares those. A flag does not
reject anything: the clerk decides whether the cases are duplicates.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.models import Case, CaseStatus

logger = logging.getLogger(__name__)

OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.ACCEPTED)


def flag_possible_duplicates(session: Session, case: Case) -> list[str]:
    """Flag a newly received case and the applicant's other open cases of its matter.

    Runs in the caller's transaction. The new case lists the other cases'
    numbers, and each of those gets the new case's number added. Returns
    the other cases' numbers, empty when there are none.
    """
    query = select(Case).where(
        Case.applicant_id_number == case.applicant_id_number,
        Case.matter_code == case.matter_code,
        Case.status.in_(OPEN_STATUSES),
        Case.id != case.id,
    )
    others = list(session.scalars(query.order_by(Case.id)))
    if not others:
        return []
    case.possible_duplicates = [other.id for other in others]
    for other in others:
        other.possible_duplicates = [*(other.possible_duplicates or []), case.id]
    logger.info(
        "Case %s: possible duplicate of open case(s) %s of the same applicant",
        case.id,
        ", ".join(case.possible_duplicates),
    )
    return case.possible_duplicates
