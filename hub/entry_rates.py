"""Entry rates (进驻率) per county and handling tier, from the current catalog release.

For the matters that one tier handles in one county, three shares:

- departments: departments with at least one matter taken in at the center,
  of the departments with matters there;
- matters: matters taken in at the center (``in_center``), of all matters;
- authorizations: matters whose window may decide them on site
  (``window_authorized``), of the matters taken in at the center.

A matter counts for a county and tier when that tier handles it for at
least one township of the county, after delegations. So a matter delegated
to one township counts at the township tier, and still at the county tier
for the county's other townships. City matters count once, for the city.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.catalog import current_release_number, handling_tier
from common.context import NodeContext
from common.divisions import CITY_CODE, Divisions, Tier
from common.models import Delegation, Matter

CITY_LABEL = "市本级"


@dataclass
class EntryRate:
    """The entry figures of one county (or the city itself) at one tier."""

    county_code: str
    county_name: str
    tier: str
    departments: int = 0
    departments_in_center: int = 0
    matters: int = 0
    matters_in_center: int = 0
    authorized: int = 0
    matter_codes: list[str] = field(default_factory=list)

    @property
    def department_rate(self) -> float | None:
        return _share(self.departments_in_center, self.departments)

    @property
    def matter_rate(self) -> float | None:
        return _share(self.matters_in_center, self.matters)

    @property
    def authorization_rate(self) -> float | None:
        return _share(self.authorized, self.matters_in_center)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def is_in_center(matter: Matter) -> bool:
    return bool(matter.standard.get("in_center", True))


def is_window_authorized(matter: Matter) -> bool:
    """Return the catalog's value, else True only for an on-the-spot matter."""
    stated = matter.standard.get("window_authorized")
    if stated is None:
        return matter.kind == "immediate"
    return bool(stated)


def townships_by_county(divisions: Divisions) -> list[tuple[str, str]]:
    """Return (county code, township code) for every township of the city."""
    return [
        (county.code, township.code)
        for county in divisions.children(CITY_CODE)
        for township in divisions.children(county.code)
    ]


def handling_places(
    divisions: Divisions,
    townships: list[tuple[str, str]],
    matter: Matter,
    delegations: list[Delegation],
) -> set[tuple[str, Tier]]:
    """Return the (county or city code, tier) pairs where ``matter`` is handled."""
    places = set()
    for county, township in townships:
        tier = handling_tier(divisions, matter, delegations, township)
        places.add((CITY_CODE if tier is Tier.CITY else county, tier))
    return places


def group_matters(
    context: NodeContext, session: Session, release: int
) -> dict[tuple[str, Tier], list[Matter]]:
    matters = session.scalars(select(Matter).where(Matter.release == release))
    delegations: dict[str, list[Delegation]] = defaultdict(list)
    for delegation in session.scalars(
        select(Delegation).where(Delegation.release == release)
    ):
        delegations[delegation.matter_code].append(delegation)
    townships = townships_by_county(context.divisions)
    groups: dict[tuple[str, Tier], list[Matter]] = defaultdict(list)
    for matter in matters:
        own = delegations[matter.code]
        for place in handling_places(context.divisions, townships, matter, own):
            groups[place].append(matter)
    return groups


def count_group(
    context: NodeContext, place: tuple[str, Tier], matters: list[Matter]
) -> EntryRate:
    code, tier = place
    name = CITY_LABEL if code == CITY_CODE else context.divisions.get(code).name
    inside = [m for m in matters if is_in_center(m)]
    return EntryRate(
        county_code=code,
        county_name=name,
        tier=tier.value,
        departments=len({m.department for m in matters}),
        departments_in_center=len({m.department for m in inside}),
        matters=len(matters),
        matters_in_center=len(inside),
        authorized=sum(is_window_authorized(m) for m in inside),
        matter_codes=sorted(m.code for m in matters),
    )


def entry_rates(context: NodeContext, session: Session) -> list[EntryRate]:
    """Return the entry figures per county and tier, the city first, then by code.

    Returns an empty list when the hub holds no catalog release yet.
    """
    release = current_release_number(session)
    if release is None:
        return []
    groups = group_matters(context, session, release)
    order = {Tier.CITY: 0, Tier.COUNTY: 1, Tier.TOWNSHIP: 2}
    places = sorted(groups, key=lambda p: (p[0] != CITY_CODE, p[0], order[p[1]]))
    return [count_group(context, place, groups[place]) for place in places]


class EntryRateSchema(Schema):
    county_code = fields.String(
        metadata={
            "description": "County code, or the city's code 350600 for the city's "
            "own departments (市本级), as in metrics and rollups"
        }
    )
    county_name = fields.String()
    tier = fields.String()
    departments = fields.Integer()
    departments_in_center = fields.Integer()
    department_rate = fields.Float(allow_none=True)
    matters = fields.Integer()
    matters_in_center = fields.Integer()
    matter_rate = fields.Float(allow_none=True)
    # Matters the window may decide on site, of the matters in the center.
    authorized = fields.Integer()
    authorization_rate = fields.Float(allow_none=True)
    matter_codes = fields.List(fields.String())


def entry_rate_rows(context: NodeContext, session: Session) -> list[dict[str, Any]]:
    """Return the entry figures as dictionaries, for the API and the page."""
    return EntryRateSchema(many=True).dump(entry_rates(context, session))
