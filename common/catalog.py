"""Reading the standards catalog that a node holds, and routing by it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.divisions import Divisions, Tier
from common.errors import InvalidInput, NotFound
from common.models import Delegation, Matter, Release


def canonical_body(content: dict[str, Any]) -> bytes:
    """Return the canonical JSON form of a release's content, as UTF-8."""
    canonical = json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return canonical.encode("utf-8")


def content_hash(content: dict[str, Any]) -> str:
    """Return the SHA-256 of the canonical JSON form of a release's content."""
    return hashlib.sha256(canonical_body(content)).hexdigest()


def current_release_number(session: Session) -> int | None:
    return session.scalar(select(func.max(Release.number)))


def require_release(session: Session) -> int:
    number = current_release_number(session)
    if number is None:
        raise NotFound(
            "this node has no catalog release yet; wait for the catalog to arrive "
            "from the parent node"
        )
    return number


def get_matter(session: Session, code: str, release: int | None = None) -> Matter:
    """Return a matter of the given release (default: the current one).

    Raises ``NotFound`` naming the code.
    """
    number = release if release is not None else require_release(session)
    matter = session.get(Matter, (number, code))
    if matter is None:
        raise NotFound(
            f"no matter with code {code!r} in catalog release {number}",
            {"matter_code": code, "release": number},
        )
    return matter


def list_matters(session: Session) -> list[Matter]:
    number = current_release_number(session)
    if number is None:
        return []
    return list(
        session.scalars(
            select(Matter).where(Matter.release == number).order_by(Matter.code)
        )
    )


def delegations_of(session: Session, matter: Matter) -> list[Delegation]:
    query = select(Delegation).where(
        Delegation.release == matter.release, Delegation.matter_code == matter.code
    )
    return list(session.scalars(query.order_by(Delegation.region)))


def handling_tier(
    divisions: Divisions,
    matter: Matter,
    delegations: list[Delegation],
    filing_code: str,
) -> Tier:
    """Return the tier that handles ``matter`` for a case filed at ``filing_code``.

    The matter's default tier applies unless a delegation covers a region
    containing the filing node; the most specific such region wins.
    """
    by_region = {d.region: d for d in delegations}
    for division in divisions.ancestors(filing_code):
        if division.code in by_region:
            return Tier(by_region[division.code].handled_by_tier)
    return Tier(matter.handling_tier)


def handling_node(
    divisions: Divisions,
    matter: Matter,
    delegations: list[Delegation],
    filing_code: str,
) -> str:
    """Return the code of the node that handles a case filed at ``filing_code``.

    Raises ``InvalidInput`` when the filing node sits above the handling
    tier, since the case then has no single handling node.
    """
    tier = handling_tier(divisions, matter, delegations, filing_code)
    handler = divisions.ancestor_at(filing_code, tier)
    if handler is None:
        message = (
            f"matter {matter.code} is handled at {tier.value} tier here; file it at a "
            f"{tier.value} center or at one of its villages"
        )
        raise InvalidInput(message, {"fields": {"matter_code": [message]}})
    return handler.code


def matter_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Return each matter's name, from the newest release that holds it."""
    query = (
        select(Matter.code, Matter.name)
        .where(Matter.code.in_(codes))
        .order_by(Matter.release)
    )
    return {code: name for code, name in session.execute(query)}


def policies(session: Session) -> dict[str, Any]:
    """Return the city's policies of the newest release held, with defaults filled in."""
    from common.schemas.catalog import PoliciesSchema

    number = current_release_number(session)
    release = session.get(Release, number) if number is not None else None
    raw = release.content.get("policies", {}) if release is not None else {}
    return PoliciesSchema().load(raw)
