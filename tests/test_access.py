"""The whole matrix of roles and endpoints, walked with real requests.

Every endpoint of the app must be in the access table, and for each one
every role either passes the role check or is refused with 401 or 403
before the view runs. A refusal by role carries the roles needed and held,
which tells it apart from a view's own finer refusal (a clerk without a
window, an approver of another department).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.models import Role
from node.access import ACCESS, NODE, PUBLIC, SIGNED_IN, rule_for
from node.auth import create_user, issue_api_token
from tests.federation import PASSWORD, Federation

CITY = "350600"
ANONYMOUS = "anonymous"
SUBJECTS = [ANONYMOUS, *(role.value for role in Role)]
CSRF = "matrix-csrf-token"
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def app_routes(app: Flask) -> list[tuple[str, str, str]]:
    """Return (endpoint, method, path with sample values) for every route."""
    routes = []
    for rule in app.url_map.iter_rules():
        path = CONVERTER.sub(
            lambda m: "999999" if m.group(1) == "int" else "sample", rule.rule
        )
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, path))
    return sorted(routes)


@pytest.fixture(scope="module")
def matrix_app(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[Flask, dict[str, int]]]:
    """A city node with one user per role, each holding only that role."""
    federation = Federation(tmp_path_factory.mktemp("matrix"), redis_url)
    node = federation.start(CITY)
    users = {}
    with node.context.db.transaction() as session:
        for role in Role:
            user = create_user(session, f"only-{role.value}", PASSWORD, [role.value])
            users[role.value] = user.id
    yield node.app, users
    federation.stop()


def test_every_endpoint_in_access_table(matrix_app: Any) -> None:
    app, _ = matrix_app
    missing = [
        (endpoint, method)
        for endpoint, method, _ in app_routes(app)
        if rule_for(endpoint, method) is None
    ]
    assert missing == []


def test_access_table_names_no_stale_endpoint(matrix_app: Any) -> None:
    app, _ = matrix_app
    routed = {endpoint for endpoint, _, _ in app_routes(app)}
    assert sorted(set(ACCESS) - routed) == []


def send(
    app: Flask, client: FlaskClient, subject: str, users: dict[str, int], route: Any
) -> Any:
    endpoint, method, path = route
    headers = {"Accept": "application/json"}
    if path.startswith("/api/"):
        if subject != ANONYMOUS:
            with app.extensions["node"].db.transaction() as session:
                from common.models import User

                user = session.get(User, users[subject])
                headers["Authorization"] = f"Bearer {issue_api_token(session, user)}"
        return client.open(path, method=method, json={}, headers=headers)
    session_token = None
    if subject != ANONYMOUS:
        with app.extensions["node"].db.transaction() as session:
            from common.models import User

            user = session.get(User, users[subject])
            session_token = issue_api_token(session, user, "page session")
    with client.session_transaction() as browser:
        browser.clear()
        browser["csrf_token"] = CSRF
        if session_token is not None:
            browser["session_token"] = session_token
    return client.open(path, method=method, data={"csrf_token": CSRF}, headers=headers)


def refused_by_role(response: Any) -> bool:
    """Tell whether the response is the role check's 401 or 403."""
    if response.status_code == 302 and "/login" in response.headers["Location"]:
        return True
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    details = (response.get_json(silent=True) or {}).get("error", {}).get("details", {})
    return "needed" in details or "endpoint" in details


def allowed(rule: Any, subject: str) -> bool:
    if rule in (PUBLIC, NODE):
        return True
    if subject == ANONYMOUS:
        return False
    return rule == SIGNED_IN or subject in rule


def matrix_cases() -> list[Any]:
    # The routes are the same on every node, so a throwaway app lists them.
    import tempfile
    from pathlib import Path

    from common.config import NodeConfig
    from node import create_app

    folder = Path(tempfile.mkdtemp(prefix="routes-"))
    app = create_app(NodeConfig(code=CITY, data_dir=folder).validate())
    app.extensions["node"].close()
    from common.context import unregister

    unregister(CITY)
    cases = []
    for route in app_routes(app):
        if rule_for(route[0], route[1]) in (NODE, None) or route[0] == "static":
            continue
        if route[:2] == ("users_pages.login", "POST"):
            continue  # public, and a 401 there means a wrong password
        for subject in SUBJECTS:
            cases.append(
                pytest.param(route, subject, id=f"{route[1]} {route[2]} {subject}")
            )
    return cases


@pytest.mark.parametrize(("route", "subject"), matrix_cases())
def test_role_matrix(matrix_app: Any, route: Any, subject: str) -> None:
    app, users = matrix_app
    client = app.test_client()
    response = send(app, client, subject, users, route)
    expected = allowed(rule_for(route[0], route[1]), subject)
    assert refused_by_role(response) is not expected, response.get_data(as_text=True)
