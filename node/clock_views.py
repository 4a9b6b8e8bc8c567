"""The node's clock: read it, or set it where the configuration allows.

Tests and the demo set the clock to show electronic supervision on chosen
dates; production nodes run on the machine's clock and refuse to change it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from common import clock
from common.context import CLOCK_OFFSET_SETTING
from common.errors import Forbidden
from common.models import NodeSetting, Role
from node.api import Blueprint, current_node
from node.auth import require_roles, require_user

blp = Blueprint("clock", __name__, url_prefix="/api", description="The node's clock")


class ClockSchema(Schema):
    now = fields.AwareDateTime()
    today = fields.Date()
    settable = fields.Boolean()
    offset_seconds = fields.Float()


# The clock may be set inside the years the working-day calendar can count.
EARLIEST = dt.datetime(2004, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


class ClockInSchema(Schema):
    class Meta:
        unknown = RAISE

    now = fields.AwareDateTime(
        required=True,
        validate=validate.Range(
            min=EARLIEST,
            max=LATEST,
            max_inclusive=False,
            error="set a time from 2004 to 2099",
        ),
    )


def clock_view() -> dict[str, Any]:
    return {
        "now": clock.utcnow(),
        "today": clock.today(),
        "settable": current_node().config.settable_clock,
        "offset_seconds": clock.offset().total_seconds(),
    }


@blp.route("/clock", methods=["GET"])
@blp.response(200, ClockSchema)
def read_clock() -> dict[str, Any]:
    """Show the node's time and whether it may be set."""
    require_user()
    return clock_view()


@blp.route("/clock", methods=["PUT"])
@blp.arguments(ClockInSchema)
@blp.response(200, ClockSchema)
def set_clock(data: dict[str, Any]) -> dict[str, Any]:
    """Set the node's clock; it runs on from the time set (center administrators)."""
    require_roles(Role.CENTER_ADMIN)
    context = current_node()
    if not context.config.settable_clock:
        raise Forbidden(
            f"node {context.code} runs on the machine's clock; start it with "
            "NODE_SETTABLE_CLOCK=1 to set the time for a demonstration or a test"
        )

    offset = data["now"] - dt.datetime.now(dt.UTC)
    with context.db.transaction() as session:
        session.merge(
            NodeSetting(key=CLOCK_OFFSET_SETTING, value=offset.total_seconds())
        )
    clock.set_offset(offset)
    return clock_view()
