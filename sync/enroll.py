"""Enrollment: a node registers its public key with every ancestor.

The city issues a one-time token for a node code. The node sends its code,
public key and token to its parent, which passes the request up until the
city checks and spends the token; on the way back down every node of the
path stores the key. Enrolling a new key for a code revokes the old one,
which is how keys are rotated. Revocations reach the ancestors through
``sync.revocation``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from common.clock import utcnow
from common.context import NodeContext
from common.divisions import is_within
from common.errors import AppError, Forbidden, InvalidInput
from common.keys import key_id, parse_public_key
from common.models import EnrollmentToken, NodeKey
from sync.revocation import revoke_node_keys

logger = logging.getLogger(__name__)

TOKEN_LIFETIME = dt.timedelta(days=7)


class RelayedError(AppError):
    """An error answered by an ancestor, passed on with its status."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message")), error.get("details") or {})
        self.status = status
        self.code = str(error.get("code"))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    context: NodeContext,
    session: Session,
    code: str,
    lifetime: dt.timedelta = TOKEN_LIFETIME,
) -> str:
    """Issue a one-time enrollment token for ``code``; only the city issues them."""
    if not context.is_hub:
        raise Forbidden(
            f"only the city node issues enrollment tokens; node {context.code} cannot"
        )
    context.divisions.get(code)
    if code == context.code:
        raise InvalidInput("the city node does not enroll with anyone", {"code": code})
    # Hex, so that a token never starts with "-" and reads as an option.
    token = secrets.token_hex(24)
    session.add(
        EnrollmentToken(
            token_hash=_token_hash(token), code=code, expires_at=utcnow() + lifetime
        )
    )
    logger.info("Node %s: issued an enrollment token for node %s", context.code, code)
    return token


def spend_token(session: Session, code: str, token: str) -> None:
    """Mark a token used; raise if it is unknown, for another node, used or expired."""
    record = session.get(EnrollmentToken, _token_hash(token))
    if record is None or record.code != code:
        raise Forbidden(
            f"the enrollment token is not valid for node {code}; ask the city for a new one",
            {"code": code},
        )
    if record.used_at is not None:
        raise Forbidden(
            "the enrollment token was already used; ask the city for a new one",
            {"code": code},
        )
    if record.expires_at < utcnow():
        raise Forbidden(
            "the enrollment token has expired; ask the city for a new one",
            {"code": code},
        )
    record.used_at = utcnow()


def store_key(session: Session, code: str, public_key: str) -> str:
    """Store ``public_key`` as the active key of ``code``, revoking any other."""
    new_id = key_id(public_key)
    session.execute(
        update(NodeKey)
        .where(
            NodeKey.code == code, NodeKey.key_id != new_id, NodeKey.revoked_at.is_(None)
        )
        .values(revoked_at=utcnow())
    )
    key = session.get(NodeKey, (code, new_id))
    if key is None:
        session.add(NodeKey(code=code, key_id=new_id, public_key=public_key))
    elif key.revoked_at is not None:
        raise Forbidden(
            f"key {new_id} of node {code} was revoked and cannot be enrolled again; "
            "create a new key with `servicecenter enroll --new-key <token>`",
            {"code": code, "key_id": new_id},
        )
    return new_id


def revoke_keys(context: NodeContext, session: Session, code: str) -> int:
    """Revoke every active key of ``code`` at this node; return how many.

    Each revocation is recorded for ``sync.revocation.send_up``, which
    delivers it to every ancestor.
    """
    return len(revoke_node_keys(context, session, code))


def accept_enrollment(
    context: NodeContext, code: str, public_key: str, token: str
) -> str:
    """Handle an enrollment for ``code`` of this node's subtree; return the key id.

    The city spends the token; any other node passes the request to its
    parent first and stores the key only once the city has accepted it.
    """
    if (
        code == context.code
        or code not in context.divisions
        or not is_within(code, context.code)
    ):
        raise Forbidden(
            f"node {code} does not belong to the subtree of node {context.code}",
            {"code": code},
        )
    try:
        parse_public_key(public_key)
    except ValueError as exc:
        raise InvalidInput(
            f"invalid public key: {exc}", {"fields": {"public_key": [str(exc)]}}
        ) from None

    if context.is_hub:
        with context.db.transaction() as session:
            spend_token(session, code, token)
            return store_key(session, code, public_key)

    from sync.transport import ParentClient, SyncRefused

    client = ParentClient(context)
    try:
        client.enroll(code, public_key, token)
    except SyncRefused as exc:
        raise RelayedError(exc.http_status, exc.error) from exc
    finally:
        client.close()
    with context.db.transaction() as session:
        return store_key(session, code, public_key)


def enroll_with_parent(context: NodeContext, token: str) -> str:
    """Enroll this node's own public key with its parent; return the key id."""
    from sync.transport import ParentClient

    client = ParentClient(context)
    try:
        client.enroll(context.code, context.public_key, token)
    finally:
        client.close()
    logger.info(
        "Node %s: enrolled key %s with its parent", context.code, context.key_id
    )
    return context.key_id
