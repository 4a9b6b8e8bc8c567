"""A filing under a catalog release the handling node lacks waits, then applies.

A release reaches a village through its handling node, so the handling
node lacks it only after losing releases, for example when it was restored
from a backup. The filing is then held for a transient reason and applied
once the release arrives again, without an administrator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from sqlalchemy import select

from common.catalog import current_release_number
from common.keys import event_text, personal_text, sign
from common.models import Case, QuarantinedEvent
from hub.catalog import load_catalog, publish
from tests.conftest import VALID_ID, required_materials
from tests.federation import Federation, RunningNode, signed_post, stand_in

CITY = "350600"
COUNTY = "350623"
TOWNSHIP = "350623100"
CASE_ID = f"{TOWNSHIP}-000001"
COUNTY_MATTER = "ZZ-MZ-001"


@pytest.fixture
def county(federation: Federation) -> RunningNode:
    """A county holding release 1, while the city has published release 2."""
    federation.start(CITY)
    federation.publish_catalog()
    node = federation.start(COUNTY)
    federation.sync()
    city = federation.nodes[CITY].context
    with city.db.transaction() as session:
        content = load_catalog(city.divisions)
        content["matters"][0]["name"] += "（修订）"
        assert publish(city, session, content) is not None
    return node


def filing(county: RunningNode, release: int) -> dict[str, Any]:
    """Return the township's signed application event for a county matter."""
    signer = stand_in(county, TOWNSHIP)
    event = {
        "origin": TOWNSHIP,
        "seq": 1,
        "kind": "application.filed",
        "case_id": CASE_ID,
        "destination": COUNTY,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "payload": {
            "case_id": CASE_ID,
            "matter_code": COUNTY_MATTER,
            "release": release,
            "filed_at": TOWNSHIP,
            "materials": required_materials(COUNTY_MATTER),
            "applicant_pseudonym": "0" * 64,
        },
        "personal": {"name": "张三", "id_number": VALID_ID, "phone": "13800138000"},
        "key_id": signer.key_id,
    }
    event["signature"] = sign(signer.private_key, event_text(event))
    event["personal_signature"] = sign(signer.private_key, personal_text(event))
    return event


def send(county: RunningNode, event: dict[str, Any]) -> requests.Response:
    body = {"sender": TOWNSHIP, "events": [event]}
    return signed_post(county, TOWNSHIP, "/sync/events", body)


def case_exists(county: RunningNode) -> bool:
    with county.context.db.transaction() as session:
        return session.get(Case, CASE_ID) is not None


def hold(county: RunningNode) -> QuarantinedEvent | None:
    with county.context.db.transaction() as session:
        row = session.scalar(select(QuarantinedEvent))
        if row is not None:
            session.expunge(row)
        return row


def test_filing_acknowledged(county: RunningNode) -> None:
    response = send(county, filing(county, release=2))
    assert response.status_code == 200, response.text


def test_filing_held_transient(county: RunningNode) -> None:
    send(county, filing(county, release=2))
    row = hold(county)
    assert row is not None
    assert row.transient is True


def test_hold_names_release(county: RunningNode) -> None:
    send(county, filing(county, release=2))
    row = hold(county)
    assert row is not None
    assert "release 2" in row.reason


def test_no_case_before_release(county: RunningNode) -> None:
    send(county, filing(county, release=2))
    assert not case_exists(county)


def test_case_created_after_release(
    federation: Federation, county: RunningNode
) -> None:
    send(county, filing(county, release=2))
    federation.sync()
    assert case_exists(county)


def test_hold_resolved_after_release(
    federation: Federation, county: RunningNode
) -> None:
    send(county, filing(county, release=2))
    federation.sync()
    row = hold(county)
    assert row is not None
    assert row.resolved_at is not None


def test_release_arrived(federation: Federation, county: RunningNode) -> None:
    federation.sync()
    with county.context.db.transaction() as session:
        assert current_release_number(session) == 2
