"""Quarantine: an event that cannot be applied holds back its own case only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.errors import Conflict
from common.keys import event_text, sign
from common.models import Event, NodeSetting, OriginState, QuarantinedEvent
from sync.dispatch import Transient, off, on
from sync.outbox import emit
from tests.conftest import VALID_ID
from tests.faults.harness import (
    BRANCH,
    CITY,
    TOWNSHIP,
    VILLAGE,
    file_applications,
    push_until_settled,
    start_branch,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Browser, Federation, RunningNode, signed_post, stand_in
from tests.test_api_input import COUNTY, event

# A kind that only these tests emit, so that its handler fails on purpose.
PROBE = "test.quarantine_probe"
# What the probe handler emits before it decides, to show a failure rolls it back.
ECHO = "test.quarantine_echo"
RELAYED = "350623100"  # a township below the county, for relayed events


@dataclass
class Probe:
    """A handler of ``PROBE`` events at one node that fails for chosen cases."""

    node: str
    rejected: set[str] = field(default_factory=set)
    unready: set[str] = field(default_factory=set)

    def __call__(
        self, context: NodeContext, session: Session, event: dict[str, Any]
    ) -> None:
        if context.code != self.node:
            return
        case_id = event["case_id"]
        session.add(NodeSetting(key=f"probe.{event['seq']}", value=case_id))
        if event["personal"] is not None:
            name = event["personal"]["name"]
            session.add(NodeSetting(key=f"probe.name.{event['seq']}", value=name))
        emit(context, session, ECHO, {"seq": event["seq"]}, case_id=case_id)
        if case_id in self.rejected:
            raise Conflict(f"probe rejects case {case_id}")
        if case_id in self.unready:
            raise Transient(f"probe waits for case {case_id}")
        # Kept in the database, so that a rolled-back run leaves no trace.
        record = session.get(NodeSetting, "probe.applied")
        if record is None:
            record = NodeSetting(key="probe.applied", value=[])
            session.add(record)
        record.value = [*record.value, event["seq"]]


@pytest.fixture
def probe() -> Iterator[Probe]:
    handler = Probe(node=CITY)
    on(PROBE)(handler)
    yield handler
    off(PROBE, handler)


def probe_event(seq: int, case: str, origin: str = COUNTY) -> dict[str, Any]:
    return event(origin, seq, PROBE, {"case_id": f"{origin}-{case}"})


def send(city: RunningNode, *events: dict[str, Any]) -> requests.Response:
    body = {"sender": COUNTY, "events": list(events)}
    return signed_post(city, COUNTY, "/sync/events", body)


def rows_by_seq(node: RunningNode) -> dict[int, dict[str, Any]]:
    rows = node.get("/api/sync/quarantine?state=all").json()
    return {row["seq"]: row for row in rows}


def count(node: RunningNode, model: Any) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def setting(node: RunningNode, key: str) -> Any:
    with node.context.db.transaction() as session:
        found = session.get(NodeSetting, key)
        return found.value if found else None


def applied(node: RunningNode) -> list[int]:
    """Return the sequences of the events the probe applied at ``node``, in order."""
    return setting(node, "probe.applied") or []


def own_sequences(node: RunningNode) -> list[int]:
    query = select(Event.seq).where(Event.origin == node.code).order_by(Event.seq)
    with node.context.db.transaction() as session:
        return list(session.scalars(query))


def held_seq(node: RunningNode, origin: str) -> int:
    with node.context.db.transaction() as session:
        state = session.get(OriginState, origin)
        return state.held_seq if state else 0


def quarantine_a_case(city: RunningNode, probe: Probe) -> None:
    """Send case A (rejected) at 1, 3 and 4 and case B (applied) at 2 and 5."""
    probe.rejected.add(f"{COUNTY}-A")
    response = send(
        city,
        probe_event(1, "A"),
        probe_event(2, "B"),
        probe_event(3, "A"),
        probe_event(4, "A"),
        probe_event(5, "B"),
    )
    assert response.status_code == 200, response.text


# --- quarantine on receipt -----------------------------------------------------


def test_failing_event_acknowledged(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    assert held_seq(city, COUNTY) == 5
    assert count(city, Event) >= 5


def test_failing_event_quarantined(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    head = rows_by_seq(city)[1]
    assert head["resolution"] is None
    assert head["blocked_by"] is None
    assert head["transient"] is False
    assert "probe rejects case 350623-A" in head["reason"]


def test_other_case_applied(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    assert applied(city) == [2, 5]
    assert 2 not in rows_by_seq(city)


def test_same_case_waits(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    rows = rows_by_seq(city)
    assert rows[3]["blocked_by"] == f"{COUNTY}#1"
    assert rows[4]["blocked_by"] == f"{COUNTY}#1"
    assert rows[4]["attempts"] == 0


def test_failure_rolls_back_its_effects(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    assert setting(city, "probe.1") is None
    assert setting(city, "probe.2") == f"{COUNTY}-B"
    # The echoes of events 2 and 5 only: the failed event's echo is gone,
    # and the city's own sequence has no gap where it was.
    assert own_sequences(city) == [1, 2]


def test_failure_mid_run_applies_rest(city: RunningNode, probe: Probe) -> None:
    probe.rejected.add(f"{COUNTY}-A")
    response = send(city, probe_event(1, "B"), probe_event(2, "A"), probe_event(3, "C"))
    assert response.json()["held"] == {COUNTY: 3}
    assert applied(city) == [1, 3]
    assert sorted(rows_by_seq(city)) == [2]


def test_later_batch_waits_behind_case(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    response = send(city, probe_event(6, "A"), probe_event(7, "C"))
    assert response.json()["held"] == {COUNTY: 7}
    assert rows_by_seq(city)[6]["blocked_by"] == f"{COUNTY}#1"
    assert applied(city) == [2, 5, 7]


def test_sync_status_counts_quarantined(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    assert city.get("/api/sync").json()["quarantined"] == 3


# --- replay and discard ----------------------------------------------------------


def test_replay_applies_waiting_in_order(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    probe.rejected.clear()
    head_id = rows_by_seq(city)[1]["id"]
    response = city.post(f"/api/sync/quarantine/{head_id}/replay")
    assert response.status_code == 200
    assert response.json()["resolution"] == "replayed"
    assert applied(city) == [2, 5, 1, 3, 4]
    assert city.get("/api/sync/quarantine").json() == []


def test_replay_records_user(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    probe.rejected.clear()
    head_id = rows_by_seq(city)[1]["id"]
    city.post(f"/api/sync/quarantine/{head_id}/replay")
    rows = rows_by_seq(city)
    assert rows[1]["resolved_by"] == "staff"
    assert rows[3]["note"] == f"applied after event {COUNTY}#1"


def test_replay_still_failing_stays_open(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    head_id = rows_by_seq(city)[1]["id"]
    response = city.post(f"/api/sync/quarantine/{head_id}/replay")
    assert response.status_code == 200
    assert response.json()["resolution"] is None
    assert response.json()["attempts"] == 2
    assert rows_by_seq(city)[3]["resolution"] is None


def test_waiting_released_until_next_failure(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    probe.rejected.clear()
    with city.context.db.transaction() as session:
        # The probe's own record of event 3 exists already, so the handler
        # fails on it with an unexpected error: event 3 heads the rest.
        session.add(NodeSetting(key="probe.3", value="taken"))
    head_id = rows_by_seq(city)[1]["id"]
    city.post(f"/api/sync/quarantine/{head_id}/replay")
    rows = rows_by_seq(city)
    assert "IntegrityError" in rows[3]["reason"]
    assert rows[3]["resolution"] is None
    assert rows[3]["blocked_by"] is None
    assert rows[4]["blocked_by"] == f"{COUNTY}#3"


def test_replay_of_waiting_event_conflicts(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    waiting_id = rows_by_seq(city)[3]["id"]
    response = city.post(f"/api/sync/quarantine/{waiting_id}/replay")
    assert response.status_code == 409
    assert response.json()["error"]["details"]["blocked_by"] == f"{COUNTY}#1"


def test_replay_of_unknown_id_not_found(city: RunningNode) -> None:
    response = city.post("/api/sync/quarantine/999/replay")
    assert response.status_code == 404


def test_discard_records_reason(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    head_id = rows_by_seq(city)[1]["id"]
    response = city.post(
        f"/api/sync/quarantine/{head_id}/discard", json={"reason": "源节点已作废"}
    )
    assert response.status_code == 200
    assert response.json()["resolution"] == "discarded"
    assert response.json()["note"] == "源节点已作废"
    assert response.json()["resolved_by"] == "staff"


def test_discard_keeps_event(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    head_id = rows_by_seq(city)[1]["id"]
    city.post(f"/api/sync/quarantine/{head_id}/discard", json={"reason": "作废"})
    with city.context.db.transaction() as session:
        query = select(Event.id).where(Event.origin == COUNTY, Event.seq == 1)
        assert session.scalar(query) is not None
    assert 1 not in applied(city)


def test_discard_releases_waiting(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    head_id = rows_by_seq(city)[1]["id"]
    probe.rejected.clear()
    city.post(f"/api/sync/quarantine/{head_id}/discard", json={"reason": "作废"})
    assert applied(city) == [2, 5, 3, 4]


def test_discard_twice_conflicts(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    head_id = rows_by_seq(city)[1]["id"]
    city.post(f"/api/sync/quarantine/{head_id}/discard", json={"reason": "作废"})
    response = city.post(
        f"/api/sync/quarantine/{head_id}/discard", json={"reason": "作废"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize("body", [{}, {"reason": "  "}, {"reason": "x" * 501}])
def test_discard_needs_reason(city: RunningNode, probe: Probe, body: dict) -> None:
    quarantine_a_case(city, probe)
    head_id = rows_by_seq(city)[1]["id"]
    response = city.post(f"/api/sync/quarantine/{head_id}/discard", json=body)
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["details"]["fields"]
    assert rows_by_seq(city)[1]["resolution"] is None


def test_supervisor_lists_not_replays(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    city.add_user("inspector", "supervisor")
    head_id = rows_by_seq(city)[1]["id"]
    listed = city.get("/api/sync/quarantine", as_user="inspector")
    replayed = city.post(f"/api/sync/quarantine/{head_id}/replay", as_user="inspector")
    assert listed.status_code == 200
    assert replayed.status_code == 403


# --- transient failures ---------------------------------------------------------------


def test_transient_hold_retried_by_job(
    federation: Federation, city: RunningNode, probe: Probe
) -> None:
    probe.unready.add(f"{COUNTY}-T")
    send(city, probe_event(1, "T"), probe_event(2, "T"))
    assert rows_by_seq(city)[1]["transient"] is True

    federation.sync(rounds=1)
    assert rows_by_seq(city)[1]["resolution"] is None

    probe.unready.clear()
    federation.sync(rounds=1)
    rows = rows_by_seq(city)
    assert rows[1]["resolution"] == "replayed"
    assert rows[1]["resolved_by"] is None
    assert rows[2]["resolution"] == "replayed"
    assert applied(city) == [1, 2]


def test_job_leaves_permanent_holds(
    federation: Federation, city: RunningNode, probe: Probe
) -> None:
    quarantine_a_case(city, probe)
    probe.rejected.clear()
    federation.sync(rounds=1)
    assert rows_by_seq(city)[1]["resolution"] is None


# --- invalid payloads and rejected batches ---------------------------------------


def test_invalid_payload_quarantined(city: RunningNode) -> None:
    completed = event(
        COUNTY, 1, "case.completed", {"case_id": f"{COUNTY}-000001", "on_time": "yes"}
    )
    response = send(city, completed, probe_event(2, "B"))
    assert response.status_code == 200
    assert response.json()["held"] == {COUNTY: 2}
    head = rows_by_seq(city)[1]
    assert "completed_at" in head["reason"]
    assert head["attempts"] == 0


def test_invalid_payload_with_bad_signature_rejected(city: RunningNode) -> None:
    signer = stand_in(city, COUNTY)
    received = event(COUNTY, 1, "case.received", {"case_id": f"{COUNTY}-000001"})
    received["key_id"] = signer.key_id
    received["signature"] = sign(signer.private_key, event_text(received))
    received["payload"] = dict(received["payload"], matter_code="ZZ-MZ-001")
    response = send(city, received)
    assert response.status_code == 403
    assert count(city, Event) == 0


def test_unknown_destination_rejects_batch(city: RunningNode, probe: Probe) -> None:
    bad = dict(probe_event(2, "B"), destination="350699")
    response = send(city, probe_event(1, "A"), bad)
    assert response.status_code == 400
    assert count(city, Event) == 0


def test_forged_relayed_event_changes_nothing(city: RunningNode, probe: Probe) -> None:
    probe.rejected.add(f"{COUNTY}-A")
    forged = dict(probe_event(1, "X", origin=RELAYED), key_id="0" * 16)
    forged["signature"] = "forged"
    response = send(city, probe_event(1, "A"), forged)
    assert response.status_code == 403
    assert count(city, Event) == 0
    assert count(city, QuarantinedEvent) == 0


def test_tampered_relayed_event_changes_nothing(
    city: RunningNode, probe: Probe
) -> None:
    probe.rejected.add(f"{COUNTY}-A")
    signer = stand_in(city, RELAYED)
    relayed = dict(probe_event(1, "X", origin=RELAYED), key_id=signer.key_id)
    relayed["signature"] = sign(signer.private_key, event_text(relayed))
    relayed["payload"] = dict(relayed["payload"], extra="changed on the way")
    response = send(city, probe_event(1, "A"), relayed)
    assert response.status_code == 403
    assert count(city, QuarantinedEvent) == 0


def test_gap_changes_nothing(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    before = count(city, Event)
    response = send(city, probe_event(7, "A"))
    assert response.status_code == 409
    assert count(city, Event) == before
    assert count(city, QuarantinedEvent) == 3


def test_reused_sequence_rejected(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    response = send(city, probe_event(1, "Z"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "event_diverged"
    assert count(city, QuarantinedEvent) == 3


def test_resent_batch_quarantines_once(city: RunningNode, probe: Probe) -> None:
    probe.rejected.add(f"{COUNTY}-A")
    batch = [probe_event(1, "A"), probe_event(2, "A")]
    send(city, *batch)
    before = rows_by_seq(city)
    response = send(city, *batch)
    assert response.status_code == 200
    assert rows_by_seq(city) == before


# --- page ----------------------------------------------------------------------------


def test_page_lists_quarantined(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    page = Browser(city).get("/sync-status/quarantine")
    assert page.status_code == 200
    assert "probe rejects case 350623-A" in page.text
    assert "排队等待 350623#1" in page.text


def test_sync_status_page_counts(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    page = Browser(city).get("/sync-status")
    assert "隔离中的事件" in page.text
    assert "3 条" in page.text


def test_page_replays(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    probe.rejected.clear()
    browser = Browser(city)
    browser.get("/sync-status/quarantine")
    head_id = rows_by_seq(city)[1]["id"]
    response = browser.post(f"/sync-status/quarantine/{head_id}/replay", {})
    assert response.status_code == 303
    assert applied(city) == [2, 5, 1, 3, 4]


def test_page_discard_needs_reason(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    browser = Browser(city)
    browser.get("/sync-status/quarantine")
    head_id = rows_by_seq(city)[1]["id"]
    response = browser.post(
        f"/sync-status/quarantine/{head_id}/discard", {"reason": " "}
    )
    assert response.status_code == 400
    assert "放弃原因" in response.text


def test_page_discards(city: RunningNode, probe: Probe) -> None:
    quarantine_a_case(city, probe)
    browser = Browser(city)
    browser.get("/sync-status/quarantine")
    head_id = rows_by_seq(city)[1]["id"]
    response = browser.post(
        f"/sync-status/quarantine/{head_id}/discard", {"reason": "源节点已作废"}
    )
    assert response.status_code == 303
    assert rows_by_seq(city)[1]["note"] == "源节点已作废"


# --- the sync invariant ------------------------------------------------------------


def test_invariant_holds_with_quarantine(federation: Federation) -> None:
    start_branch(federation)
    probe = Probe(node=TOWNSHIP, rejected={f"{VILLAGE}-X"})
    on(PROBE)(probe)
    try:
        village = federation.nodes[VILLAGE]
        with village.context.db.transaction() as session:
            for case in ("X", "Y", "X"):
                case_id = f"{VILLAGE}-{case}"
                emit(
                    village.context,
                    session,
                    PROBE,
                    {"case_id": case_id},
                    case_id=case_id,
                )
        file_applications(village, 3)
        push_until_settled(BRANCH)
    finally:
        off(PROBE, probe)

    check_sync_invariant(BRANCH)
    rows = rows_by_seq(federation.nodes[TOWNSHIP])
    assert sorted(rows) == [1, 3]
    assert rows[3]["blocked_by"] == f"{VILLAGE}#1"


def test_replay_keeps_personal_data(federation: Federation) -> None:
    start_branch(federation)
    probe = Probe(node=TOWNSHIP, rejected={f"{VILLAGE}-P"})
    on(PROBE)(probe)
    try:
        village = federation.nodes[VILLAGE]
        personal = {"name": "张三", "id_number": VALID_ID, "phone": "13800000000"}
        with village.context.db.transaction() as session:
            case_id = f"{VILLAGE}-P"
            emit(
                village.context,
                session,
                PROBE,
                {"case_id": case_id},
                case_id=case_id,
                destination=TOWNSHIP,
                personal=personal,
            )
        # Once the county has stored the event, the township erases its copy's
        # personal data; the quarantine keeps it for the replay.
        push_until_settled(BRANCH)
        township = federation.nodes[TOWNSHIP]
        probe.rejected.clear()
        head_id = rows_by_seq(township)[1]["id"]
        response = township.post(f"/api/sync/quarantine/{head_id}/replay")
    finally:
        off(PROBE, probe)

    assert response.json()["resolution"] == "replayed"
    assert setting(township, "probe.name.1") == "张三"
    query = select(Event.personal).where(Event.origin == VILLAGE, Event.seq == 1)
    with township.context.db.transaction() as session:
        assert session.scalar(query) is None
    with township.context.db.transaction() as session:
        assert session.get(QuarantinedEvent, head_id).personal is None
