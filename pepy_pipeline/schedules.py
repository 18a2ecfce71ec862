"""The daily schedule: load yesterday, reload only the recent days that changed upstream, and
retry days left as holes by a load that failed or was refused, however old (the freshness it
promises is declared in ``pepy_pipeline.freshness``)."""

import datetime as dt
import logging

from dagster import (
    AssetCheckKey,
    AssetPartitionStatus,
    AssetRecordsFilter,
    AssetSelection,
    DagsterInvariantViolationError,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from pepy_pipeline.assets.downloads import DOWNLOADS, ROLLUPS
from pepy_pipeline.assets.publishing import SERVING
from pepy_pipeline.load_runs import LOAD_JOB, days_in_flight
from pepy_pipeline.partitions import daily_partitions

load_downloads_job = define_asset_job(
    LOAD_JOB,
    selection=AssetSelection.assets(DOWNLOADS, ROLLUPS),
    description="Load days of downloads and their rollups; publishes at the end (or the publish sensor does).",
)

served_day_job = define_asset_job(
    "check_served_day", selection=AssetSelection.checks(AssetCheckKey(SERVING, "serves_yesterday")),
    description="Checks that the API serves yesterday (no warehouse access).")
#: After the freshness deadline (``pepy_pipeline.freshness.DEADLINE``).
served_day_schedule = ScheduleDefinition(name="served_day_schedule", job=served_day_job, cron_schedule="5 9 * * *",
                                         execution_timezone="UTC", default_status=DefaultScheduleStatus.RUNNING)

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


#: At most this many days older than the look-back (a failed load, a hole) are retried per tick,
#: newest first: after a long outage the warehouse catches up over a few mornings, not in one burst.
CATCH_UP_PER_TICK = 31

log = logging.getLogger("pepy_pipeline")


def upstream_fingerprints(source, days: list[dt.date]) -> dict[dt.date, str] | None:
    """The source's fingerprints of ``days``, or None when it has none or they cannot be read now
    (metadata only: a failure here must not cost the morning's loads)."""
    if not hasattr(source, "day_fingerprints"):
        return None
    try:
        return source.day_fingerprints(days)
    except Exception as error:  # noqa: BLE001 - any source error: fall back to reloading
        log.warning(f"could not read upstream fingerprints ({type(error).__name__}: {str(error)[:200]}); "
                    "reloading the day before yesterday instead of comparing")
        return None


def unloaded_days(instance, before: dt.date) -> dict[dt.date, str]:
    """Every partition before ``before`` whose latest load failed or was refused, or that was never
    loaded though an earlier day was (a run that died before it), whatever its age: each is
    missing from the totals until it loads. Days before the first one loaded are not holes
    (history starts there) unless a load of them failed."""
    keys = daily_partitions.get_partition_keys(current_time=dt.datetime.combine(before, dt.time(), dt.timezone.utc))
    if not keys:
        return {}
    status = instance.get_status_by_partition(DOWNLOADS, keys, daily_partitions) or {}
    loaded = [key for key in keys if status.get(key) == AssetPartitionStatus.MATERIALIZED]
    first_loaded = min(loaded, default=None)
    days = {}
    for key in keys:
        if status.get(key) == AssetPartitionStatus.FAILED:
            days[dt.date.fromisoformat(key)] = "its last load failed or was refused"
        elif status.get(key) is None and first_loaded is not None and key > first_loaded:
            days[dt.date.fromisoformat(key)] = "never loaded, though an earlier day was: a failed or refused load"
    return days


def days_to_load(instance, source, today: dt.date) -> dict[dt.date, str]:
    """Yesterday, plus each of the days before it whose upstream fingerprint differs from the one it
    was loaded with (late rows), and each day whose load failed or was refused or that was never
    loaded although an earlier day was (:func:`unloaded_days`), tried again until it loads: recent
    ones when the source has them, older ones up to ``CATCH_UP_PER_TICK`` a tick. Sources without
    fingerprints, or whose fingerprints cannot be read now, get the day before reloaded."""
    yesterday = today - dt.timedelta(days=1)
    wanted = {yesterday: "new"}
    recent = [today - dt.timedelta(days=k) for k in range(2, LOOKBACK_DAYS + 2)]
    now = upstream_fingerprints(source, recent)
    if now is None:
        wanted[recent[0]] = "reload (source cannot tell what changed)"
    for day in recent:
        before = loaded_fingerprint(instance, day)
        if before is not None and now is not None and day in now and now[day] != before:
            wanted[day] = f"changed upstream: {before or 'unknown'} -> {now[day]}"
    older = 0
    for day, why in sorted(unloaded_days(instance, yesterday).items(), reverse=True):
        if day in recent:
            if now is None or day in now:  # upstream has the day
                wanted.setdefault(day, why)
        elif older < CATCH_UP_PER_TICK:
            wanted.setdefault(day, why)
            older += 1
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
