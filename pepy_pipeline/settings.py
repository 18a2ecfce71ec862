"""Pipeline settings from the environment (``PEPY_*``), with embedded-mode defaults.

Switching to a ClickHouse server or to BigQuery is configuration only: set
``PEPY_CLICKHOUSE_DSN`` / ``PEPY_SOURCE`` (or override the resources in the Dagster launchpad).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WarehouseSettings(BaseSettings):
    """Where the warehouse is: shared by the pipeline and the API, so both find the same one."""

    model_config = SettingsConfigDict(env_prefix="PEPY_", extra="ignore")

    home: Path = Path(".pepy")
    clickhouse_dsn: str = ""
    database: str = "pepy"

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def warehouse_dsn(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.home / 'warehouse'}"


class PipelineSettings(WarehouseSettings):
    source: str = "sample"
    start_date: dt.date = dt.date(2025, 1, 1)
    #: "small" (demo, tests) or "real" (PyPI's size: ~33 M rows a day; see sources/sample/shape.py).
    sample_scale: str = "small"
    #: None: the scale's default (small: 300 projects, 20,000 rows; real: 720,000 and 33,000,000).
    sample_projects: int | None = None
    sample_rows_per_day: int | None = None
    sample_seed: int = 7
    bigquery_project: str = ""
    bigquery_location: str = "US"
    bigquery_table: str = "bigquery-public-data.pypi.file_downloads"
    bigquery_maximum_bytes_billed: int = 500 * 10**9
    bigquery_credentials_path: str = ""
    bigquery_credentials_base64: str = ""
    bigquery_api_endpoint: str = ""
    bigquery_storage_endpoint: str = ""
    bigquery_anonymous: bool = False
    #: Days per run when a backfill covers a range (one process, one engine open, N days).
    backfill_days_per_run: int = 10


def load_settings() -> PipelineSettings:
    return PipelineSettings()
