"""Upward batches delivered twice, out of order, with a hole or cut short.

Each test sends batches as the village would, signed with the village's
own key, then lets the village's real push finish the job.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import requests

from common.context import get_context
from common.schemas.sync import PROTOCOL_VERSION
from sync.auth import signed_headers
from sync.push import collect_batch
from sync.transport import ParentClient, SyncRefused
from tests.faults.harness import (
    BRANCH,
    TOWNSHIP,
    VILLAGE,
    events_held,
    file_applications,
    push_until_settled,
    start_branch,
)
from tests.faults.invariant import check_sync_invariant
from tests.federation import Federation


def village_batch(*seqs: int) -> dict[str, Any]:
    """Return an upward batch of the village's unacknowledged events ``seqs``."""
    context = get_context(VILLAGE)
    with context.db.transaction() as session:
        events = {e["seq"]: e for e in collect_batch(context, session)}
    return {"sender": VILLAGE, "events": [events[s] for s in seqs], "heads": {}}


def send(batch: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Send a batch with the village's client; return the status and the body or error."""
    client = ParentClient(get_context(VILLAGE))
    try:
        return 200, client.push_events(batch)
    except SyncRefused as exc:
        return exc.http_status, exc.error
    finally:
        client.close()


def signed_request(body: bytes) -> dict[str, str]:
    """Return the headers of a batch request that the village signed over ``body``."""
    return {
        "Content-Type": "application/json",
        "X-Sync-Protocol": str(PROTOCOL_VERSION),
        **signed_headers(get_context(VILLAGE), "POST", "/sync/events", body),
    }


def test_batch_sent_twice_stored_once(federation: Federation) -> None:
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 6)
    first = send(village_batch(1, 2, 3))
    second = send(village_batch(1, 2, 3))
    assert first == (200, {"held": {VILLAGE: 3}})
    assert second == first
    assert events_held(TOWNSHIP, VILLAGE) == 3

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_replayed_request_rejected(federation: Federation) -> None:
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 3)
    body = json.dumps(village_batch(1, 2, 3)).encode()
    headers = signed_request(body)
    url = federation.nodes[TOWNSHIP].url + "/sync/events"
    first = requests.post(url, data=body, headers=headers, timeout=30)
    again = requests.post(url, data=body, headers=headers, timeout=30)
    assert first.status_code == 200
    assert again.status_code == 401
    assert events_held(TOWNSHIP, VILLAGE) == 3

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_later_batch_first_then_recovered(federation: Federation) -> None:
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 6)
    status, error = send(village_batch(4, 5, 6))
    assert status == 409
    assert error["code"] == "sequence_gap"
    assert error["details"]["expected"] == 1
    assert events_held(TOWNSHIP, VILLAGE) == 0

    assert send(village_batch(1, 2, 3)) == (200, {"held": {VILLAGE: 3}})
    assert send(village_batch(4, 5, 6)) == (200, {"held": {VILLAGE: 6}})
    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_run_with_hole_rejected(federation: Federation) -> None:
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 6)
    status, error = send(village_batch(1, 2, 4, 5))
    assert status == 400
    assert error["code"] == "invalid_input"
    assert events_held(TOWNSHIP, VILLAGE) == 0

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_body_cut_in_transit_rejected(federation: Federation) -> None:
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 6)
    body = json.dumps(village_batch(1, 2, 3, 4, 5, 6)).encode()
    url = federation.nodes[TOWNSHIP].url + "/sync/events"
    cut = body[: len(body) // 2]
    # The request signature covers the whole body, so the cut one fails it.
    response = requests.post(url, data=cut, headers=signed_request(body), timeout=30)
    assert response.status_code == 401
    assert events_held(TOWNSHIP, VILLAGE) == 0

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)


def test_connection_closed_mid_body(federation: Federation) -> None:
    start_branch(federation)
    file_applications(federation.nodes[VILLAGE], 6)
    body = json.dumps(village_batch(1, 2, 3, 4, 5, 6)).encode()
    head = "".join(
        f"{name}: {value}\r\n" for name, value in signed_request(body).items()
    )
    request = (
        f"POST /sync/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    port = federation.nodes[TOWNSHIP].server.server_port
    # Half the body arrives, then the sender closes its side of the link.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request + body[: len(body) // 2])
        connection.shutdown(socket.SHUT_WR)
        status_line = connection.recv(4096).split(b"\r\n")[0]
    assert status_line == b"HTTP/1.1 400 BAD REQUEST"
    assert events_held(TOWNSHIP, VILLAGE) == 0

    push_until_settled(BRANCH)
    check_sync_invariant(BRANCH)
