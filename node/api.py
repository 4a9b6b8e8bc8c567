"""flask-smorest set-up shared by the API blueprints."""

from __future__ import annotations

import flask_smorest
from flask import current_app
from webargs.flaskparser import FlaskParser

from common.context import NodeContext


class Api(flask_smorest.Api):
    def _register_error_handlers(self) -> None:
        # node.errors renders every error in one format; see create_app.
        pass


class Parser(FlaskParser):
    # An invalid request is a client error like any other: 400, not 422.
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def current_node() -> NodeContext:
    return current_app.extensions["node"]
