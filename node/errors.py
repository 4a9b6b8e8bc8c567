"""Error responses: JSON for the API and sync, a page for people."""

from __future__ import annotations

import logging

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import ValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from common.errors import AppError, TooManyRequests

logger = logging.getLogger(__name__)


# Page messages for errors that carry no message of ours.
PAGE_MESSAGES = {
    404: "没有这个页面：请检查网址，或从页面上的链接进入。",
    405: "此地址不支持这种请求方式：请使用页面上的链接或按钮。",
    500: "系统处理请求时出错，未做任何更改；请稍后重试，仍出错请联系中心管理员。",
}


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/sync/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(
    status: int, code: str, message: str, details: dict | None = None
) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    if wants_json():
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", error=body["error"], status=status)
        )
    response.status_code = status
    return response


def handle_app_error(error: AppError) -> Response:
    if error.status == 401 and not wants_json():
        # A person who is not signed in is sent to the login page and back.
        return redirect(url_for("users_pages.login", next=request.full_path))
    if error.status >= 500:
        logger.error("%s %s failed: %s", request.method, request.path, error.message)
    response = error_response(error.status, error.code, error.message, error.details)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def handle_validation_error(error: ValidationError) -> Response:
    return error_response(
        400,
        "invalid_input",
        "the request has invalid fields",
        {"fields": error.normalized_messages()},
    )


def handle_http_error(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages is not None:
        return webargs_error(messages)
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return error_response(
            413,
            "request_too_large",
            f"the request body is larger than the limit of {limit} bytes; "
            "send fewer events or materials per request",
            {"limit": limit},
        )
    code = (error.name or "error").lower().replace(" ", "_")
    message = error.description or error.name
    if not wants_json():
        message = PAGE_MESSAGES.get(error.code or 500, message)
    return error_response(error.code or 500, code, message)


def webargs_error(messages: dict) -> Response:
    """Render a webargs parsing error, keyed by field without its location."""
    fields: dict = {}
    for location, location_messages in messages.items():
        if isinstance(location_messages, dict):
            fields.update(location_messages)
        else:
            # Not a field error: the body itself could not be read.
            return error_response(
                400,
                "invalid_input",
                f"the request {location} is invalid: {' '.join(location_messages)}",
                {"fields": {location: location_messages}},
            )
    return error_response(
        400, "invalid_input", "the request has invalid fields", {"fields": fields}
    )


def handle_database_unavailable(error: OperationalError) -> Response:
    logger.error(
        "%s %s: database unavailable", request.method, request.path, exc_info=error
    )
    return error_response(
        503,
        "database_unavailable",
        "the node's database is unavailable; nothing was changed, try again shortly",
    )


def handle_unexpected(error: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.path, exc_info=error)
    message = "the node failed to handle the request; nothing was changed"
    if not wants_json():
        message = PAGE_MESSAGES[500]
    return error_response(500, "internal_error", message)


def handle_redis_unavailable(error: RedisError) -> Response:
    logger.error("%s %s: Redis unavailable: %s", request.method, request.path, error)
    return error_response(
        503,
        "queue_unavailable",
        "the node's Redis is unavailable, so no job could be queued; saved changes "
        "are sent once Redis is back",
    )


def handle_too_deep(error: RecursionError) -> Response:
    return error_response(
        400,
        "invalid_input",
        "the request body is nested too deeply to read; send plain JSON objects",
    )


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(RecursionError, handle_too_deep)
    app.register_error_handler(RedisError, handle_redis_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
