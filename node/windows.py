"""Service windows (窗口) of a center and the clerks who staff them.

Center administrators create windows, deactivate them and assign clerks.
A window's categories decide which queue tickets its clerks call, and the
order in which categories first appear fixes each category's ticket letter.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from common.errors import AppError, Conflict, InvalidInput, NotFound
from common.models import Role, ServiceWindow, User
from common.schemas.tickets import (
    MAX_CATEGORIES,
    AssignClerkSchema,
    WindowInSchema,
    WindowSchema,
)
from node.api import Blueprint as ApiBlueprint
from node.api import current_node
from node.auth import has_role, roles_required

logger = logging.getLogger(__name__)

api = ApiBlueprint(
    "windows",
    __name__,
    url_prefix="/api/windows",
    description="Service windows and the clerks assigned to them",
)
pages = Blueprint("windows_pages", __name__)


# --- service ------------------------------------------------------------------


def list_windows(session: Session) -> list[ServiceWindow]:
    return list(session.scalars(select(ServiceWindow).order_by(ServiceWindow.id)))


def get_window(session: Session, window_id: int) -> ServiceWindow:
    window = session.get(ServiceWindow, window_id)
    if window is None:
        raise NotFound(
            f"no window {window_id} at this center", {"window_id": window_id}
        )
    return window


def category_letters(session: Session) -> dict[str, str]:
    """Map each category of any window to its ticket letter.

    Letters follow the order in which categories first appear, by window id
    then list order. Windows are never deleted and their categories never
    change, so a category keeps its letter from day to day.
    """
    letters: dict[str, str] = {}
    for window in list_windows(session):
        for category in window.categories:
            if category not in letters:
                letters[category] = string.ascii_uppercase[len(letters)]
    return letters


def served_categories(session: Session) -> list[str]:
    """List the categories that at least one active window serves, sorted."""
    query = select(ServiceWindow.categories).where(ServiceWindow.active.is_(True))
    return sorted({c for categories in session.scalars(query) for c in categories})


def create_window(session: Session, data: dict[str, Any]) -> ServiceWindow:
    """Add a window, or raise ``InvalidInput`` or ``Conflict`` naming the field."""
    name = data["name"].strip()
    categories = [c.strip() for c in data["categories"]]
    if session.scalar(select(ServiceWindow.id).where(ServiceWindow.name == name)):
        raise Conflict(
            f"a window named {name} exists already; choose another name",
            {"fields": {"name": [f"a window named {name} exists already"]}},
        )
    known = category_letters(session)
    new = [c for c in categories if c not in known]
    if len(known) + len(new) > MAX_CATEGORIES:
        reason = (
            f"this center numbers at most {MAX_CATEGORIES} categories (A to Z) "
            f"and has {len(known)}; reuse one of: {', '.join(known)}"
        )
        raise InvalidInput(reason, {"fields": {"categories": [reason]}})

    window = ServiceWindow(
        name=name,
        department=data["department"].strip(),
        categories=categories,
        active=True,
    )
    session.add(window)
    session.flush()
    logger.info("Window %s (%s) created", window.id, window.name)
    return window


def deactivate_window(session: Session, window_id: int) -> ServiceWindow:
    """Stop a window from calling tickets; its clerks stay assigned."""
    window = get_window(session, window_id)
    window.active = False
    logger.info("Window %s (%s) deactivated", window.id, window.name)
    return window


def assign_clerk(session: Session, window_id: int, username: str) -> User:
    """Assign a window clerk to a window, moving them from any other window."""
    window = get_window(session, window_id)
    if not window.active:
        raise Conflict(
            f"window {window.name} is deactivated; assign the clerk to an active "
            "window",
            {"window_id": window_id},
        )
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        reason = f"no active user {username} at this center"
        raise InvalidInput(reason, {"fields": {"username": [reason]}})
    if not has_role(user, Role.WINDOW_CLERK):
        reason = f"user {username} does not hold the role window_clerk"
        raise InvalidInput(reason, {"fields": {"username": [reason]}})

    user.window_id = window.id
    logger.info("Clerk %s assigned to window %s", user.id, window.id)
    return user


def window_view(session: Session, window: ServiceWindow) -> dict[str, Any]:
    query = select(User.username).where(User.window_id == window.id).order_by(User.id)
    return {
        "id": window.id,
        "name": window.name,
        "department": window.department,
        "categories": window.categories,
        "active": window.active,
        "clerks": list(session.scalars(query)),
    }


# --- API ----------------------------------------------------------------------


@api.route("")
class Windows(MethodView):
    @roles_required(Role.CENTER_ADMIN, Role.SUPERVISOR)
    @api.response(200, WindowSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List this center's windows with their clerks."""
        with current_node().db.transaction() as session:
            return [window_view(session, w) for w in list_windows(session)]

    @roles_required(Role.CENTER_ADMIN)
    @api.arguments(WindowInSchema)
    @api.response(201, WindowSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a window serving the given ticket categories."""
        with current_node().db.transaction() as session:
            return window_view(session, create_window(session, data))


@api.route("/<int:window_id>/deactivate", methods=["POST"])
@roles_required(Role.CENTER_ADMIN)
@api.response(200, WindowSchema)
def deactivate(window_id: int) -> dict[str, Any]:
    """Deactivate a window: it calls no more tickets."""
    with current_node().db.transaction() as session:
        return window_view(session, deactivate_window(session, window_id))


@api.route("/<int:window_id>/clerks", methods=["POST"])
@roles_required(Role.CENTER_ADMIN)
@api.arguments(AssignClerkSchema)
@api.response(200, WindowSchema)
def assign(data: dict[str, Any], window_id: int) -> dict[str, Any]:
    """Assign a window clerk to this window."""
    with current_node().db.transaction() as session:
        user = assign_clerk(session, window_id, data["username"])
        return window_view(session, get_window(session, user.window_id))


# --- page ---------------------------------------------------------------------

FIELD_LABELS = {
    "name": "窗口名称",
    "department": "所属部门",
    "categories": "业务类别",
    "username": "工作人员用户名",
    "window_id": "窗口",
}


@pages.get("/windows")
@roles_required(Role.CENTER_ADMIN)
def windows_page() -> str:
    """Show the windows, the form to add one and the form to assign a clerk."""
    return render_windows({}, [])


@pages.post("/windows")
@roles_required(Role.CENTER_ADMIN)
def create_window_page() -> Response | tuple[str, int]:
    """Create a window from the form; categories are one per line."""
    form = request.form
    data = {
        "name": form.get("name", ""),
        "department": form.get("department", ""),
        "categories": [c for c in form.get("categories", "").splitlines() if c.strip()],
    }

    def create(session: Session) -> str:
        window = create_window(session, WindowInSchema().load(data))
        return f"已新增窗口「{window.name}」。"

    return act_or_show_errors(create, form)


@pages.post("/windows/<int:window_id>/deactivate")
@roles_required(Role.CENTER_ADMIN)
def deactivate_window_page(window_id: int) -> Response | tuple[str, int]:
    def deactivate(session: Session) -> str:
        return f"窗口「{deactivate_window(session, window_id).name}」已停用。"

    return act_or_show_errors(deactivate, request.form)


@pages.post("/windows/clerks")
@roles_required(Role.CENTER_ADMIN)
def assign_clerk_page() -> Response | tuple[str, int]:
    """Assign a clerk to the window chosen in the form."""
    form = request.form
    try:
        window_id = int(form.get("window_id", ""))
    except ValueError:
        return render_windows(form, ["请选择窗口。"]), 400
    username = form.get("username", "").strip()

    def assign(session: Session) -> str:
        AssignClerkSchema().load({"username": username})
        user = assign_clerk(session, window_id, username)
        window = get_window(session, window_id)
        return f"已将 {user.display_name} 分配到窗口「{window.name}」。"

    return act_or_show_errors(assign, form)


def act_or_show_errors(
    action: Callable[[Session], str], form: MultiDict[str, str]
) -> Response | tuple[str, int]:
    """Run ``action`` in one transaction, then redirect; re-show errors on failure."""
    try:
        with current_node().db.transaction() as session:
            message = action(session)
    except ValidationError as exc:
        logger.info("Window form rejected, invalid fields %s", sorted(exc.messages))
        return render_windows(form, error_lines(exc.normalized_messages())), 400
    except AppError as exc:
        logger.info("Window form rejected: %s", exc.message)
        fields = exc.details.get("fields")
        lines = error_lines(fields) if fields else [exc.message]
        return render_windows(form, lines), exc.status
    flash(message)
    return redirect(url_for(".windows_page"), 303)


def error_lines(messages: dict[str, Any]) -> list[str]:
    lines = []
    for field, texts in messages.items():
        if isinstance(texts, dict):
            texts = [t for item in texts.values() for t in item]
        label = FIELD_LABELS.get(field, field)
        lines.append(f"{label}：{'；'.join(texts)}")
    return lines


def render_windows(
    form: MultiDict[str, str] | dict[str, str], errors: list[str]
) -> str:
    with current_node().db.transaction() as session:
        windows = [window_view(session, w) for w in list_windows(session)]
        letters = category_letters(session)
        clerks = [
            user
            for user in session.scalars(select(User).order_by(User.username))
            if user.active and has_role(user, Role.WINDOW_CLERK)
        ]
        session.expunge_all()
    return render_template(
        "windows.html",
        windows=windows,
        letters=letters,
        clerks=clerks,
        form=form,
        errors=errors,
    )
