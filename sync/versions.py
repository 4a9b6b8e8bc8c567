"""Software and protocol versions that the two ends of a sync link exchange.

Every sync request and response carries the sender's software version and
the sync protocol versions it speaks. A request also names the protocol
version it uses. A receiver rejects a request in a protocol it does not
speak before it reads anything else. Both ends keep the peer's versions on
their ``Link`` row, for the sync health page.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from weakref import WeakKeyDictionary

from common.context import NodeContext
from common.errors import AppError
from common.models import Link
from common.schemas.sync import PROTOCOL_VERSION, SUPPORTED_PROTOCOLS

logger = logging.getLogger(__name__)

PACKAGE = "servicecenters"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

HEADER_PROTOCOL = "X-Sync-Protocol"
HEADER_PROTOCOLS = "X-Sync-Protocols"
HEADER_SOFTWARE = "X-Node-Software"

# Maximum length of a header value kept on a link: the columns' width.
MAX_VALUE = 40


class UnsupportedProtocol(AppError):
    status = 400
    code = "unsupported_protocol"


@cache
def software_version() -> str:
    """Return the installed package's version, or pyproject's in a source tree."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        pass
    try:
        with PYPROJECT.open("rb") as f:
            return str(tomllib.load(f)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def protocols_text() -> str:
    return ",".join(str(v) for v in SUPPORTED_PROTOCOLS)


def version_headers() -> dict[str, str]:
    """Return the headers that announce this node's versions on a request or response."""
    return {
        HEADER_PROTOCOL: str(PROTOCOL_VERSION),
        HEADER_PROTOCOLS: protocols_text(),
        HEADER_SOFTWARE: software_version(),
    }


def check_protocol(context: NodeContext, headers: Mapping[str, str]) -> None:
    """Raise ``UnsupportedProtocol`` if the request uses a protocol this node lacks.

    A request without the protocol header is taken as protocol 1, which is
    what every node sent before the header became versioned.
    """
    used = headers.get(HEADER_PROTOCOL, "1").strip()
    if used in {str(v) for v in SUPPORTED_PROTOCOLS}:
        return
    sender = headers.get("X-Node-Code", "unknown")[:12]
    software = headers.get(HEADER_SOFTWARE, "unknown")[:MAX_VALUE]
    raise UnsupportedProtocol(
        f"node {sender} (software {software}) uses sync protocol {used[:10]}, "
        f"but node {context.code} (software {software_version()}) speaks only "
        f"protocol {protocols_text()}; upgrade the older of the two nodes",
        {
            "protocol": used[:10],
            "peer_software": software,
            "supported": list(SUPPORTED_PROTOCOLS),
            "software": software_version(),
        },
    )


# The versions each node last stored per peer, so that a link row is
# written only when a peer's versions change, not on every request.
_stored: WeakKeyDictionary[NodeContext, dict[str, tuple[str, str]]] = (
    WeakKeyDictionary()
)


def record_peer_versions(
    context: NodeContext, peer: str, relation: str, headers: Mapping[str, str]
) -> None:
    """Keep the peer's software and protocol versions on its link row."""
    software = headers.get(HEADER_SOFTWARE)
    if software is None:
        return
    seen = (software[:MAX_VALUE], headers.get(HEADER_PROTOCOLS, "")[:MAX_VALUE])
    stored = _stored.setdefault(context, {})
    if stored.get(peer) == seen:
        return
    with context.db.transaction() as session:
        link = session.get(Link, peer) or Link(peer=peer, relation=relation)
        link.peer_software, link.peer_protocols = seen
        session.add(link)
    stored[peer] = seen
    logger.info(
        "Node %s: peer %s runs software %s, speaks sync protocol %s",
        context.code,
        peer,
        seen[0],
        seen[1] or "unknown",
    )
