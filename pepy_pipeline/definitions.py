"""The Dagster code location: assets, checks, jobs, schedule and resources, wired in one place."""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from pepy_pipeline.assets.downloads import pypi_downloads
from pepy_pipeline.assets.serving import serving_tables
from pepy_pipeline.schedules import (
    daily_downloads_schedule,
    freshness_checks,
    freshness_sensor,
    load_downloads_job,
)
from pepy_pipeline.settings import load_settings
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse


def build_resources(settings=None) -> dict:
    settings = settings or load_settings()
    return {
        "warehouse": ClickHouseWarehouse(dsn=settings.warehouse_dsn, database=settings.database),
        "source": DownloadSourceResource(
            name=settings.source,
            sample_scale=settings.sample_scale,
            sample_projects=settings.sample_projects,
            sample_rows_per_day=settings.sample_rows_per_day,
            sample_seed=settings.sample_seed,
            **{f"bigquery_{name}": getattr(settings, f"bigquery_{name}") for name in (
                "project", "location", "table", "maximum_bytes_billed", "credentials_path", "credentials_base64",
                "api_endpoint", "storage_endpoint", "anonymous")},
        ),
    }


defs = Definitions(
    assets=[pypi_downloads, serving_tables],
    asset_checks=freshness_checks,
    jobs=[load_downloads_job],
    schedules=[daily_downloads_schedule],
    sensors=[freshness_sensor],
    resources=build_resources(),
    # chDB allows one process per data directory: steps never get their own processes.
    executor=in_process_executor,
)
