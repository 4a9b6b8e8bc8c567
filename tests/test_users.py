"""Sign-in, sign-out, API tokens and the user list."""

from __future__ import annotations

import requests

from tests.federation import HTML, PASSWORD, Browser, RunningNode


def test_wrong_password_is_401(city: RunningNode) -> None:
    browser = Browser(city, user=None)
    browser.get("/login")
    response = browser.post("/login", {"username": "staff", "password": "wrong"})
    assert response.status_code == 401


def test_signed_in_page_shows_user(city: RunningNode) -> None:
    page = Browser(city).get("/worklist")
    assert "值班员" in page.text


def test_cookie_kept_after_logout_is_anonymous(city: RunningNode) -> None:
    browser = Browser(city)
    browser.get("/worklist")
    kept = dict(browser.session.cookies)
    browser.post("/logout", {})
    response = requests.get(
        city.url + "/worklist",
        cookies=kept,
        headers=HTML,
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302


def test_token_for_password(city: RunningNode) -> None:
    body = {"username": "staff", "password": PASSWORD}
    response = city.post("/api/tokens", json=body, as_user=None)
    assert response.status_code == 201
    token = response.json()["token"]
    me = city.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "staff"


def test_revoked_token_is_401(city: RunningNode) -> None:
    body = {"username": "staff", "password": PASSWORD}
    token = city.post("/api/tokens", json=body, as_user=None).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert city.request("DELETE", "/api/tokens", headers=headers).status_code == 204
    assert city.get("/api/me", headers=headers).status_code == 401


def test_short_password_rejected(city: RunningNode) -> None:
    body = {"username": "wang", "password": "short", "roles": ["window_clerk"]}
    response = city.post("/api/users", json=body)
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]["fields"]


def test_duplicate_username_conflicts(city: RunningNode) -> None:
    body = {"username": "staff", "password": PASSWORD, "roles": ["supervisor"]}
    assert city.post("/api/users", json=body).status_code == 409


def test_unknown_role_rejected(city: RunningNode) -> None:
    body = {"username": "wang", "password": PASSWORD, "roles": ["mayor"]}
    response = city.post("/api/users", json=body)
    assert response.status_code == 400
