"""Catalog releases downloaded in resumable pieces and applied only when whole.

A release's body is the canonical JSON of its content in UTF-8, so the
SHA-256 of the whole body is the release's announced ``content_hash``. The
parent cuts the body into pieces of the size the child requests, and lists
the SHA-256 of each piece in a manifest. The child keeps every verified
piece in its database, so a download cut short resumes at the first
missing piece, and it stores the release in one transaction once the
whole body matches the announced hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import threading
from collections import OrderedDict
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common.catalog import canonical_body, current_release_number
from common.context import NodeContext
from common.errors import AppError, InvalidInput, NotFound
from common.models import Release
from common.release_piece_models import ReleasePiece
from common.schemas.release_pieces import ManifestSchema, PieceSchema
from sync.releases import store_release
from sync.state import touch_link
from sync.transport import ParentClient, SyncRefused

logger = logging.getLogger(__name__)

# Requests one pull makes for a piece whose bytes fail their hash before it stops.
PIECE_ATTEMPTS = 3
# Release bodies kept in memory by the parent, so that serving the pieces of
# one release serializes its content once, not once per piece.
CACHED_BODIES = 4


class ReleaseNotFound(NotFound):
    code = "release_not_found"


class PieceTooLarge(InvalidInput):
    code = "piece_too_large"

    def __init__(self, piece_size: int, limit: int) -> None:
        super().__init__(
            f"piece size {piece_size} exceeds this node's limit of {limit} bytes; "
            f"request pieces of at most {limit} bytes",
            {"piece_size": piece_size, "limit": limit},
        )


class CorruptPiece(AppError):
    """A piece, or the whole body, whose bytes do not match the announced hash."""

    status = 502
    code = "corrupt_piece"


# --- the parent: serving pieces ---------------------------------------------

_bodies: OrderedDict[tuple[str, int, str], bytes] = OrderedDict()
_bodies_lock = threading.Lock()


def release_body(
    context: NodeContext, session: Session, number: int
) -> tuple[Release, bytes]:
    """Return release ``number`` and its canonical body; raise ``ReleaseNotFound``."""
    release = session.get(Release, number)
    if release is None:
        held = current_release_number(session) or 0
        raise ReleaseNotFound(
            f"catalog release {number} not found at this node; its latest is {held}",
            {"number": number, "latest": held},
        )
    key = (context.code, number, release.content_hash)
    with _bodies_lock:
        body = _bodies.get(key)
        if body is not None:
            _bodies.move_to_end(key)
            return release, body
    body = canonical_body(release.content)
    with _bodies_lock:
        _bodies[key] = body
        while len(_bodies) > CACHED_BODIES:
            _bodies.popitem(last=False)
    return release, body


def check_piece_size(context: NodeContext, piece_size: int) -> None:
    limit = context.config.release_piece_size
    if piece_size > limit:
        raise PieceTooLarge(piece_size, limit)


def piece_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(
    context: NodeContext, session: Session, number: int, piece_size: int
) -> dict[str, Any]:
    """Return the manifest of release ``number`` cut into pieces of ``piece_size`` bytes."""
    check_piece_size(context, piece_size)
    release, body = release_body(context, session, number)
    count = math.ceil(len(body) / piece_size)
    return {
        "number": number,
        "content_hash": release.content_hash,
        "published_at": release.published_at.isoformat(),
        "size": len(body),
        "piece_size": piece_size,
        "pieces": [
            piece_hash(body[i * piece_size : (i + 1) * piece_size])
            for i in range(count)
        ],
    }


def piece(
    context: NodeContext, session: Session, number: int, index: int, piece_size: int
) -> dict[str, Any]:
    """Return piece ``index`` of release ``number``; raise ``NotFound`` past the last."""
    check_piece_size(context, piece_size)
    _, body = release_body(context, session, number)
    count = math.ceil(len(body) / piece_size)
    if index >= count:
        raise NotFound(
            f"release {number} has {count} pieces of {piece_size} bytes, "
            f"numbered 0 to {count - 1}; there is no piece {index}",
            {"number": number, "index": index, "pieces": count},
        )
    data = body[index * piece_size : (index + 1) * piece_size]
    return {
        "number": number,
        "index": index,
        "piece_hash": piece_hash(data),
        "data": base64.b64encode(data).decode("ascii"),
    }


# --- the child: downloading and applying ------------------------------------


def pull_next_release(context: NodeContext, client: ParentClient) -> int | None:
    """Download the release after the one held, then store it; return its number.

    Returns None when the parent holds no newer release. Pieces already
    held for it are not downloaded again. The release is stored in one
    transaction, and only once its whole body matches the announced hash.
    Raises ``CorruptPiece`` after ``PIECE_ATTEMPTS`` bad copies of a piece,
    and whatever the link or ``store_release`` raises.
    """
    with context.db.transaction() as session:
        number = (current_release_number(session) or 0) + 1
    announced = fetch_manifest(context, client, number)
    if announced is None:
        return None

    held = keep_matching_pieces(context, announced)
    missing = [i for i in range(len(announced["pieces"])) if i not in held]
    if held and missing:
        logger.info(
            "Node %s: resuming release %d at piece %d of %d",
            context.code,
            number,
            missing[0],
            len(announced["pieces"]),
        )
    for index in missing:
        data = fetch_verified_piece(context, client, announced, index)
        with context.db.transaction() as session:
            # A merge, so that a piece another pull of this node stored
            # meanwhile is not a conflict.
            session.merge(downloaded_piece(announced, index, data))

    apply_pieces(context, announced)
    return number


def fetch_manifest(
    context: NodeContext, client: ParentClient, number: int
) -> dict[str, Any] | None:
    """Return the parent's manifest of release ``number``, or None if it has none.

    A parent with a lower piece limit names it in its error, and the
    manifest is requested again with that limit.
    """
    piece_size = context.config.release_piece_size
    try:
        answer = client.fetch_release_manifest(number, piece_size)
    except SyncRefused as exc:
        limit = (exc.error.get("details") or {}).get("limit")
        if exc.error.get("code") != PieceTooLarge.code or not isinstance(limit, int):
            return none_if_not_found(exc)
        warn_limit_once(context, limit)
        piece_size = limit
        try:
            answer = client.fetch_release_manifest(number, piece_size)
        except SyncRefused as retried:
            return none_if_not_found(retried)
    return check_manifest(answer, number, piece_size)


def none_if_not_found(exc: SyncRefused) -> None:
    """Return None for the parent's "release not found" error; re-raise any other."""
    if exc.error.get("code") != ReleaseNotFound.code:
        raise exc
    return None


