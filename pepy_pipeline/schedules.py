"""The daily schedule (the freshness it promises is declared in ``pepy_pipeline.freshness``)."""


import datetime as dt

from dagster import AssetSelection, RunRequest, ScheduleEvaluationContext, define_asset_job, schedule

from pepy_pipeline.assets.downloads import DOWNLOADS, ROLLUPS
from pepy_pipeline.assets.serving import SERVING

load_downloads_job = define_asset_job(
    "load_downloads",
    selection=AssetSelection.assets(DOWNLOADS, ROLLUPS, SERVING),
    description="Load days of downloads, rebuild their rollups and publish them to the API.",
)


@schedule(job=load_downloads_job, cron_schedule="30 4 * * *", execution_timezone="UTC")
def daily_downloads_schedule(context: ScheduleEvaluationContext):
    """Early each UTC morning: load yesterday, and reload the day before (late rows keep arriving).

    Off until started (``dagster schedule start daily_downloads_schedule``, or the UI's toggle);
    ``scripts/demo.sh`` starts it."""
    today = context.scheduled_execution_time.date()
    yesterday, day_before = today - dt.timedelta(days=1), today - dt.timedelta(days=2)
    yield RunRequest(run_key=f"load-{yesterday}", partition_key=yesterday.isoformat())
    yield RunRequest(run_key=f"reload-{day_before}", partition_key=day_before.isoformat())
