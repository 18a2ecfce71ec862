"""Which runs that load days are queued or running, and which days they cover: the publish sensor
waits for them, and the schedule does not request a day one of them is loading."""

from __future__ import annotations

import datetime as dt

from dagster import DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from pepy_pipeline.assets.downloads import DOWNLOADS, ROLLUPS

LOAD_JOB = "load_downloads"
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def loads_in_flight(instance) -> list:
    """Queued or running runs that load days: the ``load_downloads`` job's, and any other run
    selecting the load assets (a backfill or a materialization launched from the UI's asset pages
    runs as ``__ASSET_JOB``)."""
    loads = {DOWNLOADS, ROLLUPS}
    return [run for run in instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT))
            if run.job_name == LOAD_JOB or loads & set(run.asset_selection or ())]


def days_of(run) -> set[dt.date]:
    """The days a load run covers, from its partition tags (one day, or a range of days)."""
    tags = run.tags
    if PARTITION_NAME_TAG in tags:
        first = last = tags[PARTITION_NAME_TAG]
    else:
        first, last = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    try:
        first, last = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except (TypeError, ValueError):
        return set()
    return {first + dt.timedelta(days=k) for k in range((last - first).days + 1)}


def days_in_flight(instance) -> set[dt.date]:
    return set().union(*(days_of(run) for run in loads_in_flight(instance)))
