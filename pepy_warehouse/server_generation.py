"""The serving generation on a ClickHouse server: what the API reads there, fixed at each publish.

On a server the pipeline commits a day straight into the live rollups, and a backfill publishes
only at its end. Read live, the API would show committed but unpublished days, its in-memory
totals would stop matching its daily series, and one ETag would stand for two bodies. So a
publish copies every served table into a database of its own, ``<database>_<generation>``, by
``ATTACH PARTITION ... FROM``: hard links to the live table's parts, no data copied. It runs
under the publish and commit mutexes, so no commit lands in between (merges may, and change
nothing a reader sums). The copy's tables do not merge in the background (a merge of a summing
table lowers its row count, and the count is what a reader checks). ``publish_log`` names the copy and its row counts;
the API reads the newest published copy whose counts match (``pepy_api.store.reader``).
"""

from __future__ import annotations

import json
import re

from pepy_warehouse.generation import GRACE_SECONDS, SERVED_TABLES, GenerationError, validate_attached
from pepy_warehouse.identifiers import identifier
from pepy_warehouse.publish_log import logged_copies


def copy_name(database: str, generation: str) -> str:
    return identifier(f"{database}_{generation}")


def _is_copy(database: str, name: str) -> bool:
    return re.fullmatch(rf"{re.escape(database)}_g\d{{8}}T\d{{6}}_[0-9a-f]{{6}}", name) is not None


def copy_generation(client, database: str, generation: str) -> tuple[str, dict[str, int]]:
    """Copy the served tables of ``database`` into a new database; returns its name and each
    table's rows. The caller holds the publish and commit mutexes."""
    db, copy = identifier(database), copy_name(database, generation)
    client.command(f"CREATE DATABASE {copy}")
    rows = {}
    for table in SERVED_TABLES:
        client.command(f"CREATE TABLE {copy}.{table} AS {db}.{table}")
        # No background merges: the reader checks the rows counted here. A zero merge size stops
        # the merge selector before it looks at anything, the forced merge by age included (an
        # explicit OPTIMIZE ... FINAL still merges). Settings survive a server restart;
        # table_readonly would refuse the ATTACH below.
        client.command(f"ALTER TABLE {copy}.{table} MODIFY SETTING max_bytes_to_merge_at_max_space_in_pool = 0, "
                       "min_age_to_force_merge_seconds = 0")
        # One partition at a time (ATTACH PARTITION ALL FROM is newer than some servers).
        for partition in _partitions(client, db, table):
            client.command(f"ALTER TABLE {copy}.{table} ATTACH PARTITION ID '{partition}' FROM {db}.{table}")
        rows[table] = _count(client, f"{copy}.{table}")  # the copy's: the live table may merge meanwhile
    return copy, rows


def manifest_of(generation: str, rows_json: str) -> dict:
    """The manifest a reader validates a copy against, from what ``publish_log`` recorded."""
    try:
        rows = json.loads(rows_json)
    except ValueError:
        rows = None
    if not isinstance(rows, dict):
        raise GenerationError(f"generation {generation}: unreadable row counts in publish_log")
    return {"generation": generation, "tables": {table: {"rows": n} for table, n in rows.items()}}


def validate_copy(client, copy: str, manifest: dict) -> None:
    """Raise :class:`GenerationError` unless every served table of ``copy`` exists with the rows
    ``manifest`` records: an embedded generation's check (``validate_attached``), after naming any
    table the copy lacks (a count of it would fail with the engine's own error)."""
    copy = identifier(copy)
    present = {row[0] for row in client.query("SELECT name FROM system.tables WHERE database = {db:String}",
                                              parameters={"db": copy}).result_rows}
    missing = [table for table in SERVED_TABLES if table not in present or table not in manifest["tables"]]
    if missing:
        raise GenerationError(f"generation {manifest['generation']} ({copy}) does not match what was published: "
                              f"missing {', '.join(missing)}")
    validate_attached(client, manifest, copy)


def drop_old_copies(client, database: str, grace_seconds: float = GRACE_SECONDS) -> list[str]:
    """Drop the copies readers should no longer be on: all but the newest, once superseded more
    than ``grace_seconds`` ago (an API switches within seconds and finishes its requests on the old
    copy within 30 s). It runs at a publish, so the copy just superseded stays until the next one,
    with the parts it links that the live tables have merged away since (the disk a copy costs).
    A copy no publish names is a killed publish's leftover: publishes run one at a time, so it is
    dropped at once. The caller holds the publish mutex."""
    db = identifier(database)
    logged, now = logged_copies(client, db)
    newest = logged[-1][0] if logged else None
    superseded = {name: logged[i + 1][1] for i, (name, _) in enumerate(logged[:-1])}
    dropped = []
    for (name,) in client.query("SELECT name FROM system.databases").result_rows:
        if not _is_copy(db, name) or name == newest:
            continue
        if name in superseded and now - superseded[name] < grace_seconds:
            continue
        client.command(f"DROP DATABASE IF EXISTS {identifier(name)} SYNC")
        dropped.append(name)
    return dropped


def _partitions(client, db: str, table: str) -> list[str]:
    ids = [row[0] for row in client.query(
        "SELECT DISTINCT partition_id FROM system.parts WHERE database = {db:String} AND table = {t:String} AND active",
        parameters={"db": db, "t": table}).result_rows]
    bad = [p for p in ids if not re.fullmatch(r"[0-9A-Za-z_-]+", p)]
    if bad:
        raise GenerationError(f"{db}.{table}: unexpected partition ids {bad}")
    return sorted(ids)


def _count(client, table: str) -> int:
    return int(client.query(f"SELECT count() FROM {table}").result_rows[0][0])
