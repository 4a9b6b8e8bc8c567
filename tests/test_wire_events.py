"""The compiled wire-event check against WireEventSchema, rule by rule."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from common.schemas.sync import BatchSchema, WireEventSchema
from common.schemas.wire import FIELDS, load_event

VALID: dict[str, Any] = {
    "origin": "350623100207",
    "seq": 7,
    "kind": "case.received",
    "case_id": "350623100207-2025-000007",
    "destination": "350623",
    "created_at": "2025-03-03T01:30:00.123456+00:00",
    "payload": {"case_id": "350623100207-2025-000007", "note": "材料齐全"},
    "personal": {"name": "张三"},
    "key_id": "0123456789abcdef",
    "signature": "s" * 88,
    "personal_signature": "p" * 88,
}

# Values of each field, valid or not, that both checks must treat alike.
CASES: dict[str, list[Any]] = {
    "origin": [
        "350600",
        "350623100",
        "3506231002",
        "35060",
        "35060a",
        "",
        None,
        350600,
    ],
    "seq": [1, 2**53, 0, -1, 2**53 + 1, True, 1.0, "7", None],
    "kind": ["a.b", "case.step_started", "Case.received", "case", "case.", "", None],
    "case_id": [None, "", "x" * 40, "x" * 41, 5],
    "destination": [None, "350623", "350623100207", "", "35062", 350623],
    "created_at": [
        "2025-03-03T01:30:00+00:00",
        "2025-03-03T09:30:00+08:00",
        "2025-03-03T01:30:00Z",
        "2025-03-03T01:30:00",
        "2025-03-03",
        "yesterday",
        "",
        None,
        1741000000,
    ],
    "payload": [{}, {"a": [1, 2]}, [], "x", None],
    "personal": [None, {}, [], "x"],
    "key_id": ["0" * 16, "0" * 15, "0" * 17, None, 16],
    "signature": ["", "s" * 100, "s" * 101, None, 5],
    "personal_signature": [None, "", "p" * 100, "p" * 101, 5],
}


def schema_load(event: Any) -> dict[str, Any] | None:
    try:
        return WireEventSchema().load(event)
    except ValidationError:
        return None


def variants() -> list[Any]:
    found: list[Any] = [VALID]
    for name, values in CASES.items():
        found.extend(dict(VALID, **{name: value}) for value in values)
    found.extend({k: v for k, v in VALID.items() if k != name} for name in VALID)
    found.append(dict(VALID, extra=1))
    found.extend([None, [], "event"])
    return found


@pytest.mark.parametrize("event", variants())
def test_load_event_matches_schema(event: Any) -> None:
    # For these cases the check defers to the schema exactly when the
    # schema rejects the event, and otherwise loads the same value.
    assert load_event(event) == schema_load(event)


def test_load_event_accepts_valid() -> None:
    assert load_event(VALID) is not None


def test_load_event_fills_defaults() -> None:
    minimal = {k: v for k, v in VALID.items() if k in ("origin", "seq", "kind")}
    minimal.update(
        created_at=VALID["created_at"],
        payload={},
        key_id=VALID["key_id"],
        signature="s",
    )
    assert load_event(minimal) == schema_load(minimal)


def test_fast_path_covers_schema_fields() -> None:
    # A field added to WireEventSchema must be checked in load_event too.
    assert set(WireEventSchema().fields) == FIELDS


def test_batch_error_names_event_field() -> None:
    events = [VALID, dict(VALID, seq=0)]
    with pytest.raises(ValidationError) as raised:
        BatchSchema().load({"sender": "350623100", "events": events})
    assert "seq" in raised.value.messages["events"][1]


def test_batch_loads_valid_events() -> None:
    batch = BatchSchema().load({"sender": "350623100", "events": [VALID, VALID]})
    assert batch["events"] == [schema_load(VALID)] * 2


def test_batch_length_still_checked() -> None:
    events = [VALID] * 5001
    with pytest.raises(ValidationError):
        BatchSchema().load({"sender": "350623100", "events": events})
