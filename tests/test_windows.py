"""Service windows: creating, listing, deactivating and assigning clerks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from common.models import ServiceWindow, User
from node import windows
from tests.federation import Browser, Federation, RunningNode

CITY = "350600"


@pytest.fixture
def center(federation: Federation) -> RunningNode:
    node = federation.start(CITY)
    node.add_user("clerk1", "window_clerk", department="民政局")
    node.add_user("clerk2", "window_clerk", department="公安局")
    node.add_user("watcher", "supervisor")
    node.add_user("admin", "center_admin")
    return node


def window_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "1号窗口",
        "department": "民政局",
        "categories": ["社会救助", "婚姻登记"],
    }
    body.update(changes)
    return body


def window_count(node: RunningNode) -> int:
    with node.context.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(ServiceWindow)) or 0


def window_of(node: RunningNode, username: str) -> int | None:
    with node.context.db.transaction() as session:
        return session.scalar(select(User.window_id).where(User.username == username))


def create(node: RunningNode, **changes: object) -> dict[str, Any]:
    response = node.post("/api/windows", json=window_body(**changes), as_user="admin")
    assert response.status_code == 201, response.text
    return response.json()


# --- API ----------------------------------------------------------------------


def test_created_window_is_listed(center: RunningNode) -> None:
    created = create(center)
    listed = center.get("/api/windows", as_user="admin").json()
    assert listed == [created]
    assert created["name"] == "1号窗口"
    assert created["department"] == "民政局"
    assert created["categories"] == ["社会救助", "婚姻登记"]
    assert created["active"] is True
    assert created["clerks"] == []


def test_window_fields_are_trimmed(center: RunningNode) -> None:
    created = create(center, name=" 2号窗口 ", categories=[" 户籍 "])
    assert created["name"] == "2号窗口"
    assert created["categories"] == ["户籍"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (window_body(name=""), "name"),
        (window_body(name="   "), "name"),
        (window_body(name="窗" * 41), "name"),
        (window_body(department=""), "department"),
        (window_body(categories=[]), "categories"),
        (window_body(categories="社会救助"), "categories"),
        (window_body(categories=["社会救助", "社会救助"]), "categories"),
        (window_body(categories=["社会救助", " "]), "categories"),
        (window_body(categories=["类" * 41]), "categories"),
        (window_body(categories=[f"类别{i}" for i in range(27)]), "categories"),
        ({"department": "民政局", "categories": ["户籍"]}, "name"),
        (window_body(colour="red"), "colour"),
    ],
)
def test_invalid_window_rejected(
    center: RunningNode, body: dict[str, object], field: str
) -> None:
    response = center.post("/api/windows", json=body, as_user="admin")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert window_count(center) == 0


def test_duplicate_window_name_conflicts(center: RunningNode) -> None:
    create(center)
    response = center.post("/api/windows", json=window_body(), as_user="admin")
    assert response.status_code == 409
    assert "name" in response.json()["error"]["details"]["fields"]
    assert window_count(center) == 1


def test_categories_limited_to_letters(center: RunningNode) -> None:
    create(center, categories=[f"类别{i}" for i in range(26)])
    extra = center.post(
        "/api/windows",
        json=window_body(name="2号窗口", categories=["户籍"]),
        as_user="admin",
    )
    reused = center.post(
        "/api/windows",
        json=window_body(name="3号窗口", categories=["类别3"]),
        as_user="admin",
    )
    assert extra.status_code == 400
    assert "categories" in extra.json()["error"]["details"]["fields"]
    assert reused.status_code == 201


def test_category_letters_follow_first_use(center: RunningNode) -> None:
    first = create(center, categories=["社会救助", "婚姻登记"])
    center.post(f"/api/windows/{first['id']}/deactivate", as_user="admin")
    create(center, name="2号窗口", categories=["户籍", "社会救助"])
    with center.context.db.transaction() as session:
        letters = windows.category_letters(session)
    assert letters == {"社会救助": "A", "婚姻登记": "B", "户籍": "C"}


def test_deactivate_window(center: RunningNode) -> None:
    window = create(center)
    response = center.post(f"/api/windows/{window['id']}/deactivate", as_user="admin")
    assert response.status_code == 200
    assert response.json()["active"] is False


def test_deactivate_unknown_window_not_found(center: RunningNode) -> None:
    response = center.post("/api/windows/99/deactivate", as_user="admin")
    assert response.status_code == 404


def test_assign_clerk_sets_window(center: RunningNode) -> None:
    window = create(center)
    response = center.post(
        f"/api/windows/{window['id']}/clerks",
        json={"username": "clerk1"},
        as_user="admin",
    )
    assert response.status_code == 200
    assert response.json()["clerks"] == ["clerk1"]
    assert window_of(center, "clerk1") == window["id"]


def test_assign_moves_clerk(center: RunningNode) -> None:
    first = create(center)
    second = create(center, name="2号窗口")
    for window in (first, second):
        center.post(
            f"/api/windows/{window['id']}/clerks",
            json={"username": "clerk1"},
            as_user="admin",
        )
    listed = center.get("/api/windows", as_user="admin").json()
    assert listed[0]["clerks"] == []
    assert listed[1]["clerks"] == ["clerk1"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "watcher"}, "username"),
        ({"username": "nobody"}, "username"),
        ({"username": ""}, "username"),
        ({}, "username"),
        ({"username": "clerk1", "window": 1}, "window"),
    ],
)
def test_assign_invalid_clerk_rejected(
    center: RunningNode, body: dict[str, object], field: str
) -> None:
    window = create(center)
    response = center.post(
        f"/api/windows/{window['id']}/clerks", json=body, as_user="admin"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]
    assert window_of(center, "watcher") is None
    assert window_of(center, "clerk1") is None


def test_assign_to_deactivated_window_conflicts(center: RunningNode) -> None:
    window = create(center)
    center.post(f"/api/windows/{window['id']}/deactivate", as_user="admin")
    response = center.post(
        f"/api/windows/{window['id']}/clerks",
        json={"username": "clerk1"},
        as_user="admin",
    )
    assert response.status_code == 409
    assert window_of(center, "clerk1") is None


def test_assign_to_unknown_window_not_found(center: RunningNode) -> None:
    response = center.post(
        "/api/windows/99/clerks", json={"username": "clerk1"}, as_user="admin"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(("user", "status"), [("clerk1", 403), (None, 401)])
def test_only_admins_manage_windows(
    center: RunningNode, user: str | None, status: int
) -> None:
    window = create(center)
    created = center.post("/api/windows", json=window_body(name="9"), as_user=user)
    deactivated = center.post(f"/api/windows/{window['id']}/deactivate", as_user=user)
    assigned = center.post(
        f"/api/windows/{window['id']}/clerks",
        json={"username": "clerk1"},
        as_user=user,
    )
    assert created.status_code == status
    assert deactivated.status_code == status
    assert assigned.status_code == status
    assert window_count(center) == 1
    assert center.get("/api/windows", as_user="admin").json()[0]["active"] is True
    assert window_of(center, "clerk1") is None


def test_supervisor_lists_windows(center: RunningNode) -> None:
    create(center)
    assert center.get("/api/windows", as_user="watcher").status_code == 200
    assert center.get("/api/windows", as_user="clerk1").status_code == 403


# --- page ---------------------------------------------------------------------


def test_page_creates_window(center: RunningNode) -> None:
    admin = Browser(center, "admin")
    admin.get("/windows")
    response = admin.post(
        "/windows",
        {
            "name": "1号窗口",
            "department": "民政局",
            "categories": "社会救助\r\n婚姻登记\r\n",
        },
    )
    page = admin.get("/windows").text
    assert response.status_code == 303
    assert "已新增窗口「1号窗口」" in page
    assert "社会救助（A）" in page
    assert "婚姻登记（B）" in page


def test_page_shows_invalid_window(center: RunningNode) -> None:
    admin = Browser(center, "admin")
    admin.get("/windows")
    response = admin.post(
        "/windows", {"name": "1号窗口", "department": "", "categories": "社会救助"}
    )
    assert response.status_code == 400
    assert "所属部门" in response.text
    assert 'value="1号窗口"' in response.text
    assert window_count(center) == 0


def test_page_assigns_and_deactivates(center: RunningNode) -> None:
    window = create(center)
    admin = Browser(center, "admin")
    admin.get("/windows")
    assigned = admin.post(
        "/windows/clerks", {"username": "clerk1", "window_id": window["id"]}
    )
    deactivated = admin.post(f"/windows/{window['id']}/deactivate", {})
    page = admin.get("/windows").text
    assert assigned.status_code == 303
    assert deactivated.status_code == 303
    assert window_of(center, "clerk1") == window["id"]
    assert "已停用" in page


def test_page_rejects_assigning_non_clerk(center: RunningNode) -> None:
    window = create(center)
    admin = Browser(center, "admin")
    admin.get("/windows")
    response = admin.post(
        "/windows/clerks", {"username": "watcher", "window_id": window["id"]}
    )
    assert response.status_code == 400
    assert "window_clerk" in response.text
    assert window_of(center, "watcher") is None


def test_page_needs_admin(center: RunningNode) -> None:
    clerk = Browser(center, "clerk1")
    anonymous = Browser(center, None)
    assert clerk.get("/windows").status_code == 403
    assert (
        anonymous.session.get(
            center.url + "/windows", allow_redirects=False
        ).status_code
        == 302
    )
