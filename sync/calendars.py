"""Calendar releases: one year's working-day calendar, stored whole, in number order.

The city numbers calendar releases 1, 2, 3, … across all years. Every node
stores them in that order without gaps, so the newest release of a year is
the same everywhere, and ``common.calendar.load_calendar`` uses it in place
of the ``chinesecalendar`` package's data for that year.
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.catalog import content_hash
from common.clock import utcnow
from common.context import NodeContext
from common.errors import ReleaseRejected
from common.models import CalendarRelease
from common.schemas.calendars import (
    CalendarContentSchema,
    CalendarPageSchema,
    CalendarReleaseSchema,
)
from node.cases.deadlines import recompute_provisional
from sync.jobs import notify, push_up, record_error, start_job
from sync.state import touch_link
from sync.transport import ParentClient, SyncRefused

logger = logging.getLogger(__name__)

# Pages one pull job fetches at most; the next sync round fetches the rest.
MAX_PAGES = 20


def highest_calendar_number(session: Session) -> int | None:
    return session.scalar(select(func.max(CalendarRelease.number)))


def store_calendar_release(
    context: NodeContext, session: Session, raw: dict[str, Any]
) -> bool:
    """Store a calendar release, then recompute provisional deadlines.

    Runs in the caller's transaction. ``raw`` is the release as it arrived,
    and its hash is checked over the content exactly as sent. Returns False,
    changing nothing, when the same release is already held. Raises
    ``ReleaseRejected`` (409) for an invalid release, a hash that does not
    match, a number held with other content (divergence), a number older
    than the highest held, and a number that skips one.
    """
    release = _check_release(raw)
    number, digest = release["number"], release["content_hash"]
    held = session.get(CalendarRelease, number)
    if held is not None:
        if held.content_hash != digest:
            raise ReleaseRejected(
                f"calendar release {number} diverges: this node has it with hash "
                f"{held.content_hash}, but the offered release has hash {digest}. "
                "Check which content the city published under that number",
                {
                    "number": number,
                    "held_hash": held.content_hash,
                    "offered_hash": digest,
                },
            )
        return False
    _check_follows(session, number)

    session.add(
        CalendarRelease(
            number=number,
            year=release["year"],
            content_hash=digest,
            published_at=release["published_at"],
            applied_at=utcnow(),
            content=raw["content"],
        )
    )
    session.flush()
    logger.info(
        "Node %s: stored calendar release %d for %d (%s)",
        context.code,
        number,
        release["year"],
        digest[:12],
    )
    recompute_provisional(context, session)
    return True


def _check_release(raw: Any) -> dict[str, Any]:
    """Return the loaded release; raise ``ReleaseRejected`` unless it is valid."""
    try:
        release = CalendarReleaseSchema().load(raw)
    except ValidationError as exc:
        raise ReleaseRejected(
            "invalid calendar release", exc.normalized_messages()
        ) from exc
    number = release["number"]
    digest = content_hash(raw["content"])
    if digest != release["content_hash"]:
        raise ReleaseRejected(
            f"calendar release {number} is corrupt: its content hashes to "
            f"{digest}, not {release['content_hash']}",
            {"number": number},
        )
    try:
        content = CalendarContentSchema().load(raw["content"])
    except ValidationError as exc:
        raise ReleaseRejected(
            f"calendar release {number} has invalid content",
            {"number": number, "content": exc.normalized_messages()},
        ) from exc
    if content["year"] != release["year"]:
        raise ReleaseRejected(
            f"calendar release {number} is labelled year {release['year']} "
            f"but its content is for {content['year']}",
            {
                "number": number,
                "year": release["year"],
                "content_year": content["year"],
            },
        )
    return release


def _check_follows(session: Session, number: int) -> None:
    """Raise ``ReleaseRejected`` unless ``number`` directly follows the highest held."""
    highest = highest_calendar_number(session) or 0
    if number <= highest:
        raise ReleaseRejected(
            f"calendar release {number} is older than release {highest}, the "
            "highest held here, and is not held; releases are applied in order",
            {"number": number, "highest": highest},
        )
    if number != highest + 1:
        raise ReleaseRejected(
            f"calendar release {number} cannot follow release {highest}; "
            f"the next calendar release must be {highest + 1}",
            {"number": number, "expected": highest + 1},
        )


def calendar_releases_after(
    session: Session, number: int, limit: int
) -> list[CalendarRelease]:
    query = (
        select(CalendarRelease)
        .where(CalendarRelease.number > number)
        .order_by(CalendarRelease.number)
        .limit(limit)
    )
    return list(session.scalars(query))


def calendar_to_wire(release: CalendarRelease) -> dict[str, Any]:
    return {
        "number": release.number,
        "year": release.year,
        "content_hash": release.content_hash,
        "published_at": release.published_at.isoformat(),
        "content": release.content,
    }


def fetch_calendar_releases(client: ParentClient, after: int) -> list[dict[str, Any]]:
    """Return the parent's calendar releases after ``after``, oldest first."""
    answer = client.fetch_calendar_releases(after)
    try:
        return CalendarPageSchema().load(answer)["releases"]
    except ValidationError as exc:
        raise SyncRefused(
            200, {"code": "bad_response", "message": str(exc.messages)}
        ) from exc


def pull_calendars(code: str) -> int:
    """Fetch the calendar releases this node lacks and store each in its own transaction.

    An RQ job. Returns the highest calendar release number held afterwards,
    0 when none. A rejected release, including a parent's release that
    diverges from the highest held here, stops the pull. It is recorded on
    the parent link and propagates, so RQ records the failure.
    """
    context = start_job(code, pull_calendars)
    if context.parent_code is None:
        with context.db.transaction() as session:
            return highest_calendar_number(session) or 0
    client = ParentClient(context)
    try:
        highest, stored = _pull_pages(context, client)
    finally:
        client.close()
    if stored:
        # Recomputed deadlines are announced as events: send them up now.
        notify(context, push_up)
        logger.info(
            "Node %s: stored %d calendar releases, up to %d", code, stored, highest
        )
    return highest


def _pull_pages(context: NodeContext, client: ParentClient) -> tuple[int, int]:
    """Fetch and store pages until the parent has no more; return (highest, stored)."""
    stored = 0
    for _ in range(MAX_PAGES):
        with context.db.transaction() as session:
            highest = highest_calendar_number(session) or 0
        try:
            # The request starts one below the highest release stored here,
            # so the parent sends that release again. A node that stores it
            # with other content then detects the divergence.
            releases = fetch_calendar_releases(client, max(highest - 1, 0))
        except Exception as exc:
            record_error(context, exc)
            raise
        if not releases:
            return highest, stored
        page_stored = _store_page(context, releases)
        if not page_stored:
            # The parent sent only releases stored here, so another request
            # would return the same page.
            return highest, stored
        stored += page_stored
    with context.db.transaction() as session:
        return highest_calendar_number(session) or 0, stored


def _store_page(context: NodeContext, releases: list[dict[str, Any]]) -> int:
    """Store each release in its own transaction; return how many were new."""
    stored = 0
    for release in releases:
        try:
            with context.db.transaction() as session:
                stored += store_calendar_release(context, session, release)
                touch_link(session, context.parent_code, "parent")
        except ReleaseRejected as exc:
            record_error(context, exc)
            raise
    return stored
