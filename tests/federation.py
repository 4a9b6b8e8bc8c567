"""Several real nodes in one process, each on its own loopback HTTP server.

Nodes talk to each other over real HTTP and share one real Redis; each has
its own SQLite database, except that the city uses ``hub_database_url``
when one is given. Jobs run in burst ``SimpleWorker`` instances in this
process.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from common.config import NodeConfig
from common.context import NodeContext, get_context, queue_name, unregister
from common.divisions import parent_of_code
from common.keys import event_text, key_id, public_key_text, sign
from common.models import Role, User
from hub.catalog import load_catalog, publish
from node import create_app
from node.auth import create_user, get_user, issue_api_token
from sync.auth import signed_headers
from sync.enroll import enroll_with_parent, issue_token, store_key
from sync.jobs import enqueue_once, sync_round

# Every test node has a user holding every role, whom requests act as unless
# a test names another user; all test users share one password.
STAFF = "staff"
PASSWORD = "correct horse battery"


@dataclass
class RunningNode:
    code: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def context(self) -> NodeContext:
        return get_context(self.code)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def request(
        self, method: str, path: str, as_user: str | None = STAFF, **kwargs: Any
    ) -> requests.Response:
        """Send a request as ``as_user`` (a bearer token), or anonymously if None."""
        headers = dict(kwargs.pop("headers", None) or {})
        if as_user is not None:
            headers.setdefault("Authorization", f"Bearer {self.token(as_user)}")
        return requests.request(
            method, self.url + path, timeout=30, headers=headers, **kwargs
        )

    def add_user(self, username: str, *roles: str, **fields: Any) -> str:
        """Add a user of this node with ``roles``; return their API token."""
        with self.context.db.transaction() as session:
            user = create_user(session, username, PASSWORD, roles, **fields)
            token = issue_api_token(session, user)
        self.tokens[username] = token
        return token

    def token(self, username: str) -> str:
        if username not in self.tokens:
            with self.context.db.transaction() as session:
                user = get_user(session, username)
                self.tokens[username] = issue_api_token(session, user)
        return self.tokens[username]


class Federation:
    def __init__(
        self, root: Path, redis_url: str, hub_database_url: str | None = None
    ) -> None:
        self.root = root
        self.redis_url = redis_url
        self.hub_database_url = hub_database_url
        self.nodes: dict[str, RunningNode] = {}
        self.stopped_ports: dict[str, int] = {}

    def start(self, code: str, port: int = 0, **overrides: Any) -> RunningNode:
        """Start node ``code``; its parent must already run here, unless it is the city.

        ``port`` 0 picks a free port; a restarted node passes its old one so
        that its children find it again.
        """
        parent_code = parent_of_code(code)
        parent = self.nodes.get(parent_code) if parent_code else None
        settings: dict[str, Any] = {
            "code": code,
            "data_dir": self.root / code,
            "parent_url": parent.url if parent else None,
            "redis_url": self.redis_url,
            "database_url": None if parent_code else self.hub_database_url,
        }
        settings.update(overrides)
        app = create_app(NodeConfig(**settings).validate())
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        node = self.nodes[code] = RunningNode(code, app, server, thread)
        with node.context.db.transaction() as session:
            if session.scalar(select(User.id).where(User.username == STAFF)) is None:
                create_user(session, STAFF, PASSWORD, list(Role), display_name="值班员")
        if parent_code and not port:
            self.enroll(code)
        return self.nodes[code]

    def enroll(self, code: str) -> None:
        """Enroll a node's key with a token from the city, as its operator would."""
        city = self.nodes["350600"].context
        with city.db.transaction() as session:
            token = issue_token(city, session, code)
        enroll_with_parent(self.nodes[code].context, token)

    def stop_node(self, code: str) -> None:
        node = self.nodes.pop(code)
        self.stopped_ports[code] = node.server.server_port
        node.server.shutdown()
        node.server.server_close()
        node.context.close()
        unregister(code)

    def restart_node(self, code: str) -> RunningNode:
        """Start a stopped node again on its old port, with its old database."""
        port = self.stopped_ports[code]
        return self.start(code, port=port)

    def stop(self) -> None:
        for code in list(self.nodes)[::-1]:
            self.stop_node(code)

    def redis_client_flush(self) -> None:
        """Empty Redis, as a restart of a Redis that keeps nothing on disk would."""
        next(iter(self.nodes.values())).context.redis.flushdb()

    def publish_catalog(self) -> int:
        city = self.nodes["350600"].context
        with city.db.transaction() as session:
            release = publish(city, session, load_catalog(city.divisions))
            assert release is not None
            return release.number

    def drain(self, codes: list[str] | None = None) -> None:
        """Run every queued job of the given nodes until all their queues are empty.

        One burst worker serves all the queues: each worker stop can wait up
        to a second for RQ's pubsub thread, so fewer workers run faster.
        """
        codes = codes or list(self.nodes)
        connection = self.nodes[codes[0]].context.redis
        queues = [Queue(queue_name(code), connection=connection) for code in codes]
        for _ in range(100):
            if not any(queue.count for queue in queues):
                return
            SimpleWorker(queues, connection=connection).work(
                burst=True, logging_level="WARNING"
            )
        raise RuntimeError("queues did not drain after 100 rounds")

    def sync(self, rounds: int = 4) -> None:
        """Run scheduled sync rounds at every node, as the worker tickers would."""
        for _ in range(rounds):
            for node in self.nodes.values():
                enqueue_once(node.context, sync_round)
            self.drain()


