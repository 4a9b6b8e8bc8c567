"""Zhangzhou's administrative divisions: codes, names, tiers and parents.

The lists are the National Bureau of Statistics division codes shipped in
``common/data/zhangzhou`` (see the README there for source and year). A
node's tier and parent follow from its code alone.
"""

from __future__ import annotations

import csv
import enum
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from common.errors import UnknownDivision

CITY_CODE = "350600"
CITY_NAME = "漳州市"
DATA_DIR = Path(__file__).parent / "data" / "zhangzhou"


class Tier(enum.StrEnum):
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"

    @property
    def rank(self) -> int:
        """Depth in the tree: 0 for the city, 3 for a village."""
        return list(Tier).index(self)

    @property
    def label(self) -> str:
        return TIER_LABELS[self]


TIER_LABELS = {
    Tier.CITY: "市级",
    Tier.COUNTY: "县级",
    Tier.TOWNSHIP: "乡镇级",
    Tier.VILLAGE: "村级",
}


def tier_of_code(code: str) -> Tier:
    """Return the tier that the shape of a division code implies.

    Raises ``UnknownDivision`` for a string of any other shape.
    """
    if not (code.isascii() and code.isdigit()):
        raise UnknownDivision(code)
    if len(code) == 6:
        return Tier.CITY if code.endswith("00") else Tier.COUNTY
    if len(code) == 9:
        return Tier.TOWNSHIP
    if len(code) == 12:
        return Tier.VILLAGE
    raise UnknownDivision(code)


def parent_of_code(code: str) -> str | None:
    """Return the parent's code, or None for the city."""
    tier = tier_of_code(code)
    if tier is Tier.CITY:
        return None
    if tier is Tier.COUNTY:
        return code[:4] + "00"
    if tier is Tier.TOWNSHIP:
        return code[:6]
    return code[:9]


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    parent_code: str | None

    @property
    def tier(self) -> Tier:
        return tier_of_code(self.code)


class Divisions:
    """The division tree of one city, loaded from the shipped CSV files."""

    def __init__(self, divisions: list[Division]) -> None:
        self._by_code = {d.code: d for d in divisions}

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Division:
        """Return the division for ``code`` or raise ``UnknownDivision``."""
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownDivision(code) from None

    def children(self, code: str) -> list[Division]:
        return [d for d in self._by_code.values() if d.parent_code == code]

    def ancestors(self, code: str) -> list[Division]:
        """Return the division and its ancestors, from itself up to the city."""
        chain = [self.get(code)]
        while chain[-1].parent_code is not None:
            chain.append(self.get(chain[-1].parent_code))
        return chain

    def ancestor_at(self, code: str, tier: Tier) -> Division | None:
        """Return the ancestor-or-self of ``code`` at ``tier``, if there is one."""
        for division in self.ancestors(code):
            if division.tier is tier:
                return division
        return None

    def county_of(self, code: str) -> str | None:
        county = self.ancestor_at(code, Tier.COUNTY)
        return county.code if county else None


def is_within(code: str, ancestor: str) -> bool:
    """Tell whether ``code`` is ``ancestor`` or lies below it in the tree.

    Below a county or township the codes share a prefix; every code of the
    city starts with its first four digits.
    """
    if code == ancestor:
        return True
    if tier_of_code(ancestor) is Tier.CITY:
        return code.startswith(ancestor[:4])
    return len(code) > len(ancestor) and code.startswith(ancestor)


def subtree_prefix(code: str) -> str:
    """Return the prefix that every code within ``code``'s subtree starts with."""
    return code[:4] if tier_of_code(code) is Tier.CITY else code


@cache
def load_divisions(directory: Path = DATA_DIR) -> Divisions:
    """Load the city, its counties, townships and villages."""
    divisions = [Division(CITY_CODE, CITY_NAME, None)]
    for name in ("counties.csv", "townships.csv", "villages.csv"):
        with open(directory / name, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                divisions.append(Division(row["code"], row["name"], row["parent_code"]))
    return Divisions(divisions)
