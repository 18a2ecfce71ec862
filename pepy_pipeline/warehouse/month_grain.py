"""Month-grain rollups: the daily version and dimension rollups summed by month.

A month-granular question over a long range (all history by month) reads one row per project,
month and key here instead of one per day (sql/009_month_grain.sql). The commit keeps them with
the daily tables' own deltas, each day made its month (:func:`by_month_sql`), so they cannot
drift from the daily tables; :func:`backfill_month_grain` rebuilds months from the daily tables
(the migration, and the benchmark's derived history).
"""

from __future__ import annotations

import datetime as dt

from pepy_pipeline.warehouse import measures
from pepy_pipeline.warehouse.staging import staging_table

#: Month-grain table -> (the daily rollup it sums, its key columns besides the month).
MONTH_GRAIN = {
    "project_version_monthly": ("project_version_daily", "project, version"),
    "project_dimension_monthly": ("project_dimension_daily", "project, dimension, value"),
}


def by_month_sql(table: str, source: str, where: str = "") -> str:
    """``SELECT`` of ``source``'s rows (daily-rollup columns) with the day made its month, in
    ``table``'s column order. No GROUP BY: rows of one key fold as the parts merge (the table
    sums), so a day's delta streams through without the memory of grouping ~17 M keys at real
    size, and a month is folded by one merge."""
    _, keys = MONTH_GRAIN[table]
    return (f"SELECT toStartOfMonth(date) AS month, {keys}, {', '.join(measures.MEASURES)} FROM {source}"
            + (f" WHERE {where}" if where else ""))


def backfill_month_grain(client, db: str, first: dt.date | None = None, last: dt.date | None = None) -> None:
    """Rebuild every month-grain month that has daily rows (between ``first`` and ``last``, whole
    months, when given) from the daily tables: each month built in a staging table and swapped
    in with ``REPLACE PARTITION``, so a re-run or an interrupted run never counts a month twice.
    Run where no commit can interleave (migrations hold the commit mutex)."""
    for table, (daily, _) in MONTH_GRAIN.items():
        months = [row[0] for row in client.query(
            f"SELECT DISTINCT toStartOfMonth(date) AS m FROM {db}.{daily} ORDER BY m").result_rows]
        for month in months:
            if (first and month < first.replace(day=1)) or (last and month > last):
                continue
            rebuild_month(client, db, table, month)


def rebuild_month(client, db: str, table: str, month: dt.date) -> None:
    """Replace ``table``'s ``month`` with the daily rollup's rows of that month summed by month
    (empty if it has none), built in staging: the cost of one month."""
    daily, _ = MONTH_GRAIN[table]
    with staging_table(client, db, table, f"{month:%Y%m}") as staged:
        client.command(f"INSERT INTO {staged} "
                       + by_month_sql(table, f"{db}.{daily}", "toYYYYMM(date) = {m:UInt32}"),
                       parameters={"m": int(f"{month:%Y%m}")})
        client.command(f"OPTIMIZE TABLE {staged} FINAL")
        client.command(f"ALTER TABLE {db}.{table} REPLACE PARTITION ID '{month:%Y%m}' FROM {staged}")
