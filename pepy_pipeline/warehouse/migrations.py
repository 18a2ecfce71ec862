"""Versioned, idempotent schema management.

Every file ``sql/NNN_name.sql`` is one migration. Each statement is itself idempotent
(``IF NOT EXISTS``), and applied versions are recorded in ``schema_migrations``, so a fresh
warehouse and an upgraded one end up with identical tables, and re-running is harmless.
"""

from __future__ import annotations

import re

from pepy_pipeline.warehouse.sql_files import SQL_DIR, identifier, render, statements

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
    applied = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows}
    done = []
    for version, name in available_migrations():
        if version in applied:
            continue
        for statement in statements(render(name, database=db)):
            client.command(statement)
        client.insert(f"{db}.schema_migrations", [[version, name]], column_names=["version", "name"])
        done.append(name)
    return done
