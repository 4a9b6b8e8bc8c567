"""Hub API and dashboard (placeholder until the metrics land)."""

from flask import Blueprint as FlaskBlueprint

from node.api import Blueprint

blp = Blueprint("hub", __name__, url_prefix="/api/hub", description="City-wide figures")
pages = FlaskBlueprint("hub_pages", __name__)
