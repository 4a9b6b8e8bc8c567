"""Routing a case to its handling node by matter tier and delegations."""

from __future__ import annotations

from functools import cache

import pytest

from common.catalog import handling_node, handling_tier
from common.divisions import Tier, load_divisions
from common.errors import InvalidInput
from common.models import Delegation, Matter
from hub.catalog import load_catalog
from sync.releases import matter_row

CITY = "350600"
COUNTY = "350623"  # 漳浦县
TOWNSHIP = "350623100"  # 绥安镇
VILLAGE = "350623100207"  # 炉尾村委会, under 绥安镇
VILLAGE_OF_OTHER_TOWNSHIP = "350623101001"  # under 350623101, same county
VILLAGE_OF_OTHER_COUNTY = "350602001001"  # under 芗城区 (350602)

TOWNSHIP_MATTER = "ZZ-NY-001"  # 农村宅基地审批
COUNTY_MATTER = "ZZ-MZ-001"
CITY_MATTER = "ZZ-RS-001"
# Delegated in the shipped delegations.json: city → county 350623.
FORESTRY = "000164213003"
# Delegated in the shipped delegations.json: county → township 350623100.
OLD_AGE_ALLOWANCE = "ZZ-MZ-002"


@cache
def _shipped() -> dict:
    return load_catalog(load_divisions())


def shipped_matter(code: str) -> Matter:
    """Build the matter row of release 1 from the shipped catalog files."""
    (matter,) = [m for m in _shipped()["matters"] if m["code"] == code]
    return matter_row(1, matter)


def shipped_delegations(code: str) -> list[Delegation]:
    return [
        Delegation(release=1, **d)
        for d in _shipped()["delegations"]
        if d["matter_code"] == code
    ]


def route(code: str, filed_at: str) -> str:
    return handling_node(
        load_divisions(), shipped_matter(code), shipped_delegations(code), filed_at
    )


@pytest.mark.parametrize(
    ("code", "tier"),
    [
        (TOWNSHIP_MATTER, "township"),
        (COUNTY_MATTER, "county"),
        (CITY_MATTER, "city"),
        (FORESTRY, "city"),
        (OLD_AGE_ALLOWANCE, "county"),
    ],
)
def test_shipped_default_tiers(code: str, tier: str) -> None:
    assert shipped_matter(code).handling_tier == tier


@pytest.mark.parametrize(
    ("code", "handler"),
    [
        (TOWNSHIP_MATTER, TOWNSHIP),
        (COUNTY_MATTER, COUNTY),
        (CITY_MATTER, CITY),
    ],
)
def test_village_filing_goes_to_tier(code: str, handler: str) -> None:
    assert route(code, VILLAGE) == handler


@pytest.mark.parametrize(
    ("filed_at", "handler"),
    [
        (VILLAGE, COUNTY),
        (VILLAGE_OF_OTHER_TOWNSHIP, COUNTY),
        (TOWNSHIP, COUNTY),
        (COUNTY, COUNTY),
        (VILLAGE_OF_OTHER_COUNTY, CITY),
        ("350602001", CITY),
        ("350602", CITY),
        (CITY, CITY),
    ],
)
def test_forestry_delegated_to_county(filed_at: str, handler: str) -> None:
    assert route(FORESTRY, filed_at) == handler


@pytest.mark.parametrize(
    ("filed_at", "handler"),
    [
        (VILLAGE, TOWNSHIP),
        (TOWNSHIP, TOWNSHIP),
        (VILLAGE_OF_OTHER_TOWNSHIP, COUNTY),
        ("350623101", COUNTY),
        (COUNTY, COUNTY),
        (VILLAGE_OF_OTHER_COUNTY, "350602"),
    ],
)
def test_allowance_delegated_to_township(filed_at: str, handler: str) -> None:
    assert route(OLD_AGE_ALLOWANCE, filed_at) == handler


def test_delegated_tier_inside_region() -> None:
    tier = handling_tier(
        load_divisions(),
        shipped_matter(FORESTRY),
        shipped_delegations(FORESTRY),
        VILLAGE,
    )
    assert tier is Tier.COUNTY


def test_default_tier_outside_region() -> None:
    tier = handling_tier(
        load_divisions(),
        shipped_matter(FORESTRY),
        shipped_delegations(FORESTRY),
        VILLAGE_OF_OTHER_COUNTY,
    )
    assert tier is Tier.CITY


@pytest.mark.parametrize(
    ("code", "filed_at"),
    [
        (TOWNSHIP_MATTER, COUNTY),
        (TOWNSHIP_MATTER, CITY),
        (COUNTY_MATTER, CITY),
        (OLD_AGE_ALLOWANCE, CITY),
    ],
)
def test_filing_above_tier_raises(code: str, filed_at: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        route(code, filed_at)
    assert "matter_code" in raised.value.details["fields"]
    assert code in raised.value.message


def test_township_matter_at_county_names_tier() -> None:
    with pytest.raises(InvalidInput) as raised:
        route(TOWNSHIP_MATTER, COUNTY)
    assert "township" in raised.value.message


def _matter(code: str, tier: str) -> Matter:
    return Matter(
        release=1,
        code=code,
        name="测试事项",
        department="测试局",
        handling_tier=tier,
        kind="promised",
        legal_limit_working_days=20,
        promised_limit_working_days=10,
        standard={},
    )


def _delegation(code: str, region: str, tier: str) -> Delegation:
    return Delegation(
        release=1, matter_code=code, region=region, handled_by_tier=tier, note=""
    )


@pytest.mark.parametrize(
    ("filed_at", "handler"),
    [
        (VILLAGE, TOWNSHIP),  # the township's own delegation is the most specific
        (VILLAGE_OF_OTHER_TOWNSHIP, COUNTY),  # only the county delegation covers it
        (VILLAGE_OF_OTHER_COUNTY, CITY),  # no delegation covers it
    ],
)
def test_most_specific_delegation_wins(filed_at: str, handler: str) -> None:
    matter = _matter("TEST-001", "city")
    delegations = [
        _delegation("TEST-001", COUNTY, "county"),
        _delegation("TEST-001", TOWNSHIP, "township"),
    ]
    assert handling_node(load_divisions(), matter, delegations, filed_at) == handler


def test_county_wide_delegation_to_townships() -> None:
    # A county may hand a matter to every township of the county at once.
    matter = _matter("TEST-002", "county")
    delegations = [_delegation("TEST-002", COUNTY, "township")]
    divisions = load_divisions()
    assert handling_node(divisions, matter, delegations, VILLAGE) == TOWNSHIP
    assert (
        handling_node(divisions, matter, delegations, VILLAGE_OF_OTHER_TOWNSHIP)
        == "350623101"
    )


def test_county_wide_delegation_at_county_raises() -> None:
    matter = _matter("TEST-003", "county")
    delegations = [_delegation("TEST-003", COUNTY, "township")]
    with pytest.raises(InvalidInput):
        handling_node(load_divisions(), matter, delegations, COUNTY)
