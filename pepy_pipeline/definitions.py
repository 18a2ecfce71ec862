"""The Dagster code location: assets, checks, jobs, schedule and resources, wired in one place."""

from __future__ import annotations

import os
import warnings

from dagster import BetaWarning, Definitions, EnvVar, in_process_executor

# ``backfill_policy`` (one run per range of days) is a beta parameter of ``@asset`` that we use on
# purpose; say so once instead of warning at every start. Other warnings still show.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)

from pepy_pipeline.alerts import alert_sensors  # noqa: E402 - after the warning filter
from pepy_pipeline.assets.downloads import pypi_downloads
from pepy_pipeline.assets.publishing import serves_yesterday, serving_tables
from pepy_pipeline.schedules import daily_downloads_schedule, load_downloads_job, served_day_job, served_day_schedule
from pepy_pipeline.sensors import dead_run_sensor, publish_job, publish_sensor
from pepy_pipeline.settings import load_settings
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

#: Settings holding secrets, and the variables they come from. In the code location they reach the
#: resources as ``EnvVar``: the snapshot, UI, GraphQL and run config show the name, never the value.
SECRET_VARIABLES = {
    "warehouse_dsn": "PEPY_CLICKHOUSE_DSN",
    "bigquery_credentials_base64": "PEPY_BIGQUERY_CREDENTIALS_BASE64",
}


def _secret(settings, field: str, secrets_from_env: bool):
    """``EnvVar`` when the environment holds this setting's value, otherwise the value itself
    (a default such as the embedded DSN, or an explicit value a test passed)."""
    value = getattr(settings, field)
    wanted = SECRET_VARIABLES[field]
    if secrets_from_env and value:
        # pydantic-settings matches variable names case-insensitively; EnvVar needs the real name.
        name = next((k for k, v in os.environ.items() if k.upper() == wanted and v == value), None)
        if name is not None:
            return EnvVar(name)
    return value


def build_resources(settings=None, *, secrets_from_env: bool = False) -> dict:
    """The resources from ``settings`` (default: the environment). ``secrets_from_env`` passes
    secrets as ``EnvVar`` (the code location does); otherwise every value is passed as is."""
    settings = settings or load_settings()
    return {
        "warehouse": ClickHouseWarehouse(
            dsn=_secret(settings, "warehouse_dsn", secrets_from_env), database=settings.database,
            writer_nice=settings.writer_nice, writer_session=settings.writer_session,
            **{f"volume_{name}": getattr(settings, f"volume_{name}")
               for name in ("fail_below", "warn_below", "warn_above", "fail_above", "reload_fail_below")}),
        "source": DownloadSourceResource(
            name=settings.source,
            sample_scale=settings.sample_scale,
            sample_projects=settings.sample_projects,
            sample_rows_per_day=settings.sample_rows_per_day,
            sample_seed=settings.sample_seed,
            bigquery_credentials_base64=_secret(settings, "bigquery_credentials_base64", secrets_from_env),
            **{f"bigquery_{name}": getattr(settings, f"bigquery_{name}") for name in (
                "project", "location", "table", "maximum_bytes_billed", "credentials_path",
                "api_endpoint", "storage_endpoint", "anonymous")},
        ),
    }


defs = Definitions(
    assets=[pypi_downloads, serving_tables],
    asset_checks=[serves_yesterday],
    jobs=[load_downloads_job, publish_job, served_day_job],
    schedules=[daily_downloads_schedule, served_day_schedule],
    sensors=[publish_sensor, dead_run_sensor, *alert_sensors()],
    resources=build_resources(secrets_from_env=True),
    # chDB allows one process per data directory: steps never get their own processes.
    executor=in_process_executor,
)
