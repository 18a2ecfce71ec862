"""Versioned, idempotent schema management.

Every file ``sql/NNN_name.sql`` is one migration. Each statement is itself idempotent
(``IF NOT EXISTS``), and applied versions are recorded in ``schema_migrations``, so a fresh
warehouse and an upgraded one end up with identical tables, and re-running is harmless.
"""

from __future__ import annotations

import datetime as dt
import re

from pepy_pipeline.warehouse.commit import COMMIT_MUTEX, VERSION_DAYS_SETTINGS
from pepy_pipeline.warehouse.month_grain import backfill_month_grain
from pepy_pipeline.warehouse.sql_files import SQL_DIR, identifier, render, statements
from pepy_warehouse.locks import warehouse_mutex

_MIGRATION = re.compile(r"^(\d{3})_(\w+)\.sql$")


def available_migrations() -> list[tuple[int, str]]:
    found = []
    for path in sorted(SQL_DIR.glob("*.sql")):
        match = _MIGRATION.match(path.name)
        if match:
            found.append((int(match.group(1)), path.name))
    return found


def migrate(client, database: str) -> list[str]:
    """Bring ``database`` up to the newest schema; return the migrations applied now."""
    db = identifier(database)
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    if not _pending(client, db):
        return []
    # Under the commit mutex: a table altered between a commit's CREATE ... AS (its delta) and
    # its ATTACH PARTITION ... FROM would fail that attach with the day half swapped (a server
    # with writers in other processes; embedded writers already exclude each other).
    with warehouse_mutex(client, db, COMMIT_MUTEX):
        done = []
        for version, name in _pending(client, db):  # read again: another writer may have applied them
            for statement in statements(render(name, database=db)):
                client.command(statement)
            if name in BACKFILLS:
                BACKFILLS[name](client, db)
            client.insert(f"{db}.schema_migrations", [[version, name]], column_names=["version", "name"])
            done.append(name)
        return done


def _pending(client, db: str) -> list[tuple[int, str]]:
    applied = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows}
    return [(version, name) for version, name in available_migrations() if version not in applied]


def backfill_version_days(client, db: str, first: dt.date | None = None, last: dt.date | None = None) -> None:
    """Fill ``project_version_days`` from the version rollups (days committed before it existed;
    ``benchmarks/build_history.py`` for derived days), between ``first`` and ``last`` when given,
    a month at a time: the memory of one month's GROUP BY, not the history's (about 1 min for a
    month of the top 20,000 projects at real size, docs/benchmarks.md). A re-run only adds
    newer rows with the same content."""
    months = [row[0] for row in client.query(
        f"SELECT DISTINCT toStartOfMonth(date) AS m FROM {db}.project_version_daily ORDER BY m").result_rows]
    for month in months:
        month_end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        start, end = max(month, first or month), min(month_end, last or month_end)
        if start > end:
            continue
        client.command(render("rollups/project_version_days.sql", target=f"{db}.project_version_days",
                              source=f"{db}.project_version_daily"),
                       parameters={"first": start, "last": end}, settings=VERSION_DAYS_SETTINGS)


#: Data a migration derives from tables that already exist, run right after its DDL.
BACKFILLS = {"006_version_days.sql": backfill_version_days, "009_month_grain.sql": backfill_month_grain}
