"""Division codes of Zhangzhou: tiers, parents, counts and the tree."""

from __future__ import annotations

from functools import cache

import pytest

from common.divisions import (
    CITY_CODE,
    Tier,
    is_within,
    load_divisions,
    parent_of_code,
    tier_of_code,
)
from common.errors import UnknownDivision

CITY = "350600"
COUNTY = "350623"  # 漳浦县
TOWNSHIP = "350623100"  # 绥安镇
VILLAGE = "350623100207"  # 炉尾村委会
OTHER_TOWNSHIP = "350623101"  # a township of the same county
OTHER_VILLAGE = "350602001001"  # a community of 芗城区, another county


@pytest.mark.parametrize(
    ("code", "tier", "parent"),
    [
        (CITY, Tier.CITY, None),
        (COUNTY, Tier.COUNTY, CITY),
        (TOWNSHIP, Tier.TOWNSHIP, COUNTY),
        (VILLAGE, Tier.VILLAGE, TOWNSHIP),
    ],
)
def test_code_gives_tier_and_parent(code: str, tier: Tier, parent: str | None) -> None:
    assert tier_of_code(code) is tier
    assert parent_of_code(code) == parent


@pytest.mark.parametrize(
    ("code", "tier", "parent"),
    [
        (CITY, Tier.CITY, None),
        (COUNTY, Tier.COUNTY, CITY),
        (TOWNSHIP, Tier.TOWNSHIP, COUNTY),
        (VILLAGE, Tier.VILLAGE, TOWNSHIP),
    ],
)
def test_loaded_division_matches_code(
    code: str, tier: Tier, parent: str | None
) -> None:
    division = load_divisions().get(code)
    assert division.tier is tier
    assert division.parent_code == parent


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (CITY, "漳州市"),
        (COUNTY, "漳浦县"),
        (TOWNSHIP, "绥安镇"),
        (VILLAGE, "炉尾村委会"),
    ],
)
def test_division_names(code: str, name: str) -> None:
    assert load_divisions().get(code).name == name


def test_tier_ranks_follow_tree_depth() -> None:
    ranks = [
        tier.rank for tier in (Tier.CITY, Tier.COUNTY, Tier.TOWNSHIP, Tier.VILLAGE)
    ]
    assert ranks == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("tier", "count"),
    [
        (Tier.CITY, 1),
        (Tier.COUNTY, 11),
        (Tier.TOWNSHIP, 147),
        (Tier.VILLAGE, 2118),
    ],
)
def test_division_counts_per_tier(tier: Tier, count: int) -> None:
    divisions = load_divisions()
    codes = [code for code in _all_codes() if divisions.get(code).tier is tier]
    assert len(codes) == count


def test_division_count_in_total() -> None:
    assert len(load_divisions()) == 2277


def test_every_parent_is_a_division() -> None:
    divisions = load_divisions()
    orphans = [
        code
        for code in _all_codes()
        if divisions.get(code).parent_code is not None
        and divisions.get(code).parent_code not in divisions
    ]
    assert orphans == []


def test_every_parent_follows_from_code() -> None:
    divisions = load_divisions()
    mismatched = [
        code
        for code in _all_codes()
        if divisions.get(code).parent_code != parent_of_code(code)
    ]
    assert mismatched == []


def test_city_children_are_counties() -> None:
    children = load_divisions().children(CITY_CODE)
    assert len(children) == 11
    assert {child.tier for child in children} == {Tier.COUNTY}


@pytest.mark.parametrize(
    "code",
    [
        "350700",  # 南平市, another city of Fujian
        "350699",  # county-shaped, but no such county
        "350623999",  # township-shaped, but no such township
        "350623100999",  # village-shaped, but no such village
    ],
)
def test_unknown_code_raises(code: str) -> None:
    with pytest.raises(UnknownDivision) as raised:
        load_divisions().get(code)
    assert code in raised.value.message
    assert raised.value.details == {"code": code}


