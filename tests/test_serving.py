"""Serving tables: month partitions rebuilt only when a day of the month changed, equal to the
daily rollups, one part per month; generations published and old ones removed."""

import datetime as dt
import os
import time

from pepy_pipeline.sources.sample import SampleSource
from pepy_pipeline.warehouse.loader import load_day
from pepy_pipeline.warehouse.serving import (
    current_generation, publish_generation, rebuild_serving_months, rebuild_totals, remove_old_generations,
)
from tests.conftest import DATABASE

SAMPLE = SampleSource(projects=50, rows_per_day=2000)
DAYS = [dt.date(2026, 9, 29), dt.date(2026, 9, 30), dt.date(2026, 10, 1)]


def sums(client, table):
    return client.query(f"SELECT date, sum(downloads), sum(ci_downloads) FROM {DATABASE}.{table} "
                        "GROUP BY date ORDER BY date").result_rows


def test_months_are_rebuilt_only_when_their_days_change(client):
    for day in DAYS:
        load_day(client, DATABASE, SAMPLE, day)
    assert rebuild_serving_months(client, DATABASE) == [202609, 202610]
    assert rebuild_serving_months(client, DATABASE) == []
    for rollup in ("project_daily", "project_version_daily", "project_dimension_daily"):
        assert sums(client, f"serving_{rollup}") == sums(client, rollup)
    parts = client.query(f"SELECT table, partition_id, count() FROM system.parts WHERE database = '{DATABASE}' "
                         "AND active AND table LIKE 'serving_project%' GROUP BY table, partition_id").result_rows
    assert parts and all(count == 1 for _, _, count in parts)

    time.sleep(0.01)
    load_day(client, DATABASE, SampleSource(projects=50, rows_per_day=2000, seed=8), DAYS[2])
    assert rebuild_serving_months(client, DATABASE) == [202610]
    assert sums(client, "serving_project_daily") == sums(client, "project_daily")


def test_totals_are_as_of_the_last_loaded_day(client):
    for day in DAYS:
        load_day(client, DATABASE, SAMPLE, day)
    rebuild_serving_months(client, DATABASE)
    assert rebuild_totals(client, DATABASE) == DAYS[-1]
    total, last_day, first, last = client.query(
        f"SELECT total_downloads, last_day, first_date, last_date FROM {DATABASE}.project_totals "
        "WHERE project = '__all__'").result_rows[0]
    day_sums = dict(client.query(f"SELECT date, sum(downloads) FROM {DATABASE}.downloads_daily GROUP BY date").result_rows)
    assert total == sum(day_sums.values()) and last_day == day_sums[DAYS[-1]]
    assert (first, last) == (DAYS[0], DAYS[-1])


def test_generations_are_published_atomically_and_old_ones_removed(client, warehouse_dir):
    load_day(client, DATABASE, SAMPLE, DAYS[0])
    rebuild_serving_months(client, DATABASE)
    rebuild_totals(client, DATABASE)
    names = [publish_generation(client, DATABASE, warehouse_dir).name for _ in range(4)]
    assert current_generation(warehouse_dir)["generation"] == names[-1]
    manifest = current_generation(warehouse_dir)
    assert set(manifest["tables"]) == {"serving_project_daily", "serving_project_version_daily",
                                       "serving_project_dimension_daily", "project_totals"}
    for name in names[:2]:  # pretend the first two are past the grace period
        old = warehouse_dir / "serving" / f"{name}.json"
        os.utime(old, (time.time() - 3600, time.time() - 3600))
    removed = remove_old_generations(warehouse_dir)
    assert sorted(removed) == sorted(names[:2])
    assert not (warehouse_dir / "shadow" / names[0]).exists()
    assert (warehouse_dir / "shadow" / names[-1]).exists() and (warehouse_dir / "shadow" / names[-2]).exists()
    # The live tables are untouched by removing frozen generations (hard links).
    assert client.query(f"SELECT count() FROM {DATABASE}.serving_project_daily").result_rows[0][0] > 0


def test_stale_staging_is_dropped_by_key_and_age(client):
    from pepy_pipeline.warehouse.staging import drop_stale

    for leftover in ("_staging_serving_project_daily_202610_dead0000", "_staging_downloads_daily_20261003_dead0000"):
        client.command(f"CREATE TABLE {DATABASE}.{leftover} AS {DATABASE}.project_daily")
    assert drop_stale(client, DATABASE, "202610", min_age_seconds=3600) == []  # maybe a rebuild in progress
    assert drop_stale(client, DATABASE, "202610") == ["_staging_serving_project_daily_202610_dead0000"]
    assert drop_stale(client, DATABASE, "20261003") == ["_staging_downloads_daily_20261003_dead0000"]
    assert drop_stale(client, DATABASE) == []
