"""Catalog releases: stored whole, in version order, never changed."""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.catalog import content_hash, current_release_number
from common.context import NodeContext
from common.errors import ReleaseRejected
from common.models import Delegation, Matter, Release
from common.schemas.catalog import ReleaseSchema

logger = logging.getLogger(__name__)


def store_release(context: NodeContext, session: Session, raw: dict[str, Any]) -> bool:
    """Store a release and its matters in the caller's transaction.

    ``raw`` is the release as it arrived; its hash is checked over the
    content exactly as sent. Returns False when the same release is already
    held. Raises ``ReleaseRejected`` for an invalid release, one whose hash
    does not match its content, one that skips a number, one older than the
    current release, and one whose number is held with other content.
    """
    try:
        release = ReleaseSchema().load(raw)
    except ValidationError as exc:
        raise ReleaseRejected(
            "invalid catalog release", exc.normalized_messages()
        ) from exc
    number = release["number"]
    digest = content_hash(raw["content"])
    if digest != release["content_hash"]:
        raise ReleaseRejected(
            f"release {number} is corrupt: its content hashes to {digest}, "
            f"not {release['content_hash']}",
            {"number": number},
        )
    held = session.get(Release, number)
    if held is not None:
        if held.content_hash != digest:
            raise ReleaseRejected(
                f"release {number} diverges: this node has it with hash "
                f"{held.content_hash}, the offered one has {digest}",
                {
                    "number": number,
                    "held_hash": held.content_hash,
                    "offered_hash": digest,
                },
            )
        return False
    current = current_release_number(session) or 0
    if number != current + 1:
        raise ReleaseRejected(
            f"release {number} cannot follow release {current}; "
            f"the next release must be {current + 1}",
            {"number": number, "expected": current + 1},
        )

    session.add(
        Release(
            number=number,
            content_hash=digest,
            published_at=release["published_at"],
            content=raw["content"],
        )
    )
    session.flush()
    for matter in release["content"]["matters"]:
        session.add(matter_row(number, matter))
    for delegation in release["content"]["delegations"]:
        session.add(Delegation(release=number, **delegation))
    logger.info(
        "Node %s: stored catalog release %d (%s)", context.code, number, digest[:12]
    )
    return True


def matter_row(release: int, matter: dict[str, Any]) -> Matter:
    columns = {
        "code",
        "name",
        "department",
        "handling_tier",
        "kind",
        "legal_limit_working_days",
        "promised_limit_working_days",
    }
    standard = {k: v for k, v in matter.items() if k not in columns}
    return Matter(release=release, standard=standard, **{k: matter[k] for k in columns})


def releases_after(session: Session, number: int, limit: int) -> list[Release]:
    query = select(Release).where(Release.number > number).order_by(Release.number)
    return list(session.scalars(query.limit(limit)))


def release_to_wire(release: Release) -> dict[str, Any]:
    return {
        "number": release.number,
        "content_hash": release.content_hash,
        "published_at": release.published_at.isoformat(),
        "content": release.content,
    }
