"""pepy's own endpoints: breakdowns by any stored dimension, summaries, top lists, search,
CSV, and a shields.io endpoint badge. Every body says how fresh the data is."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Query

from pepy_api.badges import PERIOD_LABELS, format_downloads, period_downloads
from pepy_api.deps import ProjectDep, RangeDep, ReaderDep, SnapshotDep
from pepy_api.errors import ERROR_RESPONSES, PUBLIC_ERROR_RESPONSES, ApiError
from pepy_api.models import Breakdown, ShieldsEndpoint, Summary, TopProjects, TopVersions
from pepy_api.names import InvalidProjectName, normalize_prefix
from pepy_api.params import AsciiOnly
from pepy_api.responses import FastJSONResponse, csv_response
from pepy_api.routing import PrebuiltJSONRoute
from pepy_api.store import queries

router = APIRouter(prefix="/v1", tags=["pepy"], default_response_class=FastJSONResponse,
                   route_class=PrebuiltJSONRoute)
#: A 200 that may also be CSV (``format=csv``).
JSON_OR_CSV = {**ERROR_RESPONSES, 200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                         "description": "JSON, or CSV with format=csv"}}


class Dimension(str, Enum):
    none = "none"
    version = "version"
    installer = "installer"
    python_major = "python_major"
    python_minor = "python_minor"
    system = "system"
    pypistats_system = "pypistats_system"
    country = "country"
    ci = "ci"
    file_type = "file_type"
    mirror = "mirror"


class Granularity(str, Enum):
    day = "day"
    week = "week"
    month = "month"


class CiFilter(str, Enum):
    include = "include"
    only = "only"
    exclude = "exclude"


class Format(str, Enum):
    json = "json"
    csv = "csv"


def _measure(ci: CiFilter, mirrors: bool) -> str:
    if ci is not CiFilter.include and not mirrors:
        raise ApiError(400, "ci=only/exclude cannot be combined with mirrors=false")
    if not mirrors:
        return "without_mirrors"
    return {"include": "all", "only": "ci", "exclude": "not_ci"}[ci.value]


def _day(value) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@router.get("/projects/{project}/downloads", summary="Downloads over time, optionally broken down by a dimension",
            response_model=Breakdown, responses=JSON_OR_CSV)
def downloads(
    project: ProjectDep, snap: SnapshotDep, reader: ReaderDep, dates: RangeDep,
    by: Dimension = Dimension.none,
    granularity: Granularity = Granularity.day,
    ci: Annotated[CiFilter, Query(description="include CI downloads, only CI, or exclude CI")] = CiFilter.include,
    mirrors: Annotated[bool, Query(description="false leaves out mirror installers")] = True,
    format: Format = Format.json,
):
    """`value` is the dimension's value (`null` where upstream did not know it); with `by=none`
    there is one row per period. Weeks start on Monday; `start_date`/`end_date` default to all
    history from the first loaded day, days before a gap included (its last `PEPY_MAX_RANGE_DAYS`
    days, 3,660 unless set, where it is longer: the answer's `start_date` says where it starts;
    `first_complete_day` where the unbroken history starts)."""
    measure = _measure(ci, mirrors)
    if by is Dimension.none:
        rows = [(d, "", n) for d, n in queries.daily_downloads(
            reader, project.name, dates.start, dates.end, measure, granularity.value)]
    elif by is Dimension.version:
        rows = queries.version_breakdown(reader, project.name, dates.start, dates.end, measure, granularity.value)
    else:
        rows = queries.dimension_downloads(reader, project.name, by.value, dates.start, dates.end,
                                           measure, granularity.value)
    if format is Format.csv:
        header = ["date", "downloads"] if by is Dimension.none else ["date", by.value, "downloads"]
        body = ([_day(d), n] if by is Dimension.none else [_day(d), v or "null", n] for d, v, n in rows)
        return csv_response(header, body, f"{project.name}-{by.value}.csv")
    # Dates stay dates: orjson writes them as ISO text in C (formatting each one in Python was a
    # quarter of a 25,000-row answer's time).
    if by is Dimension.none:
        data = [{"date": d, "downloads": n} for d, _, n in rows]
    else:
        data = [{"date": d, "value": v or None, "downloads": n} for d, v, n in rows]
    return {
        "project": project.name, "by": by.value, "granularity": granularity.value,
        "start_date": dates.start.isoformat(), "end_date": dates.end.isoformat(),
        "first_complete_day": _day_or_none(snap.first_complete_day),
        "last_complete_day": snap.last_complete_day.isoformat(), "data": data,
    }


@router.get("/projects/{project}", summary="Totals, recent sums and top versions of a project",
            response_model=Summary, responses=ERROR_RESPONSES)
def summary(project: ProjectDep, snap: SnapshotDep, reader: ReaderDep):
    t = project.totals
    end = snap.last_complete_day
    top = queries.top_versions(reader, project.name, end - dt.timedelta(days=29), end, 10)
    before = t.opening_balance
    first = snap.first_complete_day
    if first is not None and (snap.first_loaded_day is None or snap.first_loaded_day < first):
        # Days loaded before a gap count here too: total_downloads is always this figure plus the
        # daily series from first_complete_day (it was the opening balance alone: a newcomer).
        before += queries.downloads_before(reader, project.name, first)
    return {
        "project": project.name,
        "total_downloads": t.total, "total_downloads_without_mirrors": t.total_without_mirrors,
        "downloads_before_first_complete_day": before,
        "last_day": t.last_day, "last_week": t.last_week, "last_month": t.last_month,
        "top_versions_last_month": [{"version": v, "downloads": n} for v, n in top],
        "first_complete_day": _day_or_none(snap.first_complete_day),
        "last_complete_day": end.isoformat(),
    }


@router.get("/projects/{project}/versions", summary="The most downloaded versions in a date range",
            response_model=TopVersions, responses=JSON_OR_CSV)
def versions(project: ProjectDep, snap: SnapshotDep, reader: ReaderDep, dates: RangeDep,
             limit: Annotated[int, Query(ge=1, le=1000)] = 10, format: Format = Format.json):
    rows = queries.top_versions(reader, project.name, dates.start, dates.end, limit)
    if format is Format.csv:
        return csv_response(["version", "downloads"], rows, f"{project.name}-versions.csv")
    return {"project": project.name, "start_date": dates.start.isoformat(), "end_date": dates.end.isoformat(),
            "first_complete_day": _day_or_none(snap.first_complete_day),
            "last_complete_day": snap.last_complete_day.isoformat(),
            "versions": [{"version": v, "downloads": n} for v, n in rows]}


@router.get("/projects", summary="Top projects by all-time downloads, optionally by name prefix",
            response_model=TopProjects, responses=ERROR_RESPONSES)
async def top_projects(
    snap: SnapshotDep,
    prefix: Annotated[str | None, Query(max_length=512, description="name prefix, any PEP 503 spelling")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
):
    wanted = None
    if prefix:
        try:
            wanted = normalize_prefix(prefix)
        except InvalidProjectName as error:
            raise ApiError(400, f"invalid prefix: {error}") from None
    if wanted is None:
        page, matches = list(snap.ranked[offset:offset + limit]), len(snap.ranked)
    else:
        page, matches = snap.prefix_matches(wanted, offset, limit)
    return {
        "projects": [{"project": p, "total_downloads": snap.totals[p].total,
                      "last_month": snap.totals[p].last_month} for p in page],
        "matches": matches, "first_complete_day": _day_or_none(snap.first_complete_day),
        "last_complete_day": snap.last_complete_day.isoformat(),
    }


@router.get("/projects/{project}/shields", summary="shields.io endpoint badge JSON (public, like badges)",
            response_model=ShieldsEndpoint, responses=PUBLIC_ERROR_RESPONSES)
async def shields_endpoint(project: ProjectDep,
                           period: Annotated[str, Query(pattern="(?i)^(total|month|week)$"), AsciiOnly] = "total",
                           units: Annotated[str, Query(pattern="(?i)^(international_system|abbreviation|none)$"),
                                            AsciiOnly] = "international_system"):
    """Use with `https://img.shields.io/endpoint?url=<this URL>`."""
    value = period_downloads(project.totals, period.lower())
    return {"schemaVersion": 1, "label": PERIOD_LABELS[period.lower()],
            "message": format_downloads(value, units.lower()), "color": "brightgreen"}


def _day_or_none(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
