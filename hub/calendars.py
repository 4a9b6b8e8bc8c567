"""Authoring at the city: check a year's working-day calendar and publish it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.catalog import content_hash
from common.clock import utcnow
from common.context import NodeContext
from common.errors import Conflict, Forbidden, InvalidInput
from common.models import CalendarRelease
from common.schemas.calendars import CalendarContentSchema
from hub.catalog import dotted_messages, read_json
from sync.calendars import highest_calendar_number, store_calendar_release

logger = logging.getLogger(__name__)


def check_calendar(raw: Any) -> dict[str, Any]:
    """Return the canonical form of a year's calendar: sorted, no duplicates.

    Raises ``InvalidInput`` whose details name every invalid field with the
    values at fault.
    """
    if not isinstance(raw, dict):
        raise InvalidInput(
            "a calendar is a JSON object with year, holidays and workdays, "
            f"not {type(raw).__name__}",
            {"fields": {"_schema": ["expected a JSON object"]}},
        )
    try:
        return CalendarContentSchema().load(raw)
    except ValidationError as exc:
        raise InvalidInput(
            "the calendar has invalid fields; correct the fields listed and "
            "publish again",
            {"fields": dotted_messages(exc.normalized_messages())},
        ) from exc


def read_calendar_file(path: Path) -> dict[str, Any]:
    """Read a calendar from a JSON file and check it, as ``check_calendar`` does."""
    return check_calendar(read_json(path))


def newest_of_year(session: Session, year: int) -> CalendarRelease | None:
    query = (
        select(CalendarRelease)
        .where(CalendarRelease.year == year)
        .order_by(CalendarRelease.number.desc())
        .limit(1)
    )
    return session.scalar(query)


def publish_calendar(
    context: NodeContext, session: Session, raw: Any
) -> CalendarRelease | None:
    """Publish a year's calendar as the next release, in the caller's transaction.

    Returns None, publishing nothing, when the newest release of that year
    has the same content. Raises ``Forbidden`` on any node but the city,
    ``InvalidInput`` for invalid content and ``Conflict`` when a concurrent
    publication took the same number.
    """
    if not context.is_hub:
        raise Forbidden(
            f"only the city node publishes calendar releases, and node "
            f"{context.code} receives them from its parent"
        )
    content = check_calendar(raw)
    digest = content_hash(content)
    newest = newest_of_year(session, content["year"])
    if newest is not None and newest.content_hash == digest:
        logger.info(
            "Node %s: calendar of %d unchanged since release %d",
            context.code,
            content["year"],
            newest.number,
        )
        return None

    number = (highest_calendar_number(session) or 0) + 1
    wire = {
        "number": number,
        "year": content["year"],
        "content_hash": digest,
        "published_at": utcnow().isoformat(),
        "content": content,
    }
    try:
        store_calendar_release(context, session, wire)
    except IntegrityError as exc:
        # On PostgreSQL a concurrent publication can take the number between
        # the read above and this insert. SQLite transactions start with the
        # write lock, so there the second one waits instead.
        raise Conflict(
            f"calendar release {number} was published by another request at "
            "the same time; nothing was changed, publish again",
            {"number": number},
        ) from exc
    logger.info(
        "Node %s: published calendar release %d for %d (%d holidays, %d workdays)",
        context.code,
        number,
        content["year"],
        len(content["holidays"]),
        len(content["workdays"]),
    )
    return session.get(CalendarRelease, number)
