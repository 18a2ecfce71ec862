"""The daily schedules: early each morning the load of the days :mod:`pepy_pipeline.reload_policy`
picks, after the freshness deadline the check that the API serves yesterday."""

import datetime as dt

from dagster import (
    AssetCheckKey,
    AssetSelection,
    DagsterInvariantViolationError,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from pepy_pipeline.assets.keys import DOWNLOADS, ROLLUPS, SERVES_YESTERDAY, SERVING
from pepy_pipeline.load_runs import LOAD_JOB
from pepy_pipeline.reload_policy import plan_tick

load_downloads_job = define_asset_job(
    LOAD_JOB,
    selection=AssetSelection.assets(DOWNLOADS, ROLLUPS),
    description="Load days of downloads and their rollups; publishes at the end (or the publish sensor does).",
)

served_day_job = define_asset_job(
    "check_served_day", selection=AssetSelection.checks(AssetCheckKey(SERVING, SERVES_YESTERDAY)),
    description="Checks that the API serves yesterday (no warehouse access).")
#: After the freshness deadline (``pepy_pipeline.freshness.DEADLINE``).
served_day_schedule = ScheduleDefinition(name="served_day_schedule", job=served_day_job, cron_schedule="5 9 * * *",
                                         execution_timezone="UTC", default_status=DefaultScheduleStatus.RUNNING)


@schedule(job=load_downloads_job, cron_schedule="30 4 * * *", execution_timezone="UTC",
          required_resource_keys={"source"}, default_status=DefaultScheduleStatus.RUNNING)
def daily_downloads_schedule(context: ScheduleEvaluationContext):
    """Early each UTC morning: load yesterday, reload recent days that changed upstream or were
    committed low from a read that may have been cut short, retry those a failed load left as
    holes, and catch up a few older failed days or days whose upstream row count grew. A day a queued
    or running run is loading, or a backfill still submitting runs targets, is not requested again:
    that run or backfill loads it, and a later morning retries it if it fails."""
    today = context.scheduled_execution_time.date()
    try:
        asset_graph = context.repository_def.asset_graph
    except DagsterInvariantViolationError:  # evaluated outside a code location (tests)
        asset_graph = None
    fingerprints: dict[dt.date, str] = {}
    skipped: dict[dt.date, str] = {}
    requested, left = plan_tick(context.instance, context.resources.source.build(), today, asset_graph, fingerprints,
                                skipped)
    for day, why in sorted(skipped.items()):
        context.log.warning(f"{day}: {why}")
    for day, why in sorted(left.items()):
        context.log.info(f"{day}: {why.text}; not requested: a queued or running run or backfill is loading it")
    # Yesterday first, then the rest newest first: the warehouse pool runs them in this order.
    for day, why in sorted(requested.items(), reverse=True):
        context.log.info(f"{day}: {why.text}")
        yield RunRequest(run_key=f"load-{day}-{why.text}"[:250], partition_key=day.isoformat(),
                         tags=why.tags(day, fingerprints.get(day)))
