"""Event handlers of the filing and handling sides of a case."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from common.context import NodeContext
from common.models import Application
from node.cases.service import MIRRORED_KINDS, apply_status, receive_application
from sync.dispatch import on

logger = logging.getLogger(__name__)


@on("application.filed")
def application_filed(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    if event["destination"] == context.code:
        case = receive_application(
            context,
            session,
            event["payload"],
            event["personal"],
            filed_at=event["created_at"],
        )
        logger.info(
            "Node %s: received case %s from %s", context.code, case.id, event["origin"]
        )


def case_status_changed(
    context: NodeContext, session: Session, event: dict[str, Any]
) -> None:
    if event["destination"] != context.code:
        return
    application = session.get(Application, event["case_id"])
    if application is None or application.handler_code != event["origin"]:
        logger.warning(
            "Node %s: ignored %s of case %s from %s, which does not handle it",
            context.code,
            event["kind"],
            event["case_id"],
            event["origin"],
        )
        return
    apply_status(session, event["case_id"], event["kind"], event["payload"])


for kind in MIRRORED_KINDS:
    on(kind)(case_status_changed)