_limits_warned: set[tuple[str, int]] = set()


def warn_limit_once(context: NodeContext, limit: int) -> None:
    """Log a parent's lower piece limit once per limit, not on every sync round."""
    if (context.code, limit) in _limits_warned:
        return
    _limits_warned.add((context.code, limit))
    logger.warning(
        "Node %s: parent serves pieces of at most %d bytes, less than "
        "NODE_RELEASE_PIECE_SIZE %d; downloading in pieces of %d bytes",
        context.code,
        limit,
        context.config.release_piece_size,
        limit,
    )


def check_manifest(
    answer: dict[str, Any], number: int, piece_size: int
) -> dict[str, Any]:
    """Load the parent's manifest; raise ``CorruptPiece`` if it does not fit the request."""
    try:
        announced = ManifestSchema().load(answer)
    except ValidationError as exc:
        raise CorruptPiece(
            f"the parent's manifest of release {number} is invalid", exc.messages
        ) from exc
    count = math.ceil(announced["size"] / announced["piece_size"])
    if (
        announced["number"] != number
        or announced["piece_size"] != piece_size
        or len(announced["pieces"]) != count
    ):
        raise CorruptPiece(
            f"the parent's manifest of release {number} does not match the request: "
            f"release {announced['number']}, {len(announced['pieces'])} pieces of "
            f"{announced['piece_size']} bytes for {announced['size']} bytes",
            {"number": number, "piece_size": piece_size},
        )
    return announced


