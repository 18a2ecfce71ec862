"""Pipeline settings from the environment (``PEPY_*``), with embedded-mode defaults.

Switching to a ClickHouse server or to BigQuery is configuration only: set
``PEPY_CLICKHOUSE_DSN`` / ``PEPY_SOURCE`` (or override the resources in the Dagster launchpad).
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from pepy_warehouse.settings import WarehouseSettings


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
    #: A hard cap on one day's query: a 2026 weekday scans ~0.4-0.47 TB (0.33 TiB a day on average,
    #: weekdays ~1.13x, the timestamp column read by the day's filter), growing 30-50% a year. At 500 GB
    #: weekdays would soon be refused (left as holes); 1 TB still refuses a scan of the table.
    bigquery_maximum_bytes_billed: int = 10**12
    bigquery_credentials_path: str = ""
    bigquery_credentials_base64: str = ""
    bigquery_api_endpoint: str = ""
    bigquery_storage_endpoint: str = ""
    bigquery_anonymous: bool = False
    #: Days per run when a backfill covers a range (one process, one engine open, N days).
    backfill_days_per_run: int = 10
    #: A day's downloads against the median of the same weekday in the 4 weeks before and after it.
    volume_fail_below: float = 0.5
    volume_warn_below: float = 0.8
    volume_warn_above: float = 1.5
    volume_fail_above: float = 3.0
    #: A reload with fewer downloads than this share of what the day already has is refused.
    volume_reload_fail_below: float = 0.98
    #: Embedded: the writer's nice value, so the API on the same cores answers first (0: off).
    #: Bounded here as in the resource: 20 was accepted here, then broke the code location's import.
    writer_nice: int = Field(default=10, ge=0, le=19)
    #: Embedded: a writer without a terminal runs in a session of its own, its autogroup at
    #: writer_nice (where the kernel shares CPU by session first, nice alone did not yield).
    writer_session: bool = True
    #: Cap of the one-off opening-balance query (it scans every partition before the first day).
    bigquery_balance_maximum_bytes_billed: int = 100 * 10**12
    #: Failed runs and failed ERROR checks are POSTed here as JSON (empty: no alerts).
    alert_webhook_url: str = ""


def load_settings() -> PipelineSettings:
    return PipelineSettings()
