"""Working-day calendar releases: the sync endpoint, the API and the page.

Children fetch the releases with signed requests. Any signed-in user may
list the releases stored here, and only a center administrator at the city
publishes one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import chinese_calendar
from flask import Blueprint as FlaskBlueprint
from flask import render_template
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.divisions import CITY_CODE
from common.errors import NotFound
from common.models import CalendarRelease, Role
from common.schemas.calendars import (
    CalendarContentSchema,
    CalendarPageSchema,
    CalendarQuerySchema,
    CalendarsSchema,
    PublishedCalendarSchema,
)
from hub.calendars import newest_of_year, publish_calendar
from node.api import Blueprint, current_node
from node.auth import require_roles, require_user
from node.sync_views import check_request
from sync.calendars import calendar_releases_after, calendar_to_wire

F = TypeVar("F", bound=Callable[..., Any])

blp = Blueprint("calendars", __name__, description="Working-day calendar releases")
pages = FlaskBlueprint("calendar_pages", __name__)

# Signature, protocol version and child checks for the /sync/ route, exactly
# as on the other sync endpoints. The check skips the /api/ routes.
blp.before_request(check_request)


# --- releases stored at a node ----------------------------------------------------------


def package_coverage() -> dict[str, Any]:
    """Return the installed ``chinesecalendar`` package's version and years."""
    years = {day.year for day in chinese_calendar.holidays}
    return {
        "version": getattr(chinese_calendar, "__version__", "unknown"),
        "first_year": min(years),
        "last_year": max(years),
    }


def release_info(release: CalendarRelease, in_effect: bool) -> dict[str, Any]:
    content = release.content
    return {
        "number": release.number,
        "year": release.year,
        "content_hash": release.content_hash,
        "published_at": release.published_at,
        "applied_at": release.applied_at,
        "holidays": len(content.get("holidays", [])),
        "workdays": len(content.get("workdays", [])),
        "source": content.get("source", ""),
        "in_effect": in_effect,
    }


def calendar_overview(session: Session) -> dict[str, Any]:
    """Return the package's coverage and every calendar release held, newest first."""
    releases = list(
        session.scalars(select(CalendarRelease).order_by(CalendarRelease.number.desc()))
    )
    seen_years: set[int] = set()
    listed = []
    for release in releases:
        listed.append(release_info(release, release.year not in seen_years))
        seen_years.add(release.year)
    return {"package": package_coverage(), "releases": listed}


# --- sync -------------------------------------------------------------------------


@blp.route("/sync/calendars", methods=["GET"])
@blp.arguments(CalendarQuerySchema, location="query")
@blp.response(200, CalendarPageSchema)
def sync_calendars(query: dict[str, Any]) -> dict[str, Any]:
    """Return the calendar releases after ``after``, oldest first, to a child."""
    with current_node().db.transaction() as session:
        found = calendar_releases_after(session, query["after"], query["limit"])
        return {"releases": [calendar_to_wire(r) for r in found]}


# --- API ------------------------------------------------------------------------


def require_city_admin() -> None:
    """Raise ``NotFound`` unless this node is the city, then check the role."""
    context = current_node()
    if not context.is_hub:
        raise NotFound(
            f"calendar releases are published at the city node {CITY_CODE}, "
            f"not at node {context.code}, which receives them from its parent",
            {"node": context.code, "hub": CITY_CODE},
        )
    require_roles(Role.CENTER_ADMIN)


def city_admin_only(view: F) -> F:
    """Check the node and the role before the request body is read."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_city_admin()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@blp.route("/api/calendars")
class Calendars(MethodView):
    @blp.response(200, CalendarsSchema)
    def get(self) -> dict[str, Any]:
        """List the calendar releases held here and the package's years."""
        require_user()
        with current_node().db.transaction() as session:
            return calendar_overview(session)

    @city_admin_only
    @blp.arguments(CalendarContentSchema)
    @blp.response(201, PublishedCalendarSchema)
    def post(self, content: dict[str, Any]) -> Any:
        """Publish a year's calendar as the next release (city only).

        Returns 200 with the release in effect, publishing nothing, when the
        newest release of that year has the same content.
        """
        context = current_node()
        with context.db.transaction() as session:
            release = publish_calendar(context, session, content)
            if release is not None:
                return {"published": True, "release": release_info(release, True)}
            newest = newest_of_year(session, content["year"])
            assert newest is not None
            return {"published": False, "release": release_info(newest, True)}, 200


# --- page -----------------------------------------------------------------------


def year_rows(overview: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per covered year, newest first, saying where its dates come from."""
    in_effect = {r["year"]: r for r in overview["releases"] if r["in_effect"]}
    package = overview["package"]
    rows = []
    years = set(range(package["first_year"], package["last_year"] + 1)) | set(in_effect)
    for year in sorted(years, reverse=True):
        release = in_effect.get(year)
        if release is not None:
            rows.append({"year": year, "release": release})
        else:
            holidays, workdays = package_counts(year)
            rows.append({"year": year, "holidays": holidays, "workdays": workdays})
    return rows


def package_counts(year: int) -> tuple[int, int]:
    """Count the package's holidays and make-up working days of ``year``."""
    holidays = sum(1 for day in chinese_calendar.holidays if day.year == year)
    # The package's ``workdays`` lists only the weekend days worked (调休).
    workdays = sum(1 for day in chinese_calendar.workdays if day.year == year)
    return holidays, workdays


@pages.get("/calendars")
def calendars_page() -> str:
    """Show which years the working-day calendar covers, and from which source."""
    require_user()
    with current_node().db.transaction() as session:
        overview = calendar_overview(session)
    return render_template(
        "calendars.html", overview=overview, rows=year_rows(overview)
    )
