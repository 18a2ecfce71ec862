"""Compacts each closed month of the rollups to one part per table, once.

Every commit adds a delta part to its month, and only a writer's process merges parts (in the
embedded engine, merges run only while a load or publish holds it open), so a month ends with
however many parts its loads left: 16 in a real-size month of ``project_dimension_daily`` here.
An API read pays for each part it opens (measured at real size: a 180-day dimension question 25-30
ms over the parts as loaded, 13 ms over one part a month), and a generation freezes the parts as
they are. So a month that ended ``CLOSED_AFTER_DAYS`` before the newest committed day is merged to
one part per table (``OPTIMIZE ... FINAL``: the sums fold, the answers do not change).

Its cost is each month once (a reload of one of its days adds a part, and the month is compacted
again at the next publish), never the history; it runs before a publish, not inside it, so a
publish's own time stays bounded by the day that changed. The grace period lets late reloads of a
month's last days land before the month is rewritten.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from clickhouse_connect.driver.exceptions import DatabaseError

from pepy_pipeline.warehouse.commit import ROLLUP_KEYS, VERSION_DAYS
from pepy_warehouse.identifiers import identifier

#: The month-partitioned tables the API reads, compacted once their month is closed.
COMPACTED_TABLES = (*ROLLUP_KEYS, VERSION_DAYS)
#: A month is closed once more than this many days of the next month are committed.
CLOSED_AFTER_DAYS = 3


@dataclass(frozen=True)
class Compacted:
    table: str
    month: str  # partition id, YYYYMM
    parts_before: int
    seconds: float
    error: str | None = None  # not compacted this time (tried again at the next publish)


def closed_before(newest_day: dt.date) -> str:
    """The partition id of the first month NOT closed when ``newest_day`` is the newest committed day."""
    open_from = newest_day - dt.timedelta(days=CLOSED_AFTER_DAYS)
    return f"{open_from:%Y%m}"


def partitions_to_compact(client, database: str) -> list[tuple[str, str, int]]:
    """(table, month, parts) of every closed month still held in more than one part."""
    db = identifier(database)
    newest = client.query(f"SELECT max(date) FROM {db}.load_log FINAL WHERE state = 'committed'").result_rows
    if not newest or newest[0][0] is None or newest[0][0] == dt.date(1970, 1, 1):
        return []
    return [(table, month, int(parts)) for table, month, parts in client.query(
        "SELECT table, partition_id, count() AS parts FROM system.parts "
        "WHERE database = {db:String} AND active AND table IN {tables:Array(String)} "
        "AND partition_id < {open:String} GROUP BY table, partition_id HAVING parts > 1 "
        "ORDER BY partition_id, table",
        parameters={"db": database, "tables": list(COMPACTED_TABLES), "open": closed_before(newest[0][0])},
    ).result_rows]


def compact_closed_months(client, database: str) -> list[Compacted]:
    """Merge every closed month held in several parts to one part per table. A month that cannot
    be merged now is reported with its error and left as it is: compaction only makes reads
    faster, so it never stops the publish that follows it."""
    db = identifier(database)
    done = []
    for table, month, parts in partitions_to_compact(client, database):
        if not (len(month) == 6 and month.isdigit()):  # read from system.parts: a month partition
            raise ValueError(f"{table}: unexpected partition id {month!r}")
        started = time.perf_counter()
        error = None
        try:
            wait_for_merges(client, database, table, month)
            # Throw rather than return quietly when it merged nothing.
            client.command(f"OPTIMIZE TABLE {db}.{identifier(table)} PARTITION ID '{month}' FINAL",
                           settings={"optimize_throw_if_noop": 1})
        except DatabaseError as failure:
            error = str(failure).strip().splitlines()[0][:300]
        done.append(Compacted(table, month, parts, time.perf_counter() - started, error))
    return done


def wait_for_merges(client, database: str, table: str, month: str, poll_seconds: float = 1.0) -> None:
    """Wait while the engine's background merges work on the partition. An OPTIMIZE waits only
    ``lock_acquire_timeout`` (120 s) for parts a merge holds, then does nothing, which at real size
    is what it did: a writer's engine starts merging a month's parts as soon as it opens them."""
    while client.query(
            "SELECT count() FROM system.merges WHERE database = {db:String} AND table = {table:String} "
            "AND partition_id = {month:String}",
            parameters={"db": database, "table": table, "month": month}).result_rows[0][0]:
        time.sleep(poll_seconds)
