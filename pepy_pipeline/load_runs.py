"""Which runs and backfills that load days are queued or running, and which days they cover: the
publish sensor waits for them, and the schedule does not request a day one of them is loading."""

from __future__ import annotations

import datetime as dt

from dagster import DagsterRunStatus, RunsFilter
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from pepy_pipeline.assets.keys import DOWNLOADS, ROLLUPS

LOAD_JOB = "load_downloads"
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
#: Backfills whose runs may still commit days. Dagster keeps a backfill REQUESTED until its last run
#: has finished, job and asset backfills alike.
BACKFILL_IN_PROGRESS = [BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING]
LOAD_ASSETS = frozenset({DOWNLOADS, ROLLUPS})


def loads_in_flight(instance) -> list:
    """Queued or running runs that load days: the ``load_downloads`` job's, and any other run
    selecting the load assets (a backfill or a materialization launched from the UI's asset pages
    runs as ``__ASSET_JOB``)."""
    return [run for run in instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT))
            if run.job_name == LOAD_JOB or LOAD_ASSETS & set(run.asset_selection or ())]


def backfills_in_progress(instance, limit: int | None = None) -> list:
    return instance.get_backfills(filters=BulkActionsFilter(statuses=BACKFILL_IN_PROGRESS), limit=limit)


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


def days_of_backfill(backfill, asset_graph) -> set[dt.date]:
    """Every day a backfill of the load job or the load assets targets, submitted as runs or not
    yet (the daemon submits a backfill's partitions over several ticks), while it is REQUESTED: a
    cancelling or failing one submits no more runs (its runs in flight count by themselves).
    ``asset_graph`` (the code location's) reads an asset backfill's targets; without it, or when
    they no longer read against it (definitions changed), the backfill covers no day here."""
    if backfill.status != BulkActionStatus.REQUESTED:
        return set()
    if backfill.is_asset_backfill:
        if asset_graph is None or not LOAD_ASSETS & set(backfill.asset_selection or ()):
            return set()
        try:
            data = backfill.get_asset_backfill_data(asset_graph)
            names = set().union(*(data.get_target_partitions_subset(key).get_partition_keys()
                                  for key in LOAD_ASSETS & set(backfill.asset_selection)))
        except Exception:  # noqa: BLE001 - an unreadable backfill must not stop the schedule
            return set()
    elif backfill.job_name == LOAD_JOB:
        names = backfill.partition_names or ()
    else:
        return set()
    days = set()
    for name in names:
        try:
            days.add(dt.date.fromisoformat(name))
        except ValueError:
            pass
    return days


def days_in_flight(instance, asset_graph=None) -> set[dt.date]:
    """Days a queued or running load run covers, and every day of a backfill still submitting runs."""
    runs = set().union(*(days_of(run) for run in loads_in_flight(instance)))
    return runs.union(*(days_of_backfill(backfill, asset_graph) for backfill in backfills_in_progress(instance)))
