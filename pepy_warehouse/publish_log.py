"""The publish log (``publish_log``), one row per publish: written by the pipeline's publish, read
on a server by the API (which copy to serve, and what it holds) and by the publish (which copies
are superseded). One module, so both sides read and write the same columns."""

from __future__ import annotations

import datetime as dt
import json
from typing import NamedTuple

from pepy_warehouse.identifiers import identifier


class LoggedPublish(NamedTuple):
    token: str  # the publish time as text: what a reader's snapshot is named by
    first_complete_day: dt.date | None
    last_complete_day: dt.date | None
    published_at: float  # seconds since the epoch
    generation: str
    serving_database: str  # '' before copies existed (migration 010): the live tables
    serving_rows: str  # the copy's row counts by table, JSON
    first_loaded_day: dt.date | None  # None before migration 011: not known


def record_publish(client, database: str, *, first: dt.date | None, last: dt.date | None,
                   first_loaded: dt.date | None, generation: str, seconds: float,
                   serving_database: str | None, rows: dict[str, int]) -> None:
    client.command(
        f"INSERT INTO {identifier(database)}.publish_log (published_at, first_complete_day, last_complete_day, "
        "generation, seconds, serving_database, serving_rows, first_loaded_day) SELECT now64(3), "
        "{first:Nullable(Date)}, {last:Nullable(Date)}, {generation:String}, {seconds:Float64}, {serving:String}, "
        "{rows:String}, {first_loaded:Nullable(Date)}",
        parameters={"first": first, "last": last, "generation": generation, "seconds": seconds,
                    "serving": serving_database or "", "rows": json.dumps(rows) if rows else "",
                    "first_loaded": first_loaded})


def recent_publishes(client, database: str, limit: int) -> list[LoggedPublish]:
    """The newest ``limit`` publishes, newest first; none before the pipeline created the table.
    Columns added by later migrations read as their "not known" value on an older table (an API
    upgraded before the pipeline)."""
    db = identifier(database)
    columns = {row[0] for row in client.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'publish_log'",
        parameters={"db": db}).result_rows}
    if not columns:
        return []
    copy = "serving_database, serving_rows" if "serving_database" in columns else "'', ''"
    first_loaded = "first_loaded_day" if "first_loaded_day" in columns else "NULL"
    return [LoggedPublish(*row) for row in client.query(
        f"SELECT toString(published_at), first_complete_day, last_complete_day, "
        f"toUnixTimestamp64Milli(published_at) / 1000, generation, {copy}, {first_loaded} "
        f"FROM {db}.publish_log ORDER BY published_at DESC LIMIT {int(limit)}").result_rows]


def logged_copies(client, database: str) -> tuple[list[tuple[str, float]], float]:
    """(every publish's copy with its publish time, oldest first; the server's time now), in
    seconds since the epoch."""
    rows = client.query(
        f"SELECT serving_database, toUnixTimestamp64Milli(published_at) / 1000, "
        f"toUnixTimestamp64Milli(now64(3)) / 1000 FROM {identifier(database)}.publish_log "
        "WHERE serving_database != '' ORDER BY published_at").result_rows
    return [(name, at) for name, at, _ in rows], (rows[-1][2] if rows else 0.0)
