"""Sign-in pages, API tokens and the center's user list."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.views import MethodView
from sqlalchemy import select
from werkzeug.wrappers import Response

from common.models import Role, User
from common.schemas.users import (
    TokenRequestSchema,
    TokenSchema,
    UserInSchema,
    UserSchema,
)
from node import auth
from node.api import Blueprint as ApiBlueprint
from node.api import current_node

api = ApiBlueprint(
    "users", __name__, url_prefix="/api", description="Users and API tokens"
)
pages = Blueprint("users_pages", __name__)


def user_view(user: User) -> dict[str, Any]:
    return {c: getattr(user, c) for c in UserSchema().fields}


@api.route("/tokens")
class Tokens(MethodView):
    @api.arguments(TokenRequestSchema)
    @api.response(201, TokenSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Exchange a username and password for a bearer token."""
        with current_node().db.transaction() as session:
            user = auth.check_password(session, data["username"], data["password"])
            if user is None:
                raise auth.Unauthenticated("wrong username or password")
            token = auth.issue_api_token(session, user, data["label"])
            return {"token": token, "username": user.username, "roles": user.roles}

    @api.response(204)
    def delete(self) -> None:
        """Revoke the bearer token of this request."""
        auth.require_user()
        token = request.headers["Authorization"].partition(" ")[2].strip()
        with current_node().db.transaction() as session:
            auth.revoke_api_token(session, token)


@api.route("/me")
@api.response(200, UserSchema)
def me() -> dict[str, Any]:
    """Show the user of the bearer token."""
    return user_view(auth.require_user())


@api.route("/users")
class Users(MethodView):
    @api.response(200, UserSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List this center's users (center administrators)."""
        auth.require_roles(Role.CENTER_ADMIN)
        with current_node().db.transaction() as session:
            return [
                user_view(u) for u in session.scalars(select(User).order_by(User.id))
            ]

    @api.arguments(UserInSchema)
    @api.response(201, UserSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a user of this center (center administrators)."""
        auth.require_roles(Role.CENTER_ADMIN)
        with current_node().db.transaction() as session:
            user = auth.create_user(
                session,
                data["username"],
                data["password"],
                data["roles"],
                display_name=data.get("display_name"),
                department=data.get("department"),
                window_id=data.get("window_id"),
            )
            return user_view(user)


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this node, else the home page."""
    if target and target.startswith("/") and not urlsplit(target).netloc:
        if not target.startswith("//"):
            return target
    return url_for("pages.home")


@pages.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    next_page = request.values.get("next")
    if request.method == "GET":
        return render_template("login.html", next_page=next_page, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    with current_node().db.transaction() as session:
        user = auth.check_password(session, username, password)
        if user is not None:
            auth.sign_in(session, user)
            session.expunge(user)
    if user is None:
        return (
            render_template(
                "login.html",
                next_page=next_page,
                username=username,
                error="用户名或密码错误。(wrong username or password)",
            ),
            401,
        )
    flash(f"欢迎，{user.display_name}。")
    return redirect(safe_next(next_page))


@pages.route("/logout", methods=["POST"])
def logout() -> Response:
    with current_node().db.transaction() as session:
        auth.sign_out(session)
    return redirect(url_for("pages.home"))
