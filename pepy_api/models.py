"""Response bodies, declared for the OpenAPI contract (``/docs``, generated clients, the fuzz
test's schema conformance). The field names are pepy.tech's and pypistats.org's, exactly.

Handlers still build plain dicts, sent as they are (see ``pepy_api.routing``): these models
document the bytes, they are not run on every response.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict


class Body(BaseModel):
    """A response body. The published schema leaves bodies open to new fields (a strict generated
    client would break on each one: found in review); the schema test closes them, so a field a
    handler sends and this module does not declare fails it."""


def first_complete_day_field():
    return Field(description="The first day of the unbroken daily history the answer's data ends with "
                             "(days before a gap are still counted, not called complete); null: no data")

# -- pepy.tech -----------------------------------------------------------------------------


class ProjectV2(Body):
    id: str = Field(description="PEP 503 normalised name")
    total_downloads: int = Field(ge=0, description="All-time downloads, all versions, mirrors included")
    versions: list[str] = Field(description="Versions with downloads in the window, PEP 440 order")
    downloads: dict[str, dict[str, int]] = Field(description="YYYY-MM-DD -> version -> downloads, dates ascending")


class ProjectV1(Body):
    id: str
    total_downloads: int = Field(ge=0)
    downloads: dict[str, int] = Field(description="YYYY-MM-DD -> downloads (last 30 days, all versions)")


class ProDownloads(Body):
    downloads: dict[str, dict[str, int]] = Field(description="YYYY-MM-DD -> version -> downloads")


class CountryCount(Body):
    country: str = Field(description="ISO 3166 alpha-3", min_length=3, max_length=3)
    downloads: int


class CountryDownloads(Body):
    downloads: dict[str, list[CountryCount]] = Field(description="YYYY-MM-DD -> downloads per country")


class Health(Body):
    status: Literal["healthy"]


# -- pypistats.org --------------------------------------------------------------------------


class RecentData(TypedDict, total=False):
    """All three keys, or only the one asked for with ``period``."""

    last_day: int
    last_week: int
    last_month: int


class Recent(Body):
    data: RecentData
    package: str
    type: Literal["recent_downloads"]


class OverallRow(Body):
    category: Literal["with_mirrors", "without_mirrors"]
    date: dt.date
    downloads: int


class Overall(Body):
    data: list[OverallRow]
    package: str
    type: Literal["overall_downloads"]


class CategoryRow(Body):
    category: str = Field(description='The category, or "null" where upstream did not know it')
    date: dt.date
    downloads: int


class PythonMajor(Body):
    data: list[CategoryRow]
    package: str
    type: Literal["python_major_downloads"]


class PythonMinor(Body):
    data: list[CategoryRow]
    package: str
    type: Literal["python_minor_downloads"]


class System(Body):
    data: list[CategoryRow]
    package: str
    type: Literal["system_downloads"]


# -- pepy's own (/v1) ----------------------------------------------------------------------


class PeriodDownloads(Body):
    date: dt.date = Field(description="The day, or the first day of the week/month")
    downloads: int


class DimensionDownloads(PeriodDownloads):
    value: str | None = Field(description="The dimension's value; null where upstream did not know it")


class Breakdown(Body):
    project: str
    by: str
    granularity: Literal["day", "week", "month"]
    start_date: dt.date
    end_date: dt.date
    first_complete_day: dt.date | None = first_complete_day_field()
    last_complete_day: dt.date
    data: list[DimensionDownloads | PeriodDownloads] = Field(
        description="One row per period (by=none), or per period and value")


class VersionCount(Body):
    version: str
    downloads: int


class Summary(Body):
    project: str
    total_downloads: int = Field(description="All time, mirrors included (an opening balance included)")
    total_downloads_without_mirrors: int
    downloads_before_first_complete_day: int = Field(
        description="The part of total_downloads counted before first_complete_day (an opening balance, days "
                    "loaded before a gap): total_downloads is this plus the daily series from first_complete_day")
    last_day: int
    last_week: int
    last_month: int
    top_versions_last_month: list[VersionCount]
    first_complete_day: dt.date | None = first_complete_day_field()
    last_complete_day: dt.date


class TopVersions(Body):
    project: str
    start_date: dt.date
    end_date: dt.date
    first_complete_day: dt.date | None = first_complete_day_field()
    last_complete_day: dt.date
    versions: list[VersionCount]


class ProjectRank(Body):
    project: str
    total_downloads: int
    last_month: int


class TopProjects(Body):
    projects: list[ProjectRank]
    matches: int = Field(description="Projects matching the prefix (all projects without one)")
    first_complete_day: dt.date | None = first_complete_day_field()
    last_complete_day: dt.date


class ShieldsEndpoint(Body):
    """shields.io's endpoint badge schema."""

    schemaVersion: Literal[1]  # noqa: N815 - shields.io's name
    label: str
    message: str
    color: str
