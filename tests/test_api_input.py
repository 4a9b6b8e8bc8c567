"""Bad input to a node's HTTP API: rejected with the field and reason, nothing kept.

Every request goes to a real city node on loopback, with catalog release 1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from stdnum.cn import ric

from common.models import Event, OriginState
from hub.models import HubCase
from tests.conftest import VALID_ID, application
from tests.federation import RunningNode, signed_post

# A city matter, so that the city itself handles it and makes a case.
CITY_MATTER = "ZZ-RS-001"
CITY_MATERIAL = "居民身份证或居民户口簿"
COUNTY = "350623"


def applicant(**changes: object) -> dict[str, object]:
    person: dict[str, object] = {
        "name": "张三",
        "id_number": VALID_ID,
        "phone": "13800000000",
    }
    person.update(changes)
    return person


def without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """Return ``body`` without the field at ``path``."""
    trimmed = {**body, "applicant": dict(body["applicant"])}
    parent = trimmed["applicant"] if len(path) == 2 else trimmed
    del parent[path[-1]]
    return trimmed


def valid_body(**changes: object) -> dict[str, Any]:
    """Return a valid filing of a city matter, with top-level fields replaced."""
    body = application(CITY_MATTER)
    body.update(changes)
    return body


def id_with_check_digit(first_17: str) -> str:
    return first_17 + ric.calc_check_digit(first_17)


def wrong_check_digit(number: str) -> str:
    digits = "0123456789X"
    right = number[-1]
    return number[:-1] + digits[(digits.index(right) + 1) % len(digits)]


def field_reasons(response: requests.Response, path: str) -> object:
    """Return the reasons given for the field at dotted ``path``, or None."""
    node: object = response.json()["error"]["details"].get("fields", {})
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def event_count(city: RunningNode) -> int:
    with city.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Event))


def stored_applications(city: RunningNode) -> list[dict[str, Any]]:
    return city.get("/api/applications").json()


BAD_FILINGS = [
    # (case id, body, field path)
    ("no matter_code", without(valid_body(), "matter_code"), "matter_code"),
    ("no applicant", without(valid_body(), "applicant"), "applicant"),
    ("no name", without(valid_body(), "applicant", "name"), "applicant.name"),
    (
        "no id_number",
        without(valid_body(), "applicant", "id_number"),
        "applicant.id_number",
    ),
    ("no phone", without(valid_body(), "applicant", "phone"), "applicant.phone"),
    (
        "wrong check digit",
        valid_body(applicant=applicant(id_number=wrong_check_digit(VALID_ID))),
        "applicant.id_number",
    ),
    (
        "impossible birth date",
        valid_body(
            applicant=applicant(id_number=id_with_check_digit("11010519491331002"))
        ),
        "applicant.id_number",
    ),
    (
        "short id_number",
        valid_body(applicant=applicant(id_number="1101051949")),
        "applicant.id_number",
    ),
    (
        "bad phone",
        valid_body(applicant=applicant(phone="12345")),
        "applicant.phone",
    ),
    ("empty name", valid_body(applicant=applicant(name="")), "applicant.name"),
    ("long name", valid_body(applicant=applicant(name="张" * 101)), "applicant.name"),
    ("empty matter_code", valid_body(matter_code=""), "matter_code"),
    ("unknown matter", valid_body(matter_code="ZZ-NONE-999"), "matter_code"),
    # A county matter has no handling node when filed at the city.
    ("matter below node", valid_body(matter_code="ZZ-MZ-001"), "matter_code"),
    ("matter_code number", valid_body(matter_code=123), "matter_code"),
    ("matter_code null", valid_body(matter_code=None), "matter_code"),
    ("applicant string", valid_body(applicant="张三"), "applicant"),
    ("applicant list", valid_body(applicant=["张三"]), "applicant"),
    ("name number", valid_body(applicant=applicant(name=42)), "applicant.name"),
    (
        "id_number number",
        valid_body(applicant=applicant(id_number=110105194912310020)),
        "applicant.id_number",
    ),
    (
        "phone number",
        valid_body(applicant=applicant(phone=13800000000)),
        "applicant.phone",
    ),
    ("materials string", valid_body(materials=CITY_MATERIAL), "materials"),
    ("material number", valid_body(materials=[1]), "materials.0"),
    ("unknown material", valid_body(materials=["户口本原件"]), "materials"),
    (
        "too many materials",
        valid_body(materials=[CITY_MATERIAL] * 51),
        "materials",
    ),
    ("unknown field", valid_body(urgent=True), "urgent"),
    (
        "unknown applicant field",
        valid_body(applicant=applicant(email="zhangsan@example.com")),
        "applicant.email",
    ),
]


@pytest.mark.parametrize(
    ("body", "path"),
    [(body, path) for _, body, path in BAD_FILINGS],
    ids=[case for case, _, _ in BAD_FILINGS],
)
def test_bad_filing_rejected(
    city: RunningNode, body: dict[str, Any], path: str
) -> None:
    response = city.post("/api/applications", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    reasons = field_reasons(response, path)
    assert reasons, f"no reason for {path} in {response.json()['error']}"
    assert stored_applications(city) == []
    assert event_count(city) == 0


def test_valid_filing_accepted(city: RunningNode) -> None:
    # The counterpart of the bad filings: the same body, unchanged, is stored.
    response = city.post("/api/applications", json=valid_body())
    assert response.status_code == 201
    assert len(stored_applications(city)) == 1
    assert event_count(city) == 1


def test_id_number_lowercase_x_accepted(city: RunningNode) -> None:
    body = valid_body(applicant=applicant(id_number=VALID_ID.lower()))
    assert city.post("/api/applications", json=body).status_code == 201


def test_check_digit_reason(city: RunningNode) -> None:
    body = valid_body(applicant=applicant(id_number=wrong_check_digit(VALID_ID)))
    response = city.post("/api/applications", json=body)
    (reason,) = field_reasons(response, "applicant.id_number")
    assert "check digit" in reason


def test_unknown_material_named(city: RunningNode) -> None:
    response = city.post("/api/applications", json=valid_body(materials=["户口本原件"]))
    (reason,) = field_reasons(response, "materials")
    assert "户口本原件" in reason


def test_array_body_rejected(city: RunningNode) -> None:
    response = city.post("/api/applications", json=[valid_body()])
    assert response.status_code == 400
    assert field_reasons(response, "_schema")
    assert stored_applications(city) == []
    assert event_count(city) == 0


def test_malformed_json_rejected(city: RunningNode) -> None:
    response = city.post(
        "/api/applications",
        data="{bad",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert response.json()["error"]["details"]
    assert stored_applications(city) == []
    assert event_count(city) == 0


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/json"}, {}],
    ids=["json content type", "no content type"],
)
def test_empty_body_rejected(city: RunningNode, headers: dict[str, str]) -> None:
    response = city.post("/api/applications", data=b"", headers=headers)
    assert response.status_code == 400
    assert field_reasons(response, "matter_code")
    assert field_reasons(response, "applicant")
    assert stored_applications(city) == []
    assert event_count(city) == 0


def test_oversized_body_rejected(city: RunningNode) -> None:
    # Flask rejects bodies over MAX_CONTENT_LENGTH (16 MB) before reading them.
    body = b'{"matter_code": "' + b"x" * (16 * 1024 * 1024) + b'"}'
    response = city.post(
        "/api/applications",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["message"]
    assert stored_applications(city) == []
    assert event_count(city) == 0


# --- cases -----------------------------------------------------------------------


def file_city_case(city: RunningNode) -> str:
    """File a city matter at the city, which receives it as a case at once."""
    response = city.post("/api/applications", json=valid_body())
    assert response.status_code == 201
    return response.json()["id"]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("accept", None),
        ("reject", {"reason": "材料不齐"}),
        ("complete", {"result": "准予办理"}),
    ],
)
def test_action_on_unknown_case(
    city: RunningNode, action: str, body: dict[str, str] | None
) -> None:
    response = city.post(f"/api/cases/350600-999999/{action}", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["details"]["case_id"] == "350600-999999"
    assert event_count(city) == 0


@pytest.mark.parametrize(
    "path",
    ["/api/cases/350600-999999", "/api/applications/350600-999999"],
)
def test_unknown_case_not_found(city: RunningNode, path: str) -> None:
    assert city.get(path).status_code == 404


def test_complete_received_case_conflicts(city: RunningNode) -> None:
    case_id = file_city_case(city)
    events = event_count(city)
    response = city.post(f"/api/cases/{case_id}/complete", json={"result": "准予办理"})
    assert response.status_code == 409
    assert response.json()["error"]["details"]["status"] == "received"
    assert city.get(f"/api/cases/{case_id}").json()["status"] == "received"
    assert event_count(city) == events


def test_accept_twice_conflicts(city: RunningNode) -> None:
    case_id = file_city_case(city)
    assert city.post(f"/api/cases/{case_id}/accept").status_code == 200
    events = event_count(city)
    response = city.post(f"/api/cases/{case_id}/accept")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["status"] == "accepted"
    assert event_count(city) == events


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "result"),
        ({"result": ""}, "result"),
        ({"result": 1}, "result"),
        ({"result": "准予办理", "signed_by": "李四"}, "signed_by"),
    ],
)
def test_complete_bad_body(
    city: RunningNode, body: dict[str, object], path: str
) -> None:
    case_id = file_city_case(city)
    city.post(f"/api/cases/{case_id}/accept")
    response = city.post(f"/api/cases/{case_id}/complete", json=body)
    assert response.status_code == 400
    assert field_reasons(response, path)
    assert city.get(f"/api/cases/{case_id}").json()["status"] == "accepted"


def test_unknown_matter_not_found(city: RunningNode) -> None:
    response = city.get("/api/matters/UNKNOWN")
    assert response.status_code == 404
    assert response.json()["error"]["details"]["matter_code"] == "UNKNOWN"


@pytest.mark.parametrize(
    ("query", "path"),
    [("status=lost", "status"), ("limit=0", "limit"), ("limit=many", "limit")],
)
def test_bad_case_query(city: RunningNode, query: str, path: str) -> None:
    response = city.get(f"/api/cases?{query}")
    assert response.status_code == 400
    assert field_reasons(response, path)


# --- sync endpoints --------------------------------------------------------------


def event(origin: str, seq: int, kind: str, payload: dict[str, Any]) -> dict:
    return {
        "origin": origin,
        "seq": seq,
        "kind": kind,
        "case_id": payload["case_id"],
        "destination": None,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "payload": payload,
    }


def county_case_events(first_seq: int = 1) -> list[dict[str, Any]]:
    """Return a case received and accepted at county 350623, as it sends them up."""
    now = dt.datetime.now(dt.UTC).isoformat()
    case_id = f"{COUNTY}-000001"
    received = {
        "case_id": case_id,
        "matter_code": "ZZ-MZ-001",
        "release": 1,
        "filed_at": COUNTY,
        "handler": COUNTY,
        "handler_tier": "county",
        "promised_limit_working_days": 25,
        "legal_limit_working_days": 30,
        "applicant_pseudonym": "0" * 64,
        "received_at": now,
    }
    accepted = {
        "case_id": case_id,
        "accepted_at": now,
        "release": 1,
        "promised_limit_working_days": 25,
        "deadline": "2026-10-13",
        "deadline_provisional": False,
    }
    return [
        event(COUNTY, first_seq, "case.received", received),
        event(COUNTY, first_seq + 1, "case.accepted", accepted),
    ]


def held_seq(city: RunningNode, origin: str) -> int | None:
    with city.context.db.transaction() as session:
        state = session.get(OriginState, origin)
        return None if state is None else state.held_seq


def hub_cases(city: RunningNode) -> list[HubCase]:
    with city.context.db.transaction() as session:
        return list(session.scalars(select(HubCase)))


@pytest.mark.parametrize(
    "sender",
    [
        "350623100",  # a township: a grandchild of the city, not a child
        "350623100207",  # a village
        "350700",  # another city
        "350699",  # county-shaped, but not a Zhangzhou county
    ],
)
def test_batch_from_non_child_forbidden(city: RunningNode, sender: str) -> None:
    events = [dict(e, origin=sender) for e in county_case_events()]
    response = signed_post(
        city, sender, "/sync/events", {"sender": sender, "events": events}
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["sender"] == sender
    assert event_count(city) == 0


def test_batch_for_other_county_forbidden(city: RunningNode) -> None:
    # County 350623 may not send events that a township of 350602 wrote.
    events = [dict(e, origin="350602001") for e in county_case_events()]
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["origin"] == "350602001"
    assert event_count(city) == 0


def test_batch_with_gap_conflicts(city: RunningNode) -> None:
    events = county_case_events(first_seq=2)
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["expected"] == 1
    assert response.json()["error"]["details"]["received"] == 2
    assert event_count(city) == 0
    assert hub_cases(city) == []


def test_batch_with_gap_after_held(city: RunningNode) -> None:
    first = county_case_events()[:1]
    signed_post(city, COUNTY, "/sync/events", {"sender": COUNTY, "events": first})
    later = county_case_events(first_seq=2)[1:]  # seq 3, while seq 2 is missing
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": later}
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["expected"] == 2
    assert held_seq(city, COUNTY) == 1
    assert event_count(city) == 1


def test_batch_with_inner_gap_rejected(city: RunningNode) -> None:
    received, accepted = county_case_events()
    events = [received, dict(accepted, seq=3)]
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )
    assert response.status_code in (400, 409)
    assert response.json()["error"]["details"]
    assert event_count(city) == 0


def test_same_batch_twice_applied_once(city: RunningNode) -> None:
    batch = {"sender": COUNTY, "events": county_case_events()}
    first = signed_post(city, COUNTY, "/sync/events", batch)
    second = signed_post(city, COUNTY, "/sync/events", batch)
    assert first.status_code == 200
    assert second.status_code == 200
    assert second.json()["held"] == {COUNTY: 2}
    assert held_seq(city, COUNTY) == 2
    assert event_count(city) == 2
    assert len(hub_cases(city)) == 1


def test_overlapping_batch_stores_new_only(city: RunningNode) -> None:
    events = county_case_events()
    signed_post(city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events[:1]})
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )
    assert response.json()["held"] == {COUNTY: 2}
    assert event_count(city) == 2
    assert hub_cases(city)[0].status == "accepted"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"seq": 0}, "events.0.seq"),
        ({"seq": "1"}, "events.0.seq"),
        ({"origin": "35062"}, "events.0.origin"),
        ({"kind": "Case Received"}, "events.0.kind"),
        ({"created_at": "2026-10-01T08:00:00"}, "events.0.created_at"),
    ],
)
def test_bad_sync_event(city: RunningNode, changes: dict, path: str) -> None:
    events = county_case_events()
    events[0].update(changes)
    response = signed_post(
        city, COUNTY, "/sync/events", {"sender": COUNTY, "events": events}
    )
    assert response.status_code == 400
    assert field_reasons(response, path)
    assert event_count(city) == 0


def test_batch_without_sender_rejected(city: RunningNode) -> None:
    response = signed_post(
        city, COUNTY, "/sync/events", {"events": county_case_events()}
    )
    assert response.status_code == 400
    assert field_reasons(response, "sender")
    assert event_count(city) == 0
