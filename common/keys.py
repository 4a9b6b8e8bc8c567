"""Ed25519 keys of a node and the signatures of its sync requests.

A node's private key lives in its data directory, readable by its owner
only. A sync request is signed over its method, path, query, timestamp,
nonce and the SHA-256 of its body, so that no part can be changed or the
request be replayed elsewhere.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

KEY_FILE = "node_key.pem"
SIGNED_EVENT_FIELDS = (
    "origin",
    "seq",
    "kind",
    "case_id",
    "destination",
    "created_at",
    "payload",
)


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    """Return the node's private key, creating it on first use."""
    path = data_dir / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as f:
        f.write(pem)
    return key


def key_file_stamp(data_dir: Path) -> tuple[int, int] | None:
    """Return the inode and modification time of the key file, or None if it is missing."""
    try:
        status = (data_dir / KEY_FILE).stat()
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns)


def replace_key(data_dir: Path) -> Ed25519PrivateKey:
    """Set the node's key file aside and create a new key, for rotation."""
    path = data_dir / KEY_FILE
    if path.exists():
        path.rename(path.with_name(f"{KEY_FILE}.replaced-{int(time.time())}"))
    return load_or_create_key(data_dir)


def public_key_text(key: Ed25519PrivateKey) -> str:
    """Return the raw public key as base64, the form enrolled with the parent."""
    raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


# Cached because the hub checks every relayed event against the few keys of
# its origin; parsing took about 8 % of each check.
@functools.lru_cache(maxsize=4096)
def parse_public_key(text: str) -> Ed25519PublicKey:
    """Parse a base64 raw public key; raise ValueError if it is not one."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(public_key: str) -> str:
    """Return the short identifier of a public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key.encode()).hexdigest()[:16]


def signing_text(
    method: str, path: str, timestamp: str, nonce: str, body: bytes
) -> bytes:
    """Return the bytes a request signature covers."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, digest)).encode()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def verify(public_key: str, signature: str, message: bytes) -> bool:
    try:
        parse_public_key(public_key).verify(
            base64.b64decode(signature, validate=True), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def event_text(event: Mapping[str, Any]) -> bytes:
    """Return the bytes an event's origin signature covers: all but personal data.

    ``created_at`` may be a datetime or its ISO text; both give the same bytes.
    """
    created_at = event["created_at"]
    if not isinstance(created_at, str):
        created_at = created_at.isoformat()
    signed = {name: event.get(name) for name in SIGNED_EVENT_FIELDS}
    signed["created_at"] = created_at
    return json.dumps(
        signed, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode()


def personal_text(event: Mapping[str, Any]) -> bytes:
    """Return the bytes the signature of an event's personal data covers."""
    bound = {
        "origin": event["origin"],
        "seq": event["seq"],
        "personal": event["personal"],
    }
    return json.dumps(
        bound, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode()
