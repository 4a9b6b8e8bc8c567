"""The Flask application that every tier runs."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from common.config import NodeConfig, load_config
from common.context import NodeContext, register
from node.api import Api
from node.errors import register_error_handlers

logger = logging.getLogger(__name__)


class BoundedIntegerConverter(IntegerConverter):
    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


# Largest request body accepted, in bytes; a full upward batch of 5,000
# events of about 1 KB stays well below it.
MAX_CONTENT_LENGTH = 16 * 1024 * 1024


def create_app(config: NodeConfig | None = None, *, migrate: bool = True) -> Flask:
    """Build the node's app from ``config`` or, by default, the environment.

    ``migrate`` brings the database schema up to date before serving.
    """
    config = config or load_config()
    context = register(NodeContext(config))
    if migrate:
        context.migrate()

    app = Flask(__name__)
    # Ids in paths fit the database's integers; a larger number matches no
    # route (404) instead of overflowing the query.
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.config.update(
        SECRET_KEY=config.secret_key,
        # Browsers share cookies across ports, and several nodes may run on
        # one host: each node gets a cookie of its own.
        SESSION_COOKIE_NAME=f"session-{context.code}",
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        API_TITLE=f"Service center node {context.code}",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["node"] = context

    api = Api(app)
    from hub import reconciliation_views
    from hub import views as hub_views
    from node import (
        access,
        assessment_views,
        auth,
        calendar_views,
        case_pages,
        catalog,
        clock_views,
        evaluation_views,
        hotline_routed_views,
        hotline_views,
        pages,
        quarantine_views,
        release_piece_views,
        revocation_views,
        staffing_views,
        sync_views,
        ticket_views,
        users,
        windows,
        worklists,
    )
    from node.cases import views as case_views

    for blueprint in (
        catalog.blp,
        case_views.applications,
        case_views.cases,
        sync_views.blp,
        release_piece_views.blp,
        revocation_views.blp,
        quarantine_views.api,
        hub_views.blp,
        users.api,
        clock_views.blp,
        calendar_views.blp,
        ticket_views.api,
        windows.api,
        worklists.api,
        staffing_views.api,
        assessment_views.api,
        evaluation_views.api,
        hotline_views.api,
        hotline_routed_views.api,
        reconciliation_views.api,
    ):
        api.register_blueprint(blueprint)
    for page_blueprint in (
        pages.bp,
        case_pages.bp,
        users.pages,
        calendar_views.pages,
        ticket_views.pages,
        windows.pages,
        worklists.pages,
        staffing_views.pages,
        assessment_views.pages,
        quarantine_views.pages,
        evaluation_views.pages,
        hotline_views.pages,
        hotline_routed_views.pages,
        reconciliation_views.pages,
    ):
        app.register_blueprint(page_blueprint)
    app.before_request(access.check_access)
    app.after_request(sync_views.announce_versions)
    app.before_request(auth.check_csrf_token)
    app.before_request(context.follow_clock)
    app.register_blueprint(hub_views.pages)
    register_error_handlers(app)

    @app.context_processor
    def node_identity() -> dict[str, Any]:
        return {
            "node_code": context.code,
            "node_name": context.division.name,
            "node_tier_label": context.tier.label,
            "current_user": auth.current_user(),
            "holds": lambda *roles: auth.has_role(auth.current_user(), *roles),
            "csrf_token": auth.csrf_token,
            "csrf_field": auth.CSRF_FIELD,
        }

    logger.info(
        "Node %s (%s, %s tier) ready",
        context.code,
        context.division.name,
        context.tier.value,
    )
    return app
