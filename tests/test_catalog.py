"""Catalog files, their checks, the content hash and storing releases."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from common.catalog import content_hash, current_release_number
from common.clock import utcnow
from common.divisions import load_divisions
from common.errors import InvalidInput, ReleaseRejected
from common.models import Delegation, Matter, Release
from hub.catalog import DELEGATIONS, POLICIES, STARTER, load_catalog, publish
from sync.releases import store_release
from tests.federation import RunningNode


def shipped_matters() -> list[dict[str, Any]]:
    with open(STARTER, encoding="utf-8") as f:
        return json.load(f)


def shipped_delegations() -> list[dict[str, Any]]:
    with open(DELEGATIONS, encoding="utf-8") as f:
        return json.load(f)


def index_of(matters: list[dict[str, Any]], code: str) -> int:
    return next(i for i, m in enumerate(matters) if m["code"] == code)


def load_files(
    tmp_path: Path,
    matters: object,
    delegations: object | None = None,
) -> dict[str, Any]:
    """Write the given file contents to ``tmp_path`` and load them as a catalog."""
    matters_path = tmp_path / "matters.json"
    delegations_path = tmp_path / "delegations.json"
    matters_path.write_text(json.dumps(matters, ensure_ascii=False), "utf-8")
    if delegations is None:
        delegations = shipped_delegations()
    delegations_path.write_text(json.dumps(delegations, ensure_ascii=False), "utf-8")
    return load_catalog(load_divisions(), matters_path, delegations_path)


def problems(tmp_path: Path, matters: object, delegations: object = None) -> dict:
    """Load bad files and return the problems, flattened to dotted field paths."""
    with pytest.raises(InvalidInput) as raised:
        load_files(tmp_path, matters, delegations)
    return flatten(raised.value.details)


def flatten(details: dict, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for key, value in details.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


# --- shipped files -------------------------------------------------------------


def test_shipped_catalog_has_18_matters() -> None:
    assert len(load_catalog(load_divisions())["matters"]) == 18


def test_shipped_catalog_has_2_delegations() -> None:
    assert len(load_catalog(load_divisions())["delegations"]) == 2


def test_loaded_matters_sorted_by_code() -> None:
    codes = [m["code"] for m in load_catalog(load_divisions())["matters"]]
    assert codes == sorted(codes)


def test_loaded_delegations_shipped() -> None:
    delegations = load_catalog(load_divisions())["delegations"]
    found = {(d["matter_code"], d["region"], d["handled_by_tier"]) for d in delegations}
    assert found == {
        ("000164213003", "350623", "county"),
        ("ZZ-MZ-002", "350623100", "township"),
    }


# --- bad matters ---------------------------------------------------------------


def test_promised_over_legal_limit(tmp_path: Path) -> None:
    matters = shipped_matters()
    index = index_of(matters, "ZZ-MZ-001")  # legal limit 30
    matters[index]["promised_limit_working_days"] = 31
    found = problems(tmp_path, matters)
    reasons = found[f"matters.{index}.promised_limit_working_days"]
    assert "exceeds the legal limit" in reasons[0]


def test_promised_equal_legal_limit_accepted(tmp_path: Path) -> None:
    matters = shipped_matters()
    index = index_of(matters, "ZZ-MZ-001")
    matters[index]["promised_limit_working_days"] = 30
    assert len(load_files(tmp_path, matters)["matters"]) == 18


def test_immediate_with_promised_days(tmp_path: Path) -> None:
    matters = shipped_matters()
    index = index_of(matters, "ZZ-WJ-001")  # an immediate matter
    matters[index]["promised_limit_working_days"] = 2
    found = problems(tmp_path, matters)
    reasons = found[f"matters.{index}.promised_limit_working_days"]
    assert "promised limit is 0" in reasons[0]


@pytest.mark.parametrize("tier", ["province", "village", "City", ""])
def test_unknown_handling_tier(tmp_path: Path, tier: str) -> None:
    matters = shipped_matters()
    matters[2]["handling_tier"] = tier
    assert "matters.2.handling_tier" in problems(tmp_path, matters)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "urgent"),
        ("promised_limit_working_days", -1),
        ("promised_limit_working_days", "five"),
        ("legal_limit_working_days", 3651),
        ("code", ""),
        ("name", None),
    ],
)
def test_invalid_matter_field(tmp_path: Path, field: str, value: object) -> None:
    matters = shipped_matters()
    matters[4][field] = value
    assert f"matters.4.{field}" in problems(tmp_path, matters)


@pytest.mark.parametrize(
    "field", ["code", "name", "department", "handling_tier", "kind"]
)
def test_missing_matter_field(tmp_path: Path, field: str) -> None:
    matters = shipped_matters()
    del matters[1][field]
    assert f"matters.1.{field}" in problems(tmp_path, matters)


def test_duplicate_matter_code(tmp_path: Path) -> None:
    matters = shipped_matters()
    first = index_of(matters, "ZZ-CL-001")
    second = index_of(matters, "ZZ-CL-002")
    matters[second]["code"] = "ZZ-CL-001"
    found = problems(tmp_path, matters)
    assert f"matters.{max(first, second)}.code" in found
    assert "ZZ-CL-001" in found[f"matters.{max(first, second)}.code"][0]


def test_every_bad_matter_listed(tmp_path: Path) -> None:
    matters = shipped_matters()
    matters[0]["handling_tier"] = "province"
    matters[7]["kind"] = "urgent"
    found = problems(tmp_path, matters)
    assert "matters.0.handling_tier" in found
    assert "matters.7.kind" in found


def test_matters_file_not_a_list(tmp_path: Path) -> None:
    assert "matters" in problems(tmp_path, {"code": "ZZ-MZ-001"})


def test_matters_file_not_json(tmp_path: Path) -> None:
    path = tmp_path / "matters.json"
    path.write_text("[{", "utf-8")
    with pytest.raises(InvalidInput) as raised:
        load_catalog(load_divisions(), path, DELEGATIONS)
    assert raised.value.details == {"file": str(path)}


def test_matters_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(InvalidInput) as raised:
        load_catalog(load_divisions(), path, DELEGATIONS)
    assert str(path) in raised.value.message


# --- bad delegations -----------------------------------------------------------


def bad_delegation(**changes: str) -> list[dict[str, Any]]:
    delegations = shipped_delegations()
    delegations[1].update(changes)
    return delegations


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"matter_code": "ZZ-NONE-999"}, "unknown matter ZZ-NONE-999"),
        # 350200 is Xiamen, a neighbouring city.
        ({"region": "350200"}, "region 350200 is not a Zhangzhou division"),
        ({"region": "350623100999"}, "region 350623100999 is not a Zhangzhou"),
        # ZZ-MZ-002 is a county matter: a delegation may not move it up ...
        ({"handled_by_tier": "city"}, "must move it lower, not to city"),
        # ... nor keep it at its own tier.
        (
            {"region": "350623", "handled_by_tier": "county"},
            "must move it lower, not to county",
        ),
        # A village contains no township center.
        ({"region": "350623100207"}, "it holds no township center"),
    ],
)
def test_inconsistent_delegation(
    tmp_path: Path, changes: dict[str, str], reason: str
) -> None:
    found = problems(tmp_path, shipped_matters(), bad_delegation(**changes))
    messages = [
        m for path in found if path.startswith("delegations.1") for m in found[path]
    ]
    assert any(reason in message for message in messages), found


def test_delegation_of_township_matter_up(tmp_path: Path) -> None:
    delegations = shipped_delegations() + [
        {"matter_code": "ZZ-NY-001", "region": "350623", "handled_by_tier": "county"}
    ]
    found = problems(tmp_path, shipped_matters(), delegations)
    assert any(path.startswith("delegations.2") for path in found)


def test_delegation_problems_name_fields(tmp_path: Path) -> None:
    delegations = [
        {"matter_code": "ZZ-NONE-999", "region": "350623", "handled_by_tier": "county"},
        {"matter_code": "ZZ-MZ-002", "region": "350200", "handled_by_tier": "township"},
        {"matter_code": "ZZ-MZ-002", "region": "350623", "handled_by_tier": "city"},
    ]
    found = problems(tmp_path, shipped_matters(), delegations)
    assert "delegations.0.matter_code" in found
    assert "delegations.1.region" in found
    assert "delegations.2.handled_by_tier" in found


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"region": "35062"}, "region"),
        ({"region": "abcdef"}, "region"),
        ({"handled_by_tier": "village"}, "handled_by_tier"),
        ({"matter_code": ""}, "matter_code"),
    ],
)
def test_invalid_delegation_field(
    tmp_path: Path, changes: dict[str, str], field: str
) -> None:
    found = problems(tmp_path, shipped_matters(), bad_delegation(**changes))
    assert f"delegations.1.{field}" in found


# --- content hash --------------------------------------------------------------


def test_hash_ignores_key_order() -> None:
    content = load_catalog(load_divisions())
    reordered = json.loads(json.dumps(content, sort_keys=True))
    reversed_keys = reverse_keys(content)
    assert content_hash(reordered) == content_hash(content)
    assert content_hash(reversed_keys) == content_hash(content)


def test_hash_changes_with_value() -> None:
    content = load_catalog(load_divisions())
    changed = copy.deepcopy(content)
    changed["matters"][0]["promised_limit_working_days"] += 1
    assert content_hash(changed) != content_hash(content)


def test_hash_changes_with_list_order() -> None:
    content = load_catalog(load_divisions())
    changed = copy.deepcopy(content)
    changed["matters"].reverse()
    assert content_hash(changed) != content_hash(content)


def test_hash_ignores_file_order(tmp_path: Path) -> None:
    matters = shipped_matters()[::-1]
    delegations = shipped_delegations()[::-1]
    loaded = load_files(tmp_path, matters, delegations)
    assert content_hash(loaded) == content_hash(load_catalog(load_divisions()))


def test_hash_is_sha256_hex() -> None:
    digest = content_hash({"matters": [], "delegations": []})
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


def reverse_keys(value: object) -> object:
    if isinstance(value, dict):
        return {key: reverse_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reverse_keys(item) for item in value]
    return value


# --- storing releases at a node ------------------------------------------------


def wire(number: int, content: dict[str, Any], digest: str | None = None) -> dict:
    """Return a release as it travels from parent to child."""
    return {
        "number": number,
        "content_hash": digest or content_hash(content),
        "published_at": utcnow().isoformat(),
        "content": content,
    }


def changed_content() -> dict[str, Any]:
    """Return the shipped catalog with one promised limit shortened."""
    content = load_catalog(load_divisions())
    matter = next(m for m in content["matters"] if m["code"] == "ZZ-MZ-001")
    matter["promised_limit_working_days"] = 20
    return content


def held_releases(city: RunningNode) -> list[int]:
    with city.context.db.transaction() as session:
        return list(session.scalars(select(Release.number).order_by(Release.number)))


def matter_count(city: RunningNode, release: int) -> int:
    with city.context.db.transaction() as session:
        query = select(func.count()).select_from(Matter)
        return session.scalar(query.where(Matter.release == release))


def offer(city: RunningNode, release: dict[str, Any]) -> bool:
    with city.context.db.transaction() as session:
        return store_release(city.context, session, release)


def test_city_starts_at_release_1(city: RunningNode) -> None:
    assert held_releases(city) == [1]
    assert matter_count(city, 1) == 18


def test_next_release_stored(city: RunningNode) -> None:
    assert offer(city, wire(2, changed_content())) is True
    assert held_releases(city) == [1, 2]
    assert matter_count(city, 2) == 18


def test_next_release_stores_delegations(city: RunningNode) -> None:
    offer(city, wire(2, changed_content()))
    with city.context.db.transaction() as session:
        query = select(func.count()).select_from(Delegation)
        assert session.scalar(query.where(Delegation.release == 2)) == 2


def test_release_keeps_old_standard(city: RunningNode) -> None:
    offer(city, wire(2, changed_content()))
    with city.context.db.transaction() as session:
        old = session.get(Matter, (1, "ZZ-MZ-001"))
        new = session.get(Matter, (2, "ZZ-MZ-001"))
        assert old.promised_limit_working_days == 25
        assert new.promised_limit_working_days == 20


def test_same_release_again_ignored(city: RunningNode) -> None:
    with city.context.db.transaction() as session:
        stored = session.get(Release, 1)
        again = wire(1, stored.content, stored.content_hash)
    assert offer(city, again) is False
    assert held_releases(city) == [1]


def test_older_release_after_newer_ignored(city: RunningNode) -> None:
    with city.context.db.transaction() as session:
        stored = session.get(Release, 1)
        first = wire(1, stored.content, stored.content_hash)
    offer(city, wire(2, changed_content()))
    assert offer(city, first) is False
    with city.context.db.transaction() as session:
        assert current_release_number(session) == 2


def test_older_release_with_other_content_rejected(city: RunningNode) -> None:
    offer(city, wire(2, changed_content()))
    older = changed_content()
    older["matters"][0]["name"] = "改名的事项"
    with pytest.raises(ReleaseRejected) as raised:
        offer(city, wire(1, older))
    assert raised.value.details["number"] == 1
    assert held_releases(city) == [1, 2]


def test_release_zero_rejected(city: RunningNode) -> None:
    with pytest.raises(ReleaseRejected) as raised:
        offer(city, wire(0, changed_content()))
    assert "number" in raised.value.details
    assert held_releases(city) == [1]


def test_skipped_number_rejected(city: RunningNode) -> None:
    with pytest.raises(ReleaseRejected) as raised:
        offer(city, wire(3, changed_content()))
    assert raised.value.details == {"number": 3, "expected": 2}
    assert held_releases(city) == [1]


def test_skipped_number_stores_no_matters(city: RunningNode) -> None:
    with pytest.raises(ReleaseRejected):
        offer(city, wire(3, changed_content()))
    assert matter_count(city, 3) == 0


def test_hash_mismatch_rejected(city: RunningNode) -> None:
    content = changed_content()
    digest = content_hash(load_catalog(load_divisions()))
    with pytest.raises(ReleaseRejected) as raised:
        offer(city, wire(2, content, digest))
    assert "corrupt" in raised.value.message
    assert held_releases(city) == [1]


def test_hash_mismatch_stores_no_matters(city: RunningNode) -> None:
    with pytest.raises(ReleaseRejected):
        offer(city, wire(2, changed_content(), "0" * 64))
    assert matter_count(city, 2) == 0


def test_divergent_release_rejected(city: RunningNode) -> None:
    with city.context.db.transaction() as session:
        held_hash = session.get(Release, 1).content_hash
    offered = wire(1, changed_content())
    with pytest.raises(ReleaseRejected) as raised:
        offer(city, offered)
    assert raised.value.details["held_hash"] == held_hash
    assert raised.value.details["offered_hash"] == offered["content_hash"]


def test_divergent_release_keeps_held(city: RunningNode) -> None:
    with pytest.raises(ReleaseRejected):
        offer(city, wire(1, changed_content()))
    with city.context.db.transaction() as session:
        matter = session.get(Matter, (1, "ZZ-MZ-001"))
        assert matter.promised_limit_working_days == 25


def test_invalid_release_content_rejected(city: RunningNode) -> None:
    content = changed_content()
    content["matters"][0]["handling_tier"] = "province"
    with pytest.raises(ReleaseRejected) as raised:
        offer(city, wire(2, content))
    assert "content" in raised.value.details
    assert held_releases(city) == [1]


def test_rejection_is_conflict(city: RunningNode) -> None:
    with pytest.raises(ReleaseRejected) as raised:
        offer(city, wire(3, changed_content()))
    assert raised.value.status == 409


def test_publish_unchanged_catalog_is_noop(city: RunningNode) -> None:
    context = city.context
    with context.db.transaction() as session:
        release = publish(context, session, load_catalog(context.divisions))
    assert release is None
    assert held_releases(city) == [1]


def test_publish_changed_catalog(city: RunningNode) -> None:
    context = city.context
    with context.db.transaction() as session:
        release = publish(context, session, changed_content())
        assert release is not None
        assert release.number == 2


def test_shipped_policies_in_release(city: RunningNode) -> None:
    from common.catalog import policies

    shipped = json.loads(POLICIES.read_text(encoding="utf-8"))
    with city.context.db.transaction() as session:
        assert policies(session) == shipped


def test_policy_out_of_range_rejected(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    path.write_text(json.dumps({"bad_review_rectify_working_days": 30}))
    with pytest.raises(InvalidInput) as raised:
        load_catalog(load_divisions(), policies_path=path)
    assert "policies.bad_review_rectify_working_days" in raised.value.details


def test_missing_policies_take_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policies.json"
    path.write_text("{}")
    content = load_catalog(load_divisions(), policies_path=path)
    assert content["policies"]["deductions"]["overdue_case"] == 2
