"""HTTP client for a node's link to its parent."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests

from common.context import NodeContext
from common.errors import AppError
from sync.auth import signed_headers
from sync.versions import record_peer_versions, version_headers

logger = logging.getLogger(__name__)

# Seconds to wait for a connection, and for the response once connected.
TIMEOUT = (5, 60)


class ParentUnreachable(AppError):
    status = 503
    code = "parent_unreachable"


class SyncRefused(AppError):
    """An error response from the parent; ``error`` is its error body."""

    status = 502
    code = "sync_refused"

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(
            f"parent refused the request with HTTP {status}: "
            f"{error.get('code')}: {error.get('message')}",
            {"status": status, "error": error},
        )
        self.http_status = status
        self.error = error


class ParentClient:
    """Sends this node's sync requests to its parent."""

    def __init__(self, context: NodeContext) -> None:
        if not context.config.parent_url:
            raise ValueError(f"node {context.code} has no parent")
        self.context = context
        self.base_url = context.config.parent_url.rstrip("/")
        self.code = context.code
        self.http = requests.Session()
        self.http.headers.update(version_headers())

    def push_events(self, batch: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/sync/events", json=batch)

    def fetch_feed(self, cursors: dict[str, int], limit: int) -> list[dict[str, Any]]:
        body = {"child": self.code, "cursors": cursors, "limit": limit}
        return self._call("POST", "/sync/feed", json=body)["events"]

    def enroll(self, code: str, public_key: str, token: str) -> dict[str, Any]:
        """Send an enrollment; it is not signed, since the token proves it."""
        body = {"code": code, "public_key": public_key, "token": token}
        return self._call("POST", "/sync/enroll", json=body, signed=False)

    def send_revocations(self, records: list[dict[str, Any]]) -> list[str]:
        """Send key revocations; return the nodes that hold them afterwards."""
        body = {"revocations": records}
        return self._call("POST", "/sync/revocations", json=body)["stored_at"]

    def fetch_revocations(self) -> list[dict[str, Any]]:
        """Return the parent's revocations of keys below this node, unchecked."""
        return self._call("GET", "/sync/revocations")["revocations"]

    def fetch_releases(self, after: int) -> list[dict[str, Any]]:
        return self._call("GET", "/sync/releases", params={"after": after})["releases"]

    def fetch_release_manifest(self, number: int, piece_size: int) -> dict[str, Any]:
        """Return the parent's manifest of release ``number``, unchecked."""
        path = f"/sync/releases/{number}/manifest"
        return self._call("GET", path, params={"piece_size": piece_size})

    def fetch_release_piece(
        self, number: int, index: int, piece_size: int
    ) -> dict[str, Any]:
        """Return one piece of release ``number`` as the parent sent it, unchecked."""
        path = f"/sync/releases/{number}/pieces/{index}"
        return self._call("GET", path, params={"piece_size": piece_size})

    def fetch_calendar_releases(self, after: int) -> dict[str, Any]:
        """Return the parent's page of calendar releases after ``after``, unchecked."""
        return self._call("GET", "/sync/calendars", params={"after": after})

    def close(self) -> None:
        self.http.close()

    def _call(
        self, method: str, path: str, signed: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        """Send one request; a stale-timestamp refusal corrects the clock once.

        The parent's refusal carries its own time. The difference becomes
        this node's clock offset for signing, so a village whose clock is
        hours wrong keeps syncing; the parent's window still limits replays.
        """
        try:
            return self._send(method, path, signed, **kwargs)
        except SyncRefused as exc:
            server_time = (exc.error.get("details") or {}).get("server_time")
            if exc.http_status != 401 or not isinstance(server_time, int | float):
                raise
            offset = server_time - time.time()
            logger.warning(
                "Node %s: clock differs from the parent's by %.0f s; signing with the parent's time",
                self.code,
                offset,
            )
            self.context.clock_offset = offset
            return self._send(method, path, signed, **kwargs)

    def _send(
        self, method: str, path: str, signed: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        url = self.base_url + path
        prepared = self.http.prepare_request(requests.Request(method, url, **kwargs))
        if signed:
            body = prepared.body or b""
            if isinstance(body, str):
                body = body.encode()
            prepared.headers.update(
                signed_headers(self.context, method, prepared.path_url, body)
            )
        try:
            response = self.http.send(prepared, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise ParentUnreachable(f"cannot reach parent at {url}: {exc}") from exc
        if self.context.parent_code:
            record_peer_versions(
                self.context, self.context.parent_code, "parent", response.headers
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                error = {"code": "bad_response", "message": response.text[:200]}
            raise SyncRefused(response.status_code, error)
        return body
