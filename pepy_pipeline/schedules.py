"""The daily schedule and the freshness checks that watch it."""


import datetime as dt

from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
    define_asset_job,
    schedule,
)

from pepy_pipeline.assets.downloads import DOWNLOADS, ROLLUPS
from pepy_pipeline.assets.serving import SERVING

load_downloads_job = define_asset_job(
    "load_downloads",
    selection=AssetSelection.assets(DOWNLOADS, ROLLUPS, SERVING),
    description="Load days of downloads, rebuild their rollups and publish them to the API.",
)


@schedule(job=load_downloads_job, cron_schedule="30 4 * * *", execution_timezone="UTC")
def daily_downloads_schedule(context: ScheduleEvaluationContext):
    """Early each UTC morning: load yesterday, and reload the day before (late rows keep arriving)."""
    today = context.scheduled_execution_time.date()
    yesterday, day_before = today - dt.timedelta(days=1), today - dt.timedelta(days=2)
    yield RunRequest(run_key=f"load-{yesterday}", partition_key=yesterday.isoformat())
    yield RunRequest(run_key=f"reload-{day_before}", partition_key=day_before.isoformat())


#: Yesterday's partition must be loaded by 09:00 UTC.
freshness_checks = build_time_partition_freshness_checks(
    assets=[DOWNLOADS], deadline_cron="0 9 * * *", timezone="UTC"
)
freshness_sensor = build_sensor_for_freshness_checks(freshness_checks=freshness_checks)
