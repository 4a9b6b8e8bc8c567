"""Response schemas of the hub API: city-wide figures, sync lag, one case."""

from __future__ import annotations

from marshmallow import Schema, fields


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
    # None for the cases handled by the city node itself (市本级).
    county_code = fields.String(attribute="key", allow_none=True)


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


class LinkHealthSchema(Schema):
    peer = fields.String()
    name = fields.String()
    last_contact = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_error_at = fields.AwareDateTime(allow_none=True)


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