@dataclass
class StandInSigner:
    """A key that signs sync requests for a node code with no running node."""

    code: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        return public_key_text(self.private_key)

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)


_test_signers: dict[str, StandInSigner] = {}
# Codes whose test key each running node already stores.
_enrolled_at: WeakKeyDictionary[NodeContext, set[str]] = WeakKeyDictionary()


def stand_in(node: RunningNode, code: str) -> StandInSigner:
    """Return the test key of ``code``, enrolled at ``node``."""
    signer = _test_signers.setdefault(
        code, StandInSigner(code, Ed25519PrivateKey.generate())
    )
    enrolled = _enrolled_at.setdefault(node.context, set())
    if code not in enrolled:
        with node.context.db.transaction() as session:
            store_key(session, code, signer.public_key)
        enrolled.add(code)
    return signer


def sign_event(node: RunningNode, event: Any) -> Any:
    """Sign a test event as its origin, unless it already carries a signature.

    Events too malformed to sign get a placeholder signature, so that the
    receiver's own validation is what rejects them.
    """
    if not isinstance(event, dict) or "signature" in event:
        return event
    origin = event.get("origin")
    if not isinstance(origin, str):
        return dict(event, key_id="0" * 16, signature="unsigned")
    signer = stand_in(node, origin)
    signed = dict(event, key_id=signer.key_id)
    try:
        signed["signature"] = sign(signer.private_key, event_text(signed))
    except (KeyError, TypeError, AttributeError):
        signed["signature"] = "unsigned"
    return signed


def signed_post(
    node: RunningNode, as_code: str, path: str, body: Any
) -> requests.Response:
    """POST a sync request to ``node`` signed as ``as_code``.

    A test key for ``as_code`` is enrolled at ``node`` directly in its
    database, so tests can speak for nodes that do not run.
    """
    signer = stand_in(node, as_code)
    if isinstance(body, dict):
        body = dict(body, events=[sign_event(node, e) for e in body.get("events", [])])
    data = json.dumps(body).encode()
    headers = signed_headers(signer, "POST", path, data)  # type: ignore[arg-type]
    headers["Content-Type"] = "application/json"
    return requests.post(node.url + path, data=data, headers=headers, timeout=30)


HTML = {"Accept": "text/html"}
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A person at one node: one cookie session and the CSRF token of its forms.

    Signs in as ``user`` first, unless ``user`` is None.
    """

    def __init__(self, node: RunningNode, user: str | None = STAFF) -> None:
        self.node = node
        self.session = requests.Session()
        self.session.headers.update(HTML)
        self.token = ""
        if user is not None:
            self.get("/login")
            response = self.post("/login", {"username": user, "password": PASSWORD})
            assert response.status_code == 302, response.text

    def get(self, path: str) -> requests.Response:
        response = self.session.get(self.node.url + path, timeout=30)
        found = TOKEN_FIELD.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, object]) -> requests.Response:
        return self.session.post(
            self.node.url + path,
            data={"csrf_token": self.token, **data},
            allow_redirects=False,
            timeout=30,
        )


def complete_case(
    node: RunningNode, case_id: str, result: str = "准予办理"
) -> requests.Response:
    """Approve every remaining step of an accepted case, then complete it."""
    for _ in range(20):
        case = node.get(f"/api/cases/{case_id}").json()
        active = [s for s in case["steps"] if s["status"] == "active"]
        if not active or (
            active[0]["role"] == "window_clerk" and active[0] == case["steps"][-1]
        ):
            break
        position = active[0]["position"]
        response = node.post(
            f"/api/cases/{case_id}/steps/{position}/approve", json={"opinion": "同意"}
        )
        assert response.status_code == 200, response.text
    return node.post(f"/api/cases/{case_id}/complete", json={"result": result})