@pytest.mark.parametrize(
    "code",
    [
        "",
        "3506",
        "35062",
        "3506231",
        "3506231002",
        "3506231002070",
        "35062a",
        " 350623",
        "350623\n",
        "-350623",
        "３５０６２３",  # full-width digits, as a Chinese input method types them
    ],
)
def test_malformed_code_raises(code: str) -> None:
    with pytest.raises(UnknownDivision) as raised:
        tier_of_code(code)
    assert repr(code) in raised.value.message


@pytest.mark.parametrize("code", ["", "35062", "3506231002070", "35062a"])
def test_parent_of_malformed_code_raises(code: str) -> None:
    with pytest.raises(UnknownDivision):
        parent_of_code(code)


@pytest.mark.parametrize("code", ["", "35062", "35062a"])
def test_get_malformed_code_raises(code: str) -> None:
    with pytest.raises(UnknownDivision) as raised:
        load_divisions().get(code)
    assert raised.value.details == {"code": code}


def test_unknown_division_is_client_error() -> None:
    with pytest.raises(UnknownDivision) as raised:
        load_divisions().get("999999")
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("code", "ancestor", "expected"),
    [
        (VILLAGE, VILLAGE, True),
        (VILLAGE, TOWNSHIP, True),
        (VILLAGE, COUNTY, True),
        (VILLAGE, CITY, True),
        (TOWNSHIP, COUNTY, True),
        (TOWNSHIP, CITY, True),
        (COUNTY, CITY, True),
        (CITY, CITY, True),
        (OTHER_VILLAGE, CITY, True),
        # Codes of one county do not start with the city's 6 digits.
        ("350602", CITY, True),
        (OTHER_VILLAGE, COUNTY, False),
        (OTHER_VILLAGE, TOWNSHIP, False),
        ("350623101001", TOWNSHIP, False),
        (OTHER_TOWNSHIP, TOWNSHIP, False),
        (CITY, COUNTY, False),
        (COUNTY, TOWNSHIP, False),
        (TOWNSHIP, VILLAGE, False),
        ("350700", CITY, False),
        ("350701", CITY, False),
        ("350701001", CITY, False),
    ],
)
def test_is_within(code: str, ancestor: str, expected: bool) -> None:
    assert is_within(code, ancestor) is expected


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        (Tier.CITY, CITY),
        (Tier.COUNTY, COUNTY),
        (Tier.TOWNSHIP, TOWNSHIP),
        (Tier.VILLAGE, VILLAGE),
    ],
)
def test_ancestor_at_of_village(tier: Tier, expected: str) -> None:
    ancestor = load_divisions().ancestor_at(VILLAGE, tier)
    assert ancestor is not None
    assert ancestor.code == expected


@pytest.mark.parametrize(
    ("code", "tier"),
    [
        (CITY, Tier.COUNTY),
        (CITY, Tier.VILLAGE),
        (COUNTY, Tier.TOWNSHIP),
        (TOWNSHIP, Tier.VILLAGE),
    ],
)
def test_ancestor_at_lower_tier_is_none(code: str, tier: Tier) -> None:
    assert load_divisions().ancestor_at(code, tier) is None


def test_ancestor_at_unknown_code_raises() -> None:
    with pytest.raises(UnknownDivision) as raised:
        load_divisions().ancestor_at("350623100999", Tier.COUNTY)
    assert raised.value.details == {"code": "350623100999"}


def test_ancestors_run_up_to_city() -> None:
    chain = [d.code for d in load_divisions().ancestors(VILLAGE)]
    assert chain == [VILLAGE, TOWNSHIP, COUNTY, CITY]


@pytest.mark.parametrize(
    ("code", "county"),
    [(VILLAGE, COUNTY), (TOWNSHIP, COUNTY), (COUNTY, COUNTY), (CITY, None)],
)
def test_county_of(code: str, county: str | None) -> None:
    assert load_divisions().county_of(code) == county


@cache
def _all_codes() -> list[str]:
    """Return every code reachable from the city, walking down by children."""
    divisions = load_divisions()
    codes = [CITY_CODE]
    index = 0
    while index < len(codes):
        codes.extend(child.code for child in divisions.children(codes[index]))
        index += 1
    return codes
