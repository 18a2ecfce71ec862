"""pypistats.org-compatible endpoints: same JSON shapes and pypistats.org's arithmetic (a row with a
malformed Python is dropped everywhere, a NULL installer is not "without mirrors"), the last 180
days by default, any range on request, the known bugs fixed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pepy_api.deps import PackageDep, PypistatsRangeDep, ReaderDep
from pepy_api.errors import ERROR_RESPONSES
from pepy_api.models import Overall, PythonMajor, PythonMinor, Recent, System
from pepy_api.params import AsciiOnly
from pepy_api.responses import FastJSONResponse
from pepy_api.routing import PrebuiltJSONRoute
from pepy_api.store import queries

router = APIRouter(prefix="/api/packages", tags=["pypistats.org compatible"], responses=ERROR_RESPONSES,
                   default_response_class=FastJSONResponse, route_class=PrebuiltJSONRoute)


@router.get("/{package}/recent", summary="Downloads in the last day, week and month (without mirrors)",
            response_model=Recent)
async def recent(package: PackageDep,
                 period: Annotated[str | None, Query(pattern="(?i)^(day|week|month)$"), AsciiOnly] = None):
    t = package.totals
    data = {"last_day": t.last_day_pypistats, "last_week": t.last_week_pypistats,
            "last_month": t.last_month_pypistats}
    if period:
        data = {f"last_{period.lower()}": data[f"last_{period.lower()}"]}
    return {"data": data, "package": package.name, "type": "recent_downloads"}


@router.get("/{package}/overall", summary="Daily downloads with and without mirrors", response_model=Overall)
def overall(package: PackageDep, reader: ReaderDep, dates: PypistatsRangeDep, mirrors: bool | None = None):
    rows = queries.overall_downloads(reader, package.name, dates.start, dates.end)
    data = []
    if mirrors is None or mirrors:
        data += [{"category": "with_mirrors", "date": d, "downloads": w} for d, w, _ in rows]
    if mirrors is None or not mirrors:
        # pypistats.org stores a without-mirrors row only for a day with such downloads.
        data += [{"category": "without_mirrors", "date": d, "downloads": n} for d, _, n in rows if n]
    return {"data": data, "package": package.name, "type": "overall_downloads"}


def _category_series(reader, package, dates, dimension: str, wanted: str | None,
                     null_values: tuple[str, ...]) -> list[dict]:
    rows = queries.category_downloads(reader, package.name, dimension, dates.start, dates.end,
                                      "pypistats_without_mirrors", null_values)
    if wanted is not None:
        wanted = wanted.lower()
        rows = [row for row in rows if row[0].lower() == wanted]
    # Dates stay dates: orjson writes them as ISO text.
    return [{"category": c, "date": d, "downloads": n} for c, d, n in rows]


#: Stored values reported as the category "null": upstream NULL (''); for Python also 'invalid'
#: (unparsable), which pypistats' measures count as nothing (warehouse/measures.py drops such rows),
#: folded in as before should it ever carry downloads.
PYTHON_NULLS = ("", "invalid")
SYSTEM_NULLS = ("",)


@router.get("/{package}/python_major", summary="Daily downloads by Python major version",
            response_model=PythonMajor)
def python_major(package: PackageDep, reader: ReaderDep, dates: PypistatsRangeDep,
                 version: Annotated[str | None, Query(max_length=20, description="e.g. 3, or null")] = None):
    data = _category_series(reader, package, dates, "python_major", version, PYTHON_NULLS)
    return {"data": data, "package": package.name, "type": "python_major_downloads"}


@router.get("/{package}/python_minor", summary="Daily downloads by Python minor version",
            response_model=PythonMinor)
def python_minor(package: PackageDep, reader: ReaderDep, dates: PypistatsRangeDep,
                 version: Annotated[str | None, Query(max_length=20, description="e.g. 3.12, or null")] = None):
    data = _category_series(reader, package, dates, "python_minor", version, PYTHON_NULLS)
    return {"data": data, "package": package.name, "type": "python_minor_downloads"}


@router.get("/{package}/system", summary="Daily downloads by operating system", response_model=System)
def system(package: PackageDep, reader: ReaderDep, dates: PypistatsRangeDep,
           os: Annotated[str | None, Query(max_length=20, description="Darwin, Linux, Windows, other or null")] = None):
    data = _category_series(reader, package, dates, "pypistats_system", os, SYSTEM_NULLS)
    return {"data": data, "package": package.name, "type": "system_downloads"}