def keep_matching_pieces(context: NodeContext, announced: dict[str, Any]) -> set[int]:
    """Delete held pieces that do not belong to ``announced``; return the indexes kept.

    A piece belongs when its release, content hash, piece size and piece
    hash all match the manifest. Any other piece is left from an older or
    abandoned download.
    """
    with context.db.transaction() as session:
        kept: set[int] = set()
        for stored in session.scalars(select(ReleasePiece)):
            if belongs(stored, announced):
                kept.add(stored.piece_index)
            else:
                session.delete(stored)
    return kept


def belongs(stored: ReleasePiece, announced: dict[str, Any]) -> bool:
    pieces = announced["pieces"]
    return (
        stored.number == announced["number"]
        and stored.content_hash == announced["content_hash"]
        and stored.piece_size == announced["piece_size"]
        and stored.piece_index < len(pieces)
        and stored.piece_hash == pieces[stored.piece_index]
    )


def fetch_verified_piece(
    context: NodeContext, client: ParentClient, announced: dict[str, Any], index: int
) -> bytes:
    """Fetch piece ``index`` until its bytes match the manifest's hash."""
    number, expected = announced["number"], announced["pieces"][index]
    for attempt in range(1, PIECE_ATTEMPTS + 1):
        answer = client.fetch_release_piece(number, index, announced["piece_size"])
        data = decode_piece(answer, number, index)
        if data is not None and piece_hash(data) == expected:
            return data
        logger.warning(
            "Node %s: piece %d of release %d failed its hash check (attempt %d of %d)",
            context.code,
            index,
            number,
            attempt,
            PIECE_ATTEMPTS,
        )
    raise CorruptPiece(
        f"piece {index} of release {number} failed its hash check "
        f"{PIECE_ATTEMPTS} times; the next sync round tries again",
        {"number": number, "index": index, "expected_hash": expected},
    )


def decode_piece(answer: dict[str, Any], number: int, index: int) -> bytes | None:
    """Return the bytes of a piece response, or None if it is not that piece."""
    try:
        loaded = PieceSchema().load(answer)
        data = base64.b64decode(loaded["data"], validate=True)
    except (ValidationError, binascii.Error):
        return None
    if loaded["number"] != number or loaded["index"] != index:
        return None
    return data


def downloaded_piece(
    announced: dict[str, Any], index: int, data: bytes
) -> ReleasePiece:
    return ReleasePiece(
        number=announced["number"],
        piece_index=index,
        piece_size=announced["piece_size"],
        content_hash=announced["content_hash"],
        piece_hash=announced["pieces"][index],
        data=data,
    )


def apply_pieces(context: NodeContext, announced: dict[str, Any]) -> None:
    """Join the held pieces, check the whole body, and store the release.

    The release and the deletion of its pieces commit together. A body
    that fails the announced hash is deleted, so the next pull downloads
    it again from the first piece.
    """
    number = announced["number"]
    pieces_of_release = delete(ReleasePiece).where(ReleasePiece.number == number)
    with context.db.transaction() as session:
        if session.get(Release, number) is not None:
            # Another pull of this node stored it first.
            session.execute(pieces_of_release)
            return
        query = (
            select(ReleasePiece.data)
            .where(ReleasePiece.number == number)
            .order_by(ReleasePiece.piece_index)
        )
        body = b"".join(session.scalars(query))
        if piece_hash(body) == announced["content_hash"]:
            raw = {
                "number": number,
                "content_hash": announced["content_hash"],
                "published_at": announced["published_at"],
                "content": json.loads(body),
            }
            store_release(context, session, raw)
            session.execute(pieces_of_release)
            touch_link(session, context.parent_code, "parent")
            return

    with context.db.transaction() as session:
        session.execute(pieces_of_release)
    raise CorruptPiece(
        f"release {number} joined from its pieces hashes to {piece_hash(body)}, "
        f"not the announced {announced['content_hash']}; its pieces were discarded",
        {"number": number, "content_hash": announced["content_hash"]},
    )
