"""Entry rates (进驻率) per county and tier, from the catalog release."""

from __future__ import annotations

from typing import Any

from hub.catalog import load_catalog, publish
from hub.entry_rates import entry_rate_rows
from tests.federation import Browser, Federation, RunningNode

CITY = "350600"
ZHANGPU = "350623"  # has both example delegations
LONGHAI = "350604"  # 龙海区, has no delegations
FORESTRY = "000164213003"  # city matter delegated to 350623
OLD_AGE = "ZZ-MZ-002"  # county matter delegated to township 350623100
LOW_INCOME = "ZZ-MZ-001"  # county matter, 民政局


def rows_of(city: RunningNode) -> dict[tuple[str, str], dict[str, Any]]:
    context = city.context
    with context.db.transaction() as session:
        rows = entry_rate_rows(context, session)
    return {(row["county_code"], row["tier"]): row for row in rows}


def publish_changed(city: RunningNode, codes: list[str], **changes: Any) -> None:
    """Publish the starter catalog with the same fields changed on each matter of ``codes``."""
    context = city.context
    content = load_catalog(context.divisions)
    for matter in content["matters"]:
        if matter["code"] in codes:
            matter.update(changes)
    with context.db.transaction() as session:
        assert publish(context, session, content) is not None


def test_city_row_counts_city_matters(city: RunningNode) -> None:
    row = rows_of(city)[(CITY, "city")]

    assert row["county_name"] == "市本级"
    assert row["matters"] == 4
    assert FORESTRY in row["matter_codes"]


def test_delegated_matter_counts_at_county(city: RunningNode) -> None:
    rows = rows_of(city)

    assert FORESTRY in rows[(ZHANGPU, "county")]["matter_codes"]
    assert FORESTRY not in rows[(LONGHAI, "county")]["matter_codes"]


def test_township_delegation_keeps_county(city: RunningNode) -> None:
    rows = rows_of(city)

    assert OLD_AGE in rows[(ZHANGPU, "township")]["matter_codes"]
    assert OLD_AGE in rows[(ZHANGPU, "county")]["matter_codes"]
    assert OLD_AGE not in rows[(LONGHAI, "township")]["matter_codes"]


def test_county_without_delegations(city: RunningNode) -> None:
    row = rows_of(city)[(LONGHAI, "county")]

    assert row["matters"] == 11
    assert row["departments"] == 7


def test_default_all_in_center(city: RunningNode) -> None:
    for row in rows_of(city).values():
        assert row["matter_rate"] == 1.0, row
        assert row["department_rate"] == 1.0, row


def test_default_authorizes_immediate_only(city: RunningNode) -> None:
    row = rows_of(city)[(LONGHAI, "county")]

    # Of the 11 county matters only 结婚登记 is an on-the-spot matter.
    assert row["authorized"] == 1
    assert row["authorization_rate"] == round(1 / 11, 4)


def test_matter_outside_center_lowers_rate(city: RunningNode) -> None:
    publish_changed(city, [LOW_INCOME], in_center=False)

    row = rows_of(city)[(LONGHAI, "county")]

    assert row["matters_in_center"] == 10
    assert row["matter_rate"] == round(10 / 11, 4)
    assert row["department_rate"] == 1.0


def test_department_outside_center(city: RunningNode) -> None:
    civil_affairs = ["ZZ-MZ-001", "000511002000", "ZZ-MZ-002", "ZZ-MZ-003"]
    publish_changed(city, civil_affairs, in_center=False)

    row = rows_of(city)[(LONGHAI, "county")]

    assert row["departments_in_center"] == 6
    assert row["department_rate"] == round(6 / 7, 4)


def test_stated_authorization_counts(city: RunningNode) -> None:
    publish_changed(city, [LOW_INCOME], window_authorized=True)

    row = rows_of(city)[(LONGHAI, "county")]

    assert row["authorized"] == 2


def test_no_release_no_rows(federation: Federation) -> None:
    city = federation.start(CITY)

    assert rows_of(city) == {}


def test_api_lists_rows(city: RunningNode) -> None:
    response = city.get("/api/hub/entry-rates")

    assert response.status_code == 200, response.text
    assert {row["tier"] for row in response.json()} == {"city", "county", "township"}


def test_api_only_at_city(city: RunningNode, federation: Federation) -> None:
    county = federation.start(ZHANGPU)

    response = county.get("/api/hub/entry-rates")

    assert response.status_code == 404


def test_dashboard_shows_table(city: RunningNode) -> None:
    response = Browser(city).get("/hub")

    assert response.status_code == 200
    assert "进驻率" in response.text
    assert "市本级" in response.text
