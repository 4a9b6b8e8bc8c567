"""Response schemas of the hub API: city-wide figures, sync lag, one case."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from hub.rollups import RollupFilter


class FiguresSchema(Schema):
    """Case figures of one group. Rates and averages cover completed cases only."""

    label = fields.String()
    received = fields.Integer()
    accepted = fields.Integer()
    completed = fields.Integer()
    rejected = fields.Integer()
    on_time = fields.Integer()
    # Share of completed cases finished on time, from 0 to 1.
    on_time_rate = fields.Float(allow_none=True)
    average_working_days_used = fields.Float(allow_none=True)
    average_promised_limit_working_days = fields.Float(allow_none=True)
    supplement_notices = fields.Integer()
    # Cases that were ever yellow (a warning) or red (overdue).
    warned = fields.Integer()
    overdue = fields.Integer()
    accountability_records = fields.Integer()
    joint = fields.Integer()


class CountyFiguresSchema(FiguresSchema):
    county_code = fields.String(
        attribute="key",
        metadata={
            "description": "County code, or the city's code 350600 for the cases "
            "the city handles itself (市本级), as in entry-rates and rollups"
        },
    )


class TierFiguresSchema(FiguresSchema):
    tier = fields.String(attribute="key")


class OriginLagSchema(Schema):
    origin = fields.String()
    name = fields.String()
    tier = fields.String(allow_none=True)
    held_seq = fields.Integer()
    reported_seq = fields.Integer()
    # Events reported by the origin's side of the tree that the hub lacks.
    unacknowledged = fields.Integer()
    last_contact = fields.AwareDateTime(allow_none=True)
    software = fields.String(allow_none=True)


class LinkHealthSchema(Schema):
    peer = fields.String()
    name = fields.String()
    last_contact = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_error_at = fields.AwareDateTime(allow_none=True)
    peer_software = fields.String(allow_none=True)
    peer_protocols = fields.String(allow_none=True)


class SyncLagSchema(Schema):
    origins = fields.List(fields.Nested(OriginLagSchema))
    links = fields.List(fields.Nested(LinkHealthSchema))


class MetricsSchema(Schema):
    computed_at = fields.AwareDateTime()
    by_county = fields.List(fields.Nested(CountyFiguresSchema))
    by_tier = fields.List(fields.Nested(TierFiguresSchema))
    total = fields.Nested(FiguresSchema)
    sync = fields.Nested(SyncLagSchema)


class HubCaseSchema(Schema):
    """A case as the hub projects it from its events; no personal data."""

    case_id = fields.String()
    matter_code = fields.String()
    release = fields.Integer()
    handler_code = fields.String()
    handler_tier = fields.String()
    county_code = fields.String(allow_none=True)
    filed_at_code = fields.String()
    applicant_pseudonym = fields.String()
    status = fields.String()
    promised_limit_working_days = fields.Integer()
    received_at = fields.AwareDateTime()
    accepted_at = fields.AwareDateTime(allow_none=True)
    deadline = fields.Date(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    working_days_used = fields.Integer(allow_none=True)
    on_time = fields.Boolean(allow_none=True)
    department = fields.String()
    kind = fields.String()
    joint = fields.Boolean()
    supplement_notices = fields.Integer()
    light = fields.String()
    warned = fields.Boolean()
    overdue = fields.Boolean()
    accountability_records = fields.Integer()
    # Number of case.received events the hub stores for the case, normally 1.
    copies = fields.Integer()


# --- rollups -------------------------------------------------------------------

MONTH = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="must be a month YYYY-MM")


class NoQuerySchema(Schema):
    """Query of an API that takes no parameters: any parameter is refused."""


class RollupQuerySchema(Schema):
    """Query of the rollup API and the CSV export. Every field is optional."""

    by = fields.String(
        load_default="county",
        validate=validate.OneOf(
            ["county", "tier", "department", "matter", "month", "handler"]
        ),
    )
    # A county of the city, or the city's code for the cases it handles itself.
    county = fields.String(
        validate=validate.Regexp(r"^\d{6}$", error="must be a 6-digit county code")
    )
    handler = fields.String(
        validate=validate.Regexp(
            r"^\d{6}(\d{3}(\d{3})?)?$", error="must be a division code"
        )
    )
    month_from = fields.String(validate=MONTH)
    month_to = fields.String(validate=MONTH)

    @validates_schema
    def check_months(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("month_from"), data.get("month_to")
        if start and end and start > end:
            raise ValidationError("must not be before month_from", "month_to")

    @post_load
    def make_filter(self, data: dict[str, Any], **kwargs: Any) -> RollupFilter:
        return RollupFilter(**data)


class RollupFiguresSchema(Schema):
    key = fields.String(
        metadata={
            "description": "Code or value of the group. Grouped by county, the "
            "city's code 350600 names the cases the city handles itself (市本级), "
            "as in entry-rates and metrics; the total's key is empty"
        }
    )
    label = fields.String()
    received = fields.Integer()
    accepted = fields.Integer()
    completed = fields.Integer()
    rejected = fields.Integer()
    on_time = fields.Integer()
    immediate = fields.Integer()
    joint = fields.Integer()
    supplement_notices = fields.Integer()
    warned = fields.Integer()
    overdue = fields.Integer()
    accountability_records = fields.Integer()
    evaluations = fields.Integer()
    bad_reviews = fields.Integer()
    excluded_reviews = fields.Integer()
    # Sums over completed cases, and the rates drawn from them (0 to 1).
    working_days_used = fields.Integer()
    promised_limit = fields.Integer()
    limits_compared = fields.Integer()
    compared_legal_limit = fields.Integer()
    compared_promised_limit = fields.Integer()
    on_time_rate = fields.Float(allow_none=True)
    average_working_days_used = fields.Float(allow_none=True)
    average_promised_limit_working_days = fields.Float(allow_none=True)
    compression_rate = fields.Float(allow_none=True)
    bad_review_rate = fields.Float(allow_none=True)
    # Query parameters of the next level down, or None at the bottom.
    drill = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True)


class ServiceFiguresSchema(Schema):
    key = fields.String()
    label = fields.String()
    tickets_called = fields.Integer()
    waited_seconds = fields.Integer()
    average_wait_minutes = fields.Float(allow_none=True)
    staffing_gaps = fields.Integer()
    gap_minutes = fields.Integer()


class HotlineFiguresSchema(Schema):
    kind = fields.String(attribute="key")
    # The kind in Chinese, as the hotline pages show it.
    label = fields.String()
    tickets = fields.Integer()
    # The tickets the city closed with the reply given to the caller (已办结),
    # and the time from opening to closing: a routed node's reply alone
    # does not count, because the caller has not heard it yet.
    replied = fields.Integer()
    reply_seconds = fields.Integer()
    average_reply_hours = fields.Float(allow_none=True)


class RollupFilterSchema(Schema):
    by = fields.String()
    county = fields.String(allow_none=True)
    handler = fields.String(allow_none=True)
    month_from = fields.String(allow_none=True)
    month_to = fields.String(allow_none=True)


class RollupReportSchema(Schema):
    filter = fields.Nested(RollupFilterSchema)
    rows = fields.List(fields.Nested(RollupFiguresSchema))
    total = fields.Nested(RollupFiguresSchema)
    months = fields.List(fields.Nested(RollupFiguresSchema))
    service = fields.List(fields.Nested(ServiceFiguresSchema))
    hotline = fields.List(fields.Nested(HotlineFiguresSchema))
