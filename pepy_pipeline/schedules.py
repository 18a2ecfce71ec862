"""The daily schedule: load yesterday, reload only the recent days that changed upstream, and
retry recent days left as holes by a load that failed or was refused (the freshness it promises is
declared in ``pepy_pipeline.freshness``)."""

import datetime as dt

from dagster import (
    AssetRecordsFilter,
    AssetSelection,
    DagsterInvariantViolationError,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from pepy_pipeline.assets.downloads import DOWNLOADS, ROLLUPS
from pepy_pipeline.load_runs import LOAD_JOB, days_in_flight

load_downloads_job = define_asset_job(
    LOAD_JOB,
    selection=AssetSelection.assets(DOWNLOADS, ROLLUPS),
    description="Load days of downloads and their rollups; publishes at the end (or the publish sensor does).",
)

#: How far back the schedule looks for days that changed upstream after they were loaded.
LOOKBACK_DAYS = 7


def loaded_fingerprint(instance, day: dt.date) -> str | None:
    """The upstream fingerprint recorded when ``day`` was last committed (None: never loaded)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=DOWNLOADS, asset_partitions=[day.isoformat()]), limit=1).records
    if not records:
        return None
    entry = records[0].asset_materialization.metadata.get("upstream_fingerprint")
    return entry.value if entry is not None else ""


def days_to_load(instance, source, today: dt.date) -> dict[dt.date, str]:
    """Yesterday, plus each of the days before it whose upstream fingerprint differs from the one it
    was loaded with (late rows), and each never loaded although an earlier recent day was: a hole
    left by a failed or refused load (a partial upstream day), tried again until it loads. Sources
    without fingerprints get the day before reloaded."""
    yesterday = today - dt.timedelta(days=1)
    wanted = {yesterday: "new"}
    recent = [today - dt.timedelta(days=k) for k in range(2, LOOKBACK_DAYS + 2)]
    now = source.day_fingerprints(recent) if hasattr(source, "day_fingerprints") else None
    if now is None:
        wanted[recent[0]] = "reload (source cannot tell what changed)"
    loaded = {day: loaded_fingerprint(instance, day) for day in recent}
    first_loaded = min((day for day, fingerprint in loaded.items() if fingerprint is not None), default=None)
    for day in recent:
        before = loaded[day]
        if before is None:
            # Days before the first one loaded here are not holes (history starts later).
            if first_loaded is not None and day > first_loaded and (now is None or day in now):
                wanted.setdefault(day, "never loaded, though an earlier day was: a failed or refused load")
        elif now is not None and day in now and now[day] != before:
            wanted[day] = f"changed upstream: {before or 'unknown'} -> {now[day]}"
    return wanted


def plan_tick(instance, source, today: dt.date, asset_graph=None) -> tuple[dict[dt.date, str], dict[dt.date, str]]:
    """(days to request, days left to the queued or running run or backfill that is loading them),
    each with why it is wanted (:func:`days_to_load`). ``asset_graph`` reads asset backfills'
    days (:func:`pepy_pipeline.load_runs.days_of_backfill`)."""
    wanted, loading = days_to_load(instance, source, today), days_in_flight(instance, asset_graph)
    return ({day: why for day, why in wanted.items() if day not in loading},
            {day: why for day, why in wanted.items() if day in loading})


@schedule(job=load_downloads_job, cron_schedule="30 4 * * *", execution_timezone="UTC",
          required_resource_keys={"source"}, default_status=DefaultScheduleStatus.RUNNING)
def daily_downloads_schedule(context: ScheduleEvaluationContext):
    """Early each UTC morning: load yesterday, and reload recent days that changed upstream or
    retry those a failed load left as holes. A day a queued or running run is loading, or a
    backfill still in progress targets, is not requested again: that run or backfill loads it, and
    the next morning's lookback retries it if it fails."""
    today = context.scheduled_execution_time.date()
    try:
        asset_graph = context.repository_def.asset_graph
    except DagsterInvariantViolationError:  # evaluated outside a code location (tests)
        asset_graph = None
    requested, left = plan_tick(context.instance, context.resources.source.build(), today, asset_graph)
    for day, why in sorted(left.items()):
        context.log.info(f"{day}: {why}; not requested: a queued or running run or backfill is loading it")
    for day, why in sorted(requested.items()):
        context.log.info(f"{day}: {why}")
        yield RunRequest(run_key=f"load-{day}-{why}"[:250], partition_key=day.isoformat(), tags={"pepy/why": why[:200]})
