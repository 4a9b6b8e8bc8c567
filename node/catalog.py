"""API of the standards catalog that this node holds."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import func, select

from common.catalog import delegations_of, get_matter, list_matters
from common.models import Matter, Release, Role
from common.schemas.catalog import (
    MatterSummarySchema,
    ReleaseInfoSchema,
    ServiceGuideSchema,
)
from node.api import Blueprint, current_node
from node.auth import require_roles
from sync.jobs import enqueue_once, pull_catalog

blp = Blueprint("catalog", __name__, url_prefix="/api", description="Standards catalog")


def matter_summary(matter: Matter) -> dict[str, Any]:
    return {c: getattr(matter, c) for c in MatterSummarySchema().fields}


def service_guide(session, matter: Matter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Return a matter's full standard with the delegations that apply to it."""
    delegations = [
        {
            "matter_code": d.matter_code,
            "region": d.region,
            "handled_by_tier": d.handled_by_tier,
            "note": d.note,
        }
        for d in delegations_of(session, matter)
    ]
    return {**matter_summary(matter), **matter.standard, "delegations": delegations}


def release_info(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    release = session.scalar(select(Release).order_by(Release.number.desc()).limit(1))
    if release is None:
        return {
            "number": None,
            "content_hash": None,
            "published_at": None,
            "matters": 0,
        }
    count = session.scalar(
        select(func.count()).select_from(Matter).where(Matter.release == release.number)
    )
    return {
        "number": release.number,
        "content_hash": release.content_hash,
        "published_at": release.published_at,
        "matters": count,
    }


@blp.route("/catalog")
class CatalogRelease(MethodView):
    @blp.response(200, ReleaseInfoSchema)
    def get(self) -> dict[str, Any]:
        """Show the catalog release this node holds."""
        with current_node().db.transaction() as session:
            return release_info(session)


@blp.route("/catalog/pull", methods=["POST"])
@blp.response(202)
def pull() -> dict[str, Any]:
    """Ask this node's worker to fetch new releases from the parent now."""
    require_roles(Role.CENTER_ADMIN)
    context = current_node()
    if context.parent_code is None:
        return {"queued": False}
    enqueue_once(context, pull_catalog)
    return {"queued": True}


@blp.route("/matters")
class Matters(MethodView):
    @blp.response(200, MatterSummarySchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List the matters of the current release."""
        with current_node().db.transaction() as session:
            return [matter_summary(m) for m in list_matters(session)]


@blp.route("/matters/<code>")
class MatterGuide(MethodView):
    @blp.response(200, ServiceGuideSchema)
    def get(self, code: str) -> dict[str, Any]:
        """Show one matter's service guide from the current release."""
        with current_node().db.transaction() as session:
            return service_guide(session, get_matter(session, code))
