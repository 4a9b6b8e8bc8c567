"""Signed sync requests: who sent it, that nothing changed, that it is fresh.

Every request on the sync endpoints carries the sender's node code, the id
of its key, a timestamp, a nonce and an Ed25519 signature over method,
path with query, timestamp, nonce and the body's SHA-256. The receiver
accepts it only from its parent or one of its direct children, with a key
enrolled and not revoked, inside the timestamp window, and with a nonce it
has not seen from that node.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.context import NodeContext
from common.errors import AppError
from common.keys import sign, signing_text, verify
from common.models import NodeKey, SeenNonce

logger = logging.getLogger(__name__)

# Seconds a request's timestamp may differ from the receiver's clock.
TIMESTAMP_WINDOW = 300

HEADER_CODE = "X-Node-Code"
HEADER_KEY = "X-Key-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"


def signed_headers(
    context: NodeContext, method: str, path: str, body: bytes
) -> dict[str, str]:
    """Return the headers that authenticate one request of this node.

    The timestamp is this node's clock corrected by the offset its parent
    last reported (see ``ParentClient``), so a node whose clock is wrong
    still signs requests its parent accepts.
    """
    timestamp = str(int(time.time() + getattr(context, "clock_offset", 0.0)))
    nonce = secrets.token_hex(16)
    message = signing_text(method, path, timestamp, nonce, body)
    return {
        HEADER_CODE: context.code,
        HEADER_KEY: context.key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(context.private_key, message),
    }


def authenticate(
    context: NodeContext,
    session: Session,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """Check a request's signature in the caller's transaction; return the sender.

    Raises ``Unauthenticated`` (401) for missing headers, an unknown or
    revoked key, a bad signature, a stale timestamp or a reused nonce.
    The nonce is recorded, so the same request cannot pass twice.
    """
    missing = [
        h
        for h in (
            HEADER_CODE,
            HEADER_KEY,
            HEADER_TIMESTAMP,
            HEADER_NONCE,
            HEADER_SIGNATURE,
        )
        if not headers.get(h)
    ]
    if missing:
        raise Unauthenticated(
            f"sync requests must be signed; missing headers: {', '.join(missing)}",
            {"headers": missing},
        )
    too_long = (
        len(headers[HEADER_NONCE]) > 64
        or len(headers[HEADER_KEY]) > 16
        or len(headers[HEADER_CODE]) > 12
    )
    if too_long:
        raise Unauthenticated("the request's node code, key id or nonce is too long")
    sender, timestamp, nonce = (
        headers[HEADER_CODE],
        headers[HEADER_TIMESTAMP],
        headers[HEADER_NONCE],
    )
    key = session.get(NodeKey, (sender, headers[HEADER_KEY]))
    if key is None:
        raise Unauthenticated(
            f"no key {headers[HEADER_KEY]} is enrolled for node {sender} here; "
            "enroll the node with a token from the city",
            {"sender": sender},
        )
    if key.revoked_at is not None:
        raise Unauthenticated(
            f"key {key.key_id} of node {sender} was revoked", {"sender": sender}
        )
    check_timestamp(timestamp)
    message = signing_text(method, path, timestamp, nonce, body)
    if not verify(key.public_key, headers[HEADER_SIGNATURE], message):
        raise Unauthenticated(
            f"invalid signature on a request from node {sender}", {"sender": sender}
        )
    remember_nonce(session, sender, nonce)
    return sender


def check_timestamp(timestamp: str) -> None:
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Unauthenticated(
            f"invalid request timestamp {timestamp[:20]!r}: use Unix seconds"
        )
    sent = int(timestamp)
    skew = abs(time.time() - sent)
    if skew > TIMESTAMP_WINDOW:
        raise Unauthenticated(
            f"request timestamp is {skew:.0f} s away from this node's clock, more than "
            f"the {TIMESTAMP_WINDOW} s allowed; check the sender's clock",
            {"skew_seconds": round(skew), "server_time": int(time.time())},
        )


def machine_now() -> dt.datetime:
    """Return the machine's time: freshness is judged on it, never on a set clock."""
    return dt.datetime.now(dt.UTC)


def remember_nonce(session: Session, sender: str, nonce: str) -> None:
    """Record a nonce; raise ``Unauthenticated`` if this sender used it before."""
    try:
        with session.begin_nested():
            session.add(SeenNonce(code=sender[:12], nonce=nonce, seen_at=machine_now()))
    except IntegrityError:
        raise Unauthenticated(
            f"replayed request from node {sender}: nonce already used",
            {"sender": sender},
        ) from None
    cutoff = machine_now() - dt.timedelta(seconds=2 * TIMESTAMP_WINDOW)
    session.execute(delete(SeenNonce).where(SeenNonce.seen_at < cutoff))


def active_keys(session: Session, code: str) -> list[NodeKey]:
    query = select(NodeKey).where(NodeKey.code == code, NodeKey.revoked_at.is_(None))
    return list(session.scalars(query))
