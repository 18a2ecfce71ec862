"""Makes loaded days visible to readers: rebuilds project totals, and in embedded mode publishes
a frozen *generation* of the serving tables that the API process attaches read-only.

A generation is ``ALTER TABLE ... FREEZE WITH NAME`` of every serving table (hard links to
immutable parts under ``<warehouse>/shadow/<generation>/``), a JSON manifest describing the
tables, and a ``CURRENT`` pointer file replaced atomically. The writer may keep inserting and
merging; a frozen generation never changes. See docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pepy_pipeline.warehouse.sql_files import identifier, render
from pepy_pipeline.warehouse.staging import drop_stale, staging_table

#: Daily rollup (write side) -> its month-partitioned serving copy (read side).
SERVING_COPIES = {
    "project_daily": "serving_project_daily",
    "project_version_daily": "serving_project_version_daily",
    "project_dimension_daily": "serving_project_dimension_daily",
}
SERVING_TABLES = (*SERVING_COPIES.values(), "project_totals")
POINTER_NAME = "CURRENT"
MANIFEST_DIR = "serving"
#: A staging table this old is a killed run's leftover, not a rebuild still in progress.
STALE_STAGING_SECONDS = 3600
#: Generations older than this, other than the current and previous one, are removed.
GRACE_SECONDS = 600


def last_loaded_day(client, database: str) -> dt.date | None:
    """The newest day with a committed load: the 'last complete day' readers are told about."""
    db = identifier(database)
    rows = client.query(f"SELECT max(date), count() FROM {db}.load_log FINAL").result_rows
    return rows[0][0] if rows and rows[0][1] else None


def stale_serving_months(client, database: str) -> list[int]:
    db = identifier(database)
    return [int(row[0]) for row in client.query(render("stale_serving_months.sql", database=db)).result_rows]


def rebuild_serving_months(client, database: str) -> list[int]:
    """Rebuild the month partitions of the serving tables whose days changed; return them.

    Each month is copied from the daily rollups into a staging table, merged to one part, then
    swapped in with REPLACE PARTITION (atomic per table and month).
    """
    db = identifier(database)
    months = stale_serving_months(client, db)
    for month in months:
        started = dt.datetime.now(dt.timezone.utc)
        key = f"{month:06d}"
        # Leftovers of a killed rebuild of this month; old enough not to be a concurrent run's.
        drop_stale(client, db, key, min_age_seconds=STALE_STAGING_SECONDS)
        for rollup, serving in SERVING_COPIES.items():
            with staging_table(client, db, serving, key) as staging:
                client.command(
                    f"INSERT INTO {staging} SELECT * FROM {db}.{rollup} WHERE toYYYYMM(date) = {{m:UInt32}}",
                    parameters={"m": month},
                )
                client.command(f"OPTIMIZE TABLE {staging} FINAL")
                client.command(f"ALTER TABLE {db}.{serving} REPLACE PARTITION ID '{key}' FROM {staging}")
        client.insert(f"{db}.serving_log", [[month, started]], column_names=["month", "built_at"])
    return months


def rebuild_totals(client, database: str) -> dt.date | None:
    """Recompute ``project_totals`` as of the last loaded day and swap it in atomically."""
    db = identifier(database)
    as_of = last_loaded_day(client, db)
    if as_of is None:
        return None
    drop_stale(client, db, "totals", min_age_seconds=STALE_STAGING_SECONDS)
    with staging_table(client, db, "project_totals", "totals") as fresh:
        client.command(
            render("rebuild_totals.sql", target=fresh, source=f"{db}.serving_project_daily"),
            parameters={"as_of": as_of},
        )
        client.command(f"EXCHANGE TABLES {db}.project_totals AND {fresh}")
    return as_of


@dataclass(frozen=True)
class Generation:
    name: str
    manifest_path: Path
    last_complete_day: dt.date | None


def publish_generation(client, database: str, warehouse_dir: Path) -> Generation:
    """Freeze the serving tables and point ``CURRENT`` at them."""
    db = identifier(database)
    name = f"g{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{uuid.uuid4().hex[:6]}"
    tables = {}
    for table in SERVING_TABLES:
        client.command(f"ALTER TABLE {db}.{table} FREEZE WITH NAME '{name}'")
        table_uuid, engine_full = client.query(
            "SELECT toString(uuid), engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": db, "t": table},
        ).result_rows[0]
        columns = client.query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position",
            parameters={"db": db, "t": table},
        ).result_rows
        tables[table] = {"uuid": table_uuid, "engine": engine_full, "columns": [list(c) for c in columns]}
    last_day = last_loaded_day(client, db)
    manifest = {
        "generation": name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "last_complete_day": last_day.isoformat() if last_day else None,
        "shadow_path": str(warehouse_dir / "shadow" / name) + "/",
        "tables": tables,
    }
    directory = warehouse_dir / MANIFEST_DIR
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / f"{name}.json"
    _write_atomically(manifest_path, json.dumps(manifest, indent=2))
    _write_atomically(directory / POINTER_NAME, name)
    remove_old_generations(warehouse_dir)
    return Generation(name, manifest_path, last_day)


def current_generation(warehouse_dir: Path) -> dict | None:
    """The manifest ``CURRENT`` points at, or None before the first publish."""
    pointer = warehouse_dir / MANIFEST_DIR / POINTER_NAME
    try:
        name = pointer.read_text().strip()
        return json.loads((warehouse_dir / MANIFEST_DIR / f"{name}.json").read_text())
    except FileNotFoundError:
        return None


def remove_old_generations(warehouse_dir: Path, grace_seconds: float = GRACE_SECONDS) -> list[str]:
    """Delete generations that are neither current nor previous and older than the grace period.

    Deleting ``shadow/<generation>`` is safe for the live tables: frozen parts are hard links.
    """
    directory = warehouse_dir / MANIFEST_DIR
    manifests = sorted(directory.glob("g*.json"), key=lambda p: p.stat().st_mtime)
    keep = {p.stem for p in manifests[-2:]}
    pointer = directory / POINTER_NAME
    if pointer.exists():
        keep.add(pointer.read_text().strip())
    removed = []
    now = time.time()
    for path in manifests:
        if path.stem in keep or now - path.stat().st_mtime < grace_seconds:
            continue
        shutil.rmtree(warehouse_dir / "shadow" / path.stem, ignore_errors=True)
        path.unlink(missing_ok=True)
        removed.append(path.stem)
    return removed


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
