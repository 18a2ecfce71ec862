"""Request dependencies in one place: the reader, the snapshot, validated project names, dates.

Every dependency here is ``async``: none blocks (a lookup in memory, a regex), and FastAPI runs a
plain ``def`` dependency in its thread pool, one hand-off per dependency and request. Only
endpoints that query the engine stay plain ``def`` (the engine call blocks)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from pepy_api.errors import ApiError, no_data, not_found
from pepy_api.names import InvalidProjectName, normalize
from pepy_api.settings import ApiSettings
from pepy_api.store.reader import Reader
from pepy_api.store.snapshot import Snapshot, Totals


class BoundReader:
    """The reader bound to the request's snapshot: every query of one response reads the same
    generation, even if a new one is swapped in meanwhile."""

    def __init__(self, reader: Reader, snapshot: Snapshot) -> None:
        self._reader = reader
        self._snapshot = snapshot

    def query(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        return self._reader.query(sql, parameters, self._snapshot)


async def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


async def get_snapshot(request: Request) -> Snapshot:
    """The snapshot the caching middleware keyed this request on (so the ETag matches)."""
    snap = getattr(request.state, "snapshot", None) or request.app.state.reader.snapshot()
    if not snap.has_data:
        raise no_data()
    return snap


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


async def get_reader(request: Request, snap: SnapshotDep) -> BoundReader:
    return BoundReader(request.app.state.reader, snap)


ReaderDep = Annotated[BoundReader, Depends(get_reader)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


class KnownProject:
    """A path's project: PEP 503-normalised, valid, and present in the served data."""

    def __init__(self, name: str, totals: Totals) -> None:
        self.name = name
        self.totals = totals


def _resolve(raw: str, snap: Snapshot, allow_all: bool) -> KnownProject:
    try:
        name = normalize(raw, allow_all=allow_all)
    except InvalidProjectName as error:
        raise ApiError(400, str(error)) from None
    totals = snap.totals.get(name)
    if totals is None:
        raise not_found(name)
    return KnownProject(name, totals)


async def project_dep(project: Annotated[str, Path(description="Project name, any PEP 503 spelling")],
                      snap: SnapshotDep) -> KnownProject:
    return _resolve(project, snap, allow_all=False)


async def package_dep(package: Annotated[str, Path(description="Package name, or `__all__` for every package")],
                      snap: SnapshotDep) -> KnownProject:
    return _resolve(package, snap, allow_all=True)


ProjectDep = Annotated[KnownProject, Depends(project_dep)]
PackageDep = Annotated[KnownProject, Depends(package_dep)]


class DateRange:
    def __init__(self, start: dt.date, end: dt.date) -> None:
        self.start = start
        self.end = end


StartDate = Annotated[dt.date | None, Query(description="First day (YYYY-MM-DD)")]
EndDate = Annotated[dt.date | None, Query(description="Last day (YYYY-MM-DD); default: last complete day")]

#: The days a request may name. The engine's ``Date`` holds 1970-01-01 .. 2149-06-06, and a
#: month-granular answer reads up to the first day of the month after its last day; a date outside
#: is a 400 (Python's own date arithmetic overflowed near year 1 and 9999: a 500).
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(2149, 5, 31)


def _range(snap: Snapshot, settings: ApiSettings, start_date, end_date, default_days: int | None) -> DateRange:
    for name, day in (("start_date", start_date), ("end_date", end_date)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ApiError(400, f"{name} {day} is outside the days this API can answer for "
                                f"({FIRST_DAY} to {LAST_DAY})")
    end = end_date or snap.last_complete_day
    if start_date:
        start = start_date
    elif default_days:
        start = end - dt.timedelta(days=default_days - 1)  # the engine reads a day before 1970 as 1970-01-01
    else:  # all history, or the last max_range_days of it: the default is never refused
        # From the first loaded day: from first_complete_day, one failed day left a chart of the
        # days after it; and with only an end_date before it, a 400 named a start never sent (a
        # probe). Days before a gap are in the series; first_complete_day in the answer says
        # where the unbroken history starts.
        start = snap.first_loaded_day or snap.first_complete_day or end
        if start > end:  # only an end_date, before the history: nothing loaded up to it, or, where
            # the first loaded day is not known (an older publish), as far back as allowed
            start = end if snap.first_loaded_day else max(FIRST_DAY, end - dt.timedelta(days=settings.max_range_days - 1))
        if (end - start).days >= settings.max_range_days:
            start = end - dt.timedelta(days=settings.max_range_days - 1)
    if start > end:
        raise ApiError(400, f"start_date {start} is after end_date {end}")
    if (end - start).days + 1 > settings.max_range_days:
        raise ApiError(400, f"the range is {(end - start).days + 1} days; at most {settings.max_range_days} allowed")
    return DateRange(start, end)


async def date_range(snap: SnapshotDep, settings: SettingsDep, start_date: StartDate = None,
                     end_date: EndDate = None) -> DateRange:
    """An inclusive date range, defaulting to the complete daily history (its last ``max_range_days``
    where it is longer); a range asked for that is too long or reversed is a 400."""
    return _range(snap, settings, start_date, end_date, None)


#: pypistats.org keeps 180 days and its client sends no dates: with no dates, the last 180 days.
PYPISTATS_DEFAULT_DAYS = 180


async def pypistats_range(snap: SnapshotDep, settings: SettingsDep, start_date: StartDate = None,
                          end_date: EndDate = None) -> DateRange:
    """pypistats.org's default: with no dates, the 180 days up to the last complete day."""
    return _range(snap, settings, start_date, end_date, PYPISTATS_DEFAULT_DAYS)


RangeDep = Annotated[DateRange, Depends(date_range)]
PypistatsRangeDep = Annotated[DateRange, Depends(pypistats_range)]
