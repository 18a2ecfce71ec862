"""The daily partitions shared by every warehouse asset."""

from __future__ import annotations

from dagster import BackfillPolicy, DailyPartitionsDefinition

from pepy_pipeline.settings import load_settings

_settings = load_settings()

#: One partition per UTC day; the newest partition is yesterday (today is never complete).
daily_partitions = DailyPartitionsDefinition(
    start_date=_settings.start_date.isoformat(), timezone="UTC", end_offset=0
)

#: A backfill of many days runs in batches: each run opens the engine once and loads N days.
warehouse_backfill_policy = BackfillPolicy.multi_run(max_partitions_per_run=_settings.backfill_days_per_run)
