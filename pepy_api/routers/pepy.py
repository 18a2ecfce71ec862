"""pepy.tech-compatible JSON endpoints (v1, v2, and the pro-style downloads)."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Annotated

import orjson
import pycountry
from fastapi import APIRouter, Query

from pepy_api.deps import ProjectDep, ReaderDep, SnapshotDep
from pepy_api.errors import ERROR_RESPONSES
from pepy_api.models import CountryDownloads, Health, ProDownloads, ProjectV1, ProjectV2
from pepy_api.params import AsciiOnly
from pepy_api.responses import FastJSONResponse
from pepy_api.routing import PrebuiltJSONRoute
from pepy_api.store import queries
from pepy_api.versions import sort_versions

router = APIRouter(tags=["pepy.tech compatible"], default_response_class=FastJSONResponse,
                   route_class=PrebuiltJSONRoute)

TIME_RANGES = {"four_months": 4, "one_year": 12}


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier, or that month's last day (it was capped
    at the 28th: a window ending on the 31st started up to 3 days early, a probe found)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def v2_window(last_day: dt.date) -> tuple[dt.date, dt.date]:
    """pepy's window: ``last_day + 1 day - 90 days`` rounded down to the first of its month, up to
    the last complete day."""
    back = last_day + dt.timedelta(days=1) - dt.timedelta(days=90)
    return back.replace(day=1), last_day


@router.get("/api/v2/projects/{project}", summary="Total and per-version daily downloads (pepy v2)",
            response_model=ProjectV2, responses=ERROR_RESPONSES)
def project_v2(project: ProjectDep, snap: SnapshotDep, reader: ReaderDep):
    """`total_downloads` is all-time (mirrors included); `downloads` covers the first day of the
    month 90 days before the last complete day, up to that day; `versions` are the versions with
    downloads in that window, PEP 440 ordered."""
    start, end = v2_window(snap.last_complete_day)
    downloads, versions = queries.version_days_json(reader, project.name, start, end)
    return {
        "id": project.name,
        "total_downloads": project.totals.total,
        "versions": sort_versions(versions),
        "downloads": orjson.Fragment(downloads),  # JSON the engine built: sent as it is
    }


@router.get("/api/projects/{project}", summary="Total and last 30 days of downloads (pepy v1)",
            response_model=ProjectV1, responses=ERROR_RESPONSES)
def project_v1(project: ProjectDep, snap: SnapshotDep, reader: ReaderDep):
    end = snap.last_complete_day
    rows = queries.daily_downloads(reader, project.name, end - dt.timedelta(days=29), end)
    return {
        "id": project.name,
        "total_downloads": project.totals.total,
        "downloads": {day.isoformat(): downloads for day, downloads in rows},
    }


TimeRange = Annotated[str, Query(alias="timeRange", pattern="(?i)^(FOUR_MONTHS|ONE_YEAR)$",
                                 description="FOUR_MONTHS or ONE_YEAR (case-insensitive)"), AsciiOnly]


@router.get("/api/v3/pro/projects/{project}/downloads", summary="Per-version daily downloads over a time range",
            response_model=ProDownloads, responses=ERROR_RESPONSES)
def pro_downloads(project: ProjectDep, snap: SnapshotDep, reader: ReaderDep,
                  time_range: TimeRange = "FOUR_MONTHS",
                  include_ci: Annotated[bool, Query(alias="includeCIDownloads")] = True):
    end = snap.last_complete_day
    start = months_before(end, TIME_RANGES[time_range.lower()])
    downloads, _ = queries.version_days_json(reader, project.name, start, end, "all" if include_ci else "not_ci",
                                             with_versions=False)
    return {"downloads": orjson.Fragment(downloads)}


def alpha3(code: str) -> str | None:
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return country.alpha_3 if country else None


@router.get("/api/v3/pro/projects/{project}/country-downloads", summary="Daily downloads by country (ISO alpha-3)",
            response_model=CountryDownloads, responses=ERROR_RESPONSES)
def pro_country_downloads(project: ProjectDep, snap: SnapshotDep, reader: ReaderDep,
                          time_range: TimeRange = "FOUR_MONTHS"):
    """Countries are ISO 3166 alpha-3; downloads whose country upstream did not know are left out.
    Stored codes that name the same country ("US", "us") are one entry: a client reading the list
    into a map would otherwise keep only one of them."""
    end = snap.last_complete_day
    start = months_before(end, TIME_RANGES[time_range.lower()])
    by_day: dict[str, dict[str, int]] = {}
    for day, value, downloads in queries.dimension_downloads(reader, project.name, "country", start, end):
        code = alpha3(value)
        if code:
            countries = by_day.setdefault(day.isoformat(), {})
            countries[code] = countries.get(code, 0) + downloads
    return {"downloads": {day: [{"country": code, "downloads": n} for code, n in countries.items()]
                          for day, countries in by_day.items()}}


@router.get("/health-check", summary="Liveness", tags=["service"], response_model=Health)
async def health_check():
    return {"status": "healthy"}
