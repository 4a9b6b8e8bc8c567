"""Catalog releases downloaded in pieces: cut links, corrupt pieces, limits.

The county downloads from the city through a link proxy in pieces of
1,024 bytes, so the shipped catalog (about 20 KB) comes in about twenty
pieces. A WSGI wrapper on the city records which pieces are requested,
and can cut the link or corrupt a piece on the way out.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from sqlalchemy import func, select

from common.catalog import canonical_body, content_hash, current_release_number
from common.context import get_context
from common.models import Matter, Release
from common.release_piece_models import ReleasePiece
from hub.catalog import load_catalog, publish
from sync.jobs import pull_catalog
from sync.pieces import CorruptPiece
from sync.transport import ParentClient, ParentUnreachable, SyncRefused
from tests.faults.harness import CITY, COUNTY, TOWNSHIP, LinkProxy
from tests.federation import Federation

PIECE_SIZE = 1024
PIECE_PATH = re.compile(r"^/sync/releases/(\d+)/pieces/(\d+)\Z")


class PieceTap:
    """WSGI wrapper that records piece requests and can break one of them.

    ``cut_at`` cuts ``link`` when that piece index is first requested, so
    the child never gets it. ``corrupt`` lists piece indexes: each time an
    index is served, one occurrence is taken off the list and that copy
    gets a flipped byte, while the announced hash stays as it was.
    """

    def __init__(
        self,
        app: Callable[..., Any],
        link: LinkProxy | None = None,
        cut_at: int | None = None,
        corrupt: Iterable[int] = (),
    ) -> None:
        self.app = app
        self.link = link
        self.cut_at = cut_at
        self.corrupt = list(corrupt)
        self.requested: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        match = PIECE_PATH.match(environ["PATH_INFO"])
        if match is None:
            return self.app(environ, start_response)
        index = int(match.group(2))
        with self._lock:
            self.requested.append(index)
            cut = index == self.cut_at
            corrupt = index in self.corrupt
            if corrupt:
                self.corrupt.remove(index)
            if cut:
                self.cut_at = None
        if cut and self.link is not None:
            self.link.cut()
        if not corrupt:
            return self.app(environ, start_response)
        return self._corrupted(environ, start_response)

    def _corrupted(self, environ: dict[str, Any], start_response: Callable) -> Any:
        kept: list[Any] = []

        def keep(status: str, headers: list, exc_info: Any = None) -> Callable:
            kept[:] = [status, headers]
            return lambda data: None

        chunks = self.app(environ, keep)
        answer = json.loads(b"".join(chunks))
        getattr(chunks, "close", lambda: None)()
        data = bytearray(base64.b64decode(answer["data"]))
        data[0] ^= 0xFF
        answer["data"] = base64.b64encode(bytes(data)).decode("ascii")
        body = json.dumps(answer).encode()
        status, headers = kept
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


def piece_count(federation: Federation, number: int = 1) -> int:
    with federation.nodes[CITY].context.db.transaction() as session:
        content = session.get(Release, number).content
    return -(-len(canonical_body(content)) // PIECE_SIZE)


def pieces_held(code: str) -> list[int]:
    with get_context(code).db.transaction() as session:
        query = select(ReleasePiece.piece_index).order_by(ReleasePiece.piece_index)
        return list(session.scalars(query))


def release_held(code: str) -> int | None:
    with get_context(code).db.transaction() as session:
        return current_release_number(session)


def matters_held(code: str, number: int) -> int:
    with get_context(code).db.transaction() as session:
        query = select(func.count()).select_from(Matter)
        return session.scalar(query.where(Matter.release == number)) or 0


@pytest.fixture
def link(federation: Federation, links: list[LinkProxy]) -> LinkProxy:
    """A link to a running city holding release 1."""
    federation.start(CITY)
    federation.publish_catalog()
    proxy = LinkProxy(federation.nodes[CITY].server.server_port)
    links.append(proxy)
    proxy.restore()
    return proxy


def start_county(federation: Federation, link: LinkProxy, **settings: Any) -> None:
    settings.setdefault("release_piece_size", PIECE_SIZE)
    federation.start(COUNTY, parent_url=link.url, **settings)


def tap_city(federation: Federation, **settings: Any) -> PieceTap:
    app = federation.nodes[CITY].app
    tap = PieceTap(app.wsgi_app, **settings)
    app.wsgi_app = tap  # type: ignore[method-assign]
    return tap


def test_cut_download_keeps_pieces(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    tap_city(federation, link=link, cut_at=3)

    with pytest.raises(ParentUnreachable):
        pull_catalog(COUNTY)

    assert pieces_held(COUNTY) == [0, 1, 2]
    assert release_held(COUNTY) is None


def test_release_hidden_until_whole(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    tap_city(federation, link=link, cut_at=3)
    with pytest.raises(ParentUnreachable):
        pull_catalog(COUNTY)

    catalog = federation.nodes[COUNTY].get("/api/catalog").json()
    assert catalog["number"] is None
    assert catalog["matters"] == 0
    assert matters_held(COUNTY, 1) == 0


def test_cut_download_resumes(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    tap = tap_city(federation, link=link, cut_at=3)
    with pytest.raises(ParentUnreachable):
        pull_catalog(COUNTY)
    first_run = len(tap.requested)
    link.restore()

    assert pull_catalog(COUNTY) == 1
    resumed = tap.requested[first_run:]
    assert resumed == list(range(3, piece_count(federation)))
    assert pieces_held(COUNTY) == []


def test_resumed_release_applied_once(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    tap_city(federation, link=link, cut_at=5)
    with pytest.raises(ParentUnreachable):
        pull_catalog(COUNTY)
    link.restore()
    pull_catalog(COUNTY)
    pull_catalog(COUNTY)

    city_matters = matters_held(CITY, 1)
    assert matters_held(COUNTY, 1) == city_matters
    with get_context(COUNTY).db.transaction() as session:
        held = session.get(Release, 1)
        assert held is not None
        assert content_hash(held.content) == held.content_hash


def test_corrupt_piece_refetched(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    tap = tap_city(federation, corrupt=[2])

    assert pull_catalog(COUNTY) == 1
    assert tap.requested.count(2) == 2
    assert tap.requested.count(1) == 1


def test_corrupt_piece_not_applied(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    tap_city(federation, corrupt=[2])
    pull_catalog(COUNTY)

    with get_context(COUNTY).db.transaction() as session:
        held = session.get(Release, 1).content
    with get_context(CITY).db.transaction() as session:
        published = session.get(Release, 1).content
    assert canonical_body(held) == canonical_body(published)


def test_piece_corrupt_every_time(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    tap_city(federation, corrupt=[1, 1, 1])

    with pytest.raises(CorruptPiece, match="piece 1 of release 1"):
        pull_catalog(COUNTY)
    assert pieces_held(COUNTY) == [0]
    assert release_held(COUNTY) is None


def test_next_release_in_pieces(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    pull_catalog(COUNTY)
    city = federation.nodes[CITY].context
    content = load_catalog(city.divisions)
    content["matters"][0]["name"] += "（修订）"
    with city.db.transaction() as session:
        publish(city, session, content)

    assert pull_catalog(COUNTY) == 2
    assert matters_held(COUNTY, 2) == matters_held(CITY, 2)


def test_small_release_one_piece(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link, release_piece_size=256 * 1024)
    tap = tap_city(federation)

    assert pull_catalog(COUNTY) == 1
    assert tap.requested == [0]


def test_parent_limit_adopted(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link, release_piece_size=1024 * 1024)
    federation.start(TOWNSHIP, release_piece_size=2 * 1024 * 1024)
    pull_catalog(COUNTY)

    assert pull_catalog(TOWNSHIP) == 1


def test_piece_over_limit_rejected(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    client = ParentClient(federation.nodes[COUNTY].context)
    city_limit = federation.nodes[CITY].context.config.release_piece_size

    with pytest.raises(SyncRefused) as refused:
        client.fetch_release_manifest(1, city_limit + 1)
    client.close()
    assert refused.value.http_status == 400
    assert refused.value.error["code"] == "piece_too_large"
    assert str(city_limit) in refused.value.error["message"]


@pytest.mark.parametrize("piece_size", [0, 1023, 16 * 1024 * 1024 + 1])
def test_piece_size_out_of_range(
    federation: Federation, link: LinkProxy, piece_size: int
) -> None:
    start_county(federation, link)
    client = ParentClient(federation.nodes[COUNTY].context)

    with pytest.raises(SyncRefused) as refused:
        client.fetch_release_manifest(1, piece_size)
    client.close()
    assert refused.value.http_status == 400
    assert "piece_size" in refused.value.error["details"]["fields"]


def test_unknown_release_not_found(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    client = ParentClient(federation.nodes[COUNTY].context)

    with pytest.raises(SyncRefused) as refused:
        client.fetch_release_manifest(2, PIECE_SIZE)
    client.close()
    assert refused.value.http_status == 404
    assert refused.value.error["code"] == "release_not_found"


def test_piece_past_last_not_found(federation: Federation, link: LinkProxy) -> None:
    start_county(federation, link)
    client = ParentClient(federation.nodes[COUNTY].context)
    count = piece_count(federation)

    with pytest.raises(SyncRefused) as refused:
        client.fetch_release_piece(1, count, PIECE_SIZE)
    client.close()
    assert refused.value.http_status == 404
    assert f"numbered 0 to {count - 1}" in refused.value.error["message"]


def test_pieces_unsigned_rejected(federation: Federation, link: LinkProxy) -> None:
    response = federation.nodes[CITY].get(
        "/sync/releases/1/manifest", params={"piece_size": PIECE_SIZE}
    )

    assert response.status_code == 401
