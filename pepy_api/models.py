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

# -- pepy.tech -----------------------------------------------------------------------------


class ProjectV2(BaseModel):
    id: str = Field(description="PEP 503 normalised name")
    total_downloads: int = Field(ge=0, description="All-time downloads, all versions, mirrors included")
    versions: list[str] = Field(description="Versions with downloads in the window, PEP 440 order")
    downloads: dict[str, dict[str, int]] = Field(description="YYYY-MM-DD -> version -> downloads, dates ascending")


class ProjectV1(BaseModel):
    id: str
    total_downloads: int = Field(ge=0)
    downloads: dict[str, int] = Field(description="YYYY-MM-DD -> downloads (last 30 days, all versions)")


class ProDownloads(BaseModel):
    downloads: dict[str, dict[str, int]] = Field(description="YYYY-MM-DD -> version -> downloads")


class CountryCount(BaseModel):
    country: str = Field(description="ISO 3166 alpha-3", min_length=3, max_length=3)
    downloads: int


class CountryDownloads(BaseModel):
    downloads: dict[str, list[CountryCount]] = Field(description="YYYY-MM-DD -> downloads per country")


class Health(BaseModel):
    status: Literal["healthy"]


# -- pypistats.org --------------------------------------------------------------------------


class RecentData(TypedDict, total=False):
    """All three keys, or only the one asked for with ``period``."""

    last_day: int
    last_week: int
    last_month: int


class Recent(BaseModel):
    data: RecentData
    package: str
    type: Literal["recent_downloads"]


class OverallRow(BaseModel):
    category: Literal["with_mirrors", "without_mirrors"]
    date: dt.date
    downloads: int


class Overall(BaseModel):
    data: list[OverallRow]
    package: str
    type: Literal["overall_downloads"]


class CategoryRow(BaseModel):
    category: str = Field(description='The category, or "null" where upstream did not know it')
    date: dt.date
    downloads: int


class PythonMajor(BaseModel):
    data: list[CategoryRow]
    package: str
    type: Literal["python_major_downloads"]


class PythonMinor(BaseModel):
    data: list[CategoryRow]
    package: str
    type: Literal["python_minor_downloads"]


class System(BaseModel):
    data: list[CategoryRow]
    package: str
    type: Literal["system_downloads"]


# -- pepy's own (/v1) ----------------------------------------------------------------------


class PeriodDownloads(BaseModel):
    date: dt.date = Field(description="The day, or the first day of the week/month")
    downloads: int


class DimensionDownloads(PeriodDownloads):
    value: str | None = Field(description="The dimension's value; null where upstream did not know it")


class Breakdown(BaseModel):
    project: str
    by: str
    granularity: Literal["day", "week", "month"]
    start_date: dt.date
    end_date: dt.date
    last_complete_day: dt.date
    data: list[DimensionDownloads | PeriodDownloads] = Field(
        description="One row per period (by=none), or per period and value")


class VersionCount(BaseModel):
    version: str
    downloads: int


class Summary(BaseModel):
    project: str
    total_downloads: int
    total_downloads_without_mirrors: int
    last_day: int
    last_week: int
    last_month: int
    last_day_without_mirrors: int
    last_week_without_mirrors: int
    last_month_without_mirrors: int
    first_date: dt.date
    last_date: dt.date
    top_versions_last_month: list[VersionCount]
    last_complete_day: dt.date


class TopVersions(BaseModel):
    project: str
    start_date: dt.date
    end_date: dt.date
    last_complete_day: dt.date
    versions: list[VersionCount]


class ProjectRank(BaseModel):
    project: str
    total_downloads: int
    last_month: int


class TopProjects(BaseModel):
    projects: list[ProjectRank]
    matches: int = Field(description="Projects matching the prefix (all projects without one)")
    last_complete_day: dt.date


class ShieldsEndpoint(BaseModel):
    """shields.io's endpoint badge schema."""

    schemaVersion: Literal[1]  # noqa: N815 - shields.io's name
    label: str
    message: str
    color: str
