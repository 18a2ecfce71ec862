"""pepy.tech-compatible SVG badges, answered from the in-memory totals (never the engine)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pepy_api.badges import InvalidColour, format_downloads, render_badge, resolve_colour
from pepy_api.deps import ProjectDep
from pepy_api.errors import ERROR_RESPONSES, ApiError
from pepy_api.responses import svg_response
from pepy_api.store.snapshot import Totals

router = APIRouter(tags=["badges"], responses=ERROR_RESPONSES)
SVG = {200: {"content": {"image/svg+xml": {}}, "description": "An SVG badge"}}

PERIOD_LABELS = {"total": "downloads", "month": "downloads/month", "week": "downloads/week"}


def period_downloads(totals: Totals, period: str) -> int:
    """All-time, last 30 or last 7 complete days, mirrors included (as pepy counts)."""
    return {"total": totals.total, "month": totals.last_month, "week": totals.last_week}[period]


def _colour(value: str) -> str:
    try:
        return resolve_colour(value)
    except InvalidColour as error:
        raise ApiError(400, str(error)) from None


@router.get("/badge/{project}", responses=SVG, summary="All-time downloads badge")
def badge_total(project: ProjectDep):
    return svg_response(render_badge("downloads", format_downloads(project.totals.total),
                                     right_colour=resolve_colour("brightgreen")))


@router.get("/badge/{project}/{period}", responses=SVG, summary="Monthly or weekly downloads badge")
def badge_period(project: ProjectDep,
                 period: Annotated[str, "month or week"]):
    period = period.lower()
    if period not in ("month", "week"):
        raise ApiError(400, f"unknown badge period {period[:20]!r}: use month or week")
    return svg_response(render_badge(PERIOD_LABELS[period], format_downloads(period_downloads(project.totals, period)),
                                     right_colour=resolve_colour("brightgreen")))


@router.get("/personalized-badge/{project}", responses=SVG, summary="Badge with chosen period, units, colours, text")
def personalized_badge(
    project: ProjectDep,
    period: Annotated[str, Query(pattern="(?i)^(total|month|week)$")] = "total",
    units: Annotated[str, Query(pattern="(?i)^(international_system|abbreviation|none)$")] = "international_system",
    left_color: Annotated[str, Query(max_length=64)] = "green",
    right_color: Annotated[str, Query(max_length=64)] = "green",
    left_text: Annotated[str, Query(max_length=100)] = "downloads/month",
):
    """Defaults copy pepy.tech, including `left_text=downloads/month` whatever the period."""
    value = format_downloads(period_downloads(project.totals, period.lower()), units.lower())
    return svg_response(render_badge(left_text, value, _colour(left_color), _colour(right_color)))
