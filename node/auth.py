"""Local users of a center, their roles, and who may call what.

People sign in to the pages with a password (a session cookie; every form
carries a CSRF token). Programs call the API with a bearer token that a
user obtained with their password. Passwords and tokens are kept only as
hashes. Sync traffic between nodes is signed by node keys instead (see
``sync.auth``) and never goes through here.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import flask
from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from common.clock import utcnow
from common.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from common.models import ApiToken, Role, ServiceWindow, User

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
SESSION_TOKEN = "session_token"
USERNAME = re.compile(r"[a-z][a-z0-9_.-]{1,39}")
MIN_PASSWORD_LENGTH = 8
# A password hash is computed even for unknown users, so that a wrong
# username takes as long to refuse as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"


class CsrfTokenInvalid(InvalidInput):
    code = "csrf_token_invalid"


# --- users -------------------------------------------------------------------


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: Iterable[str],
    *,
    display_name: str | None = None,
    department: str | None = None,
    window_id: int | None = None,
) -> User:
    """Add a local user; raise ``InvalidInput`` naming the field at fault."""
    roles = list(dict.fromkeys(roles))
    errors: dict[str, list[str]] = {}
    if not USERNAME.fullmatch(username):
        errors["username"] = [
            "use 2 to 40 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter"
        ]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"use at least {MIN_PASSWORD_LENGTH} characters"]
    unknown = [r for r in roles if r not in Role.__members__.values()]
    if not roles or unknown:
        known = ", ".join(Role)
        errors["roles"] = [f"give one or more of: {known}"]
    if window_id is not None and session.get(ServiceWindow, window_id) is None:
        errors["window_id"] = [f"no window {window_id} at this center"]
    if errors:
        raise InvalidInput("the user has invalid fields", {"fields": errors})
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(
            f"a user named {username} exists already", {"username": username}
        )
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=generate_password_hash(password),
        roles=roles,
        department=department,
        window_id=window_id,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def check_password(session: Session, username: str, password: str) -> User | None:
    """Return the active user with this username and password, else None."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username} at this center", {"username": username})
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, user: User, label: str = "") -> str:
    """Return a new bearer token for ``user``; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=_token_hash(token),
            user_id=user.id,
            label=label,
            created_at=utcnow(),
        )
    )
    return token


def user_of_token(session: Session, token: str) -> User | None:
    row = session.get(ApiToken, _token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user


def revoke_api_token(session: Session, token: str) -> None:
    row = session.get(ApiToken, _token_hash(token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def has_role(user: User | None, *roles: str) -> bool:
    return user is not None and any(role in user.roles for role in roles)


# --- the signed-in user of a request -------------------------------------------


def current_user() -> User | None:
    """Return the user of this request, from its bearer token or its session."""
    if "user" not in g:
        g.user = _load_user()
    return g.user


def _load_user() -> User | None:
    from node.api import current_node

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    with current_node().db.transaction() as session:
        if scheme.lower() == "bearer" and token.strip():
            user = user_of_token(session, token.strip())
            if user is None:
                raise Unauthenticated(
                    "the bearer token is unknown or revoked; "
                    "get a new one with POST /api/tokens"
                )
        elif request.path.startswith("/api/"):
            # The API takes tokens only: a browser's cookie must not be
            # usable by another site's page to call it.
            return None
        else:
            # The cookie carries a token that sign-out revokes, so a copy of
            # the cookie kept after sign-out no longer signs anyone in.
            token = flask.session.get(SESSION_TOKEN)
            user = user_of_token(session, token) if token else None
            if user is None:
                return None
        session.expunge(user)
        return user


def require_user() -> User:
    user = current_user()
    if user is None:
        raise Unauthenticated(
            "sign in first: send 'Authorization: Bearer <token>' "
            "(POST /api/tokens gives one), or use the login page"
        )
    return user


def require_roles(*roles: Role) -> User:
    """Return the request's user; raise 401 or 403 unless they hold one of ``roles``."""
    user = require_user()
    if not has_role(user, *roles):
        needed = " or ".join(r.value for r in roles)
        raise Forbidden(
            f"this needs the role {needed}; user {user.username} holds "
            f"{', '.join(user.roles)}",
            {"needed": [r.value for r in roles], "held": user.roles},
        )
    return user


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Decorate a view so that only users holding one of ``roles`` reach it."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_roles(*roles)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# --- sessions and CSRF ---------------------------------------------------------


def csrf_token() -> str:
    """Return this browser session's CSRF token, creating it on first use."""
    token = flask.session.get(CSRF_FIELD)
    if token is None:
        token = secrets.token_urlsafe(32)
        flask.session[CSRF_FIELD] = token
    return token


def check_csrf_token() -> None:
    """Reject a form POST whose token does not match the session's token.

    The API and sync are exempt: they take no cookies.
    """
    if request.method != "POST" or request.path.startswith(("/api/", "/sync/")):
        return
    expected = flask.session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD, "")
    if expected is None or not hmac.compare_digest(sent, expected):
        raise CsrfTokenInvalid(
            "表单校验令牌缺失或已失效，未做任何更改：请刷新页面后重新提交。"
            "(missing or invalid CSRF token; reload the page and submit again)"
        )


def sign_in(session: Session, user: User) -> None:
    """Start a page session for ``user``, backed by a token that sign-out revokes."""
    flask.session.clear()
    flask.session[SESSION_TOKEN] = issue_api_token(session, user, "page session")
    csrf_token()


def sign_out(session: Session) -> None:
    token = flask.session.get(SESSION_TOKEN)
    if token:
        revoke_api_token(session, token)
    flask.session.clear()
