"""pepy.tech-compatible SVG badges, answered from the in-memory totals (never the engine)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pepy_api.badges import (
    PERIOD_LABELS,
    colour_or_default,
    format_downloads,
    period_downloads,
    render_badge,
    resolve_colour,
)
from pepy_api.deps import ProjectDep
from pepy_api.errors import PUBLIC_ERROR_RESPONSES, ApiError
from pepy_api.params import AsciiOnly
from pepy_api.responses import SVGResponse, svg_response

router = APIRouter(tags=["badges"], responses=PUBLIC_ERROR_RESPONSES, default_response_class=SVGResponse)
SVG = {200: {"description": "An SVG badge"}}


def _colour(value: str) -> str:
    """A bad colour falls back to the default, as on shields.io (and is never echoed)."""
    return colour_or_default(value, "green")


@router.get("/badge/{project}", responses=SVG, summary="All-time downloads badge")
async def badge_total(project: ProjectDep):
    return svg_response(render_badge("downloads", format_downloads(project.totals.total),
                                     right_colour=resolve_colour("brightgreen")))


@router.get("/badge/{project}/{period}", responses=SVG, summary="Monthly or weekly downloads badge")
async def badge_period(
    project: ProjectDep,
    period: Annotated[str, Path(pattern="(?i)^(month|week)$", description="month or week"), AsciiOnly],
):
    period = period.lower()
    if period not in ("month", "week"):
        raise ApiError(400, "unknown badge period: use month or week")
    return svg_response(render_badge(PERIOD_LABELS[period], format_downloads(period_downloads(project.totals, period)),
                                     right_colour=resolve_colour("brightgreen")))


@router.get("/personalized-badge/{project}", responses=SVG, summary="Badge with chosen period, units, colours, text")
async def personalized_badge(
    project: ProjectDep,
    period: Annotated[str, Query(pattern="(?i)^(total|month|week)$"), AsciiOnly] = "total",
    units: Annotated[str, Query(pattern="(?i)^(international_system|abbreviation|none)$"),
                     AsciiOnly] = "international_system",
    left_color: Annotated[str, Query(max_length=64)] = "green",
    right_color: Annotated[str, Query(max_length=64)] = "green",
    left_text: Annotated[str, Query(max_length=100)] = "downloads/month",
):
    """Defaults copy pepy.tech, including `left_text=downloads/month` whatever the period."""
    value = format_downloads(period_downloads(project.totals, period.lower()), units.lower())
    return svg_response(render_badge(left_text, value, _colour(left_color), _colour(right_color)))
