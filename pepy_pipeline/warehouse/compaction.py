"""Merges each closed month of the rollups to one part per table, and each open month to one part
whenever it holds more parts than its table may keep open.

Every commit adds its delta to its month as a part, and only a writer's process merges parts (in
the embedded engine, merges run only while a load or publish holds it open), so a month keeps
however many parts its loads left: 16 of ``project_dimension_daily`` in a real-size month here.
An API read pays for each part it opens (measured at real size: a 180-day dimension question 25-30
ms over the parts as loaded, 13 ms over one part a month; a 30-day question 11.5 ms over 6 parts
of the open month, 7.7 ms over one), and a generation freezes the parts as they are.

So a month closed ``CLOSED_AFTER_DAYS`` days ago is merged to one part per table, and a month not
closed yet (the current one and, in a month's first days, the one before) whenever it holds more
parts with rows than its table may keep open (``open_month_max_parts``; ``OPTIMIZE ... FINAL``: the
sums fold, the answers do not change). Each is a rewrite of the month as it stands: a closed month
once more (and again if a day of it is reloaded), an open one whenever it passes its limit.
Measured at real size over a full month: ~11 s for ``project_daily``, ~140 s for
``project_version_daily``, 63-81 s for ``project_version_days`` and 9-10 minutes for
``project_dimension_daily``. So every table but the dimensions keeps its open month in one part
(rewritten after every run that committed to it), and the dimensions are rewritten past 4 parts
(every 2-4 daily runs: a run commits yesterday, and reloads the day before when upstream changed
it); near a month's end a publish may be followed by ~15 minutes of merging (dimensions included).
It runs after the publish (a day's data is never held back by it) and the publish is repeated when
it compacted something (~3 s), within ``BUDGET_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from clickhouse_connect.driver.exceptions import DatabaseError

from pepy_pipeline.warehouse.commit import ROLLUP_KEYS, VERSION_DAYS
from pepy_pipeline.warehouse.month_grain import MONTH_GRAIN
from pepy_warehouse.identifiers import identifier

#: The month-partitioned tables the API reads and this module compacts.
COMPACTED_TABLES = (*ROLLUP_KEYS, *MONTH_GRAIN, VERSION_DAYS)
#: A month is closed once more than this many days of the next month are committed. At least the
#: daily schedule's look-back for late rows (``reload_policy.LOOKBACK_DAYS``, tested), so no scheduled
#: reload for late rows lands in a month after it was compacted (its catch-up of an older failed
#: day may: the month is then compacted again).
CLOSED_AFTER_DAYS = 7
#: No partition is started after this long (the rest waits for the next publish), and a month whose
#: background merges outlast it is left for the next publish: a first run over a long history, or
#: a slow moment, never holds a day's run for hours.
BUDGET_SECONDS = 30 * 60
#: Parts with rows an open month of these tables may keep before it is merged to one: a rewrite of
#: ``project_dimension_daily``'s month to date costs up to 10 minutes at real size, so it waits
#: for a few parts.
OPEN_MONTH_MAX_PARTS = {"project_dimension_daily": 4}
#: ... and of every other compacted table: one. Their month to date rewrites in 3-51 s each at real
#: size in mid-December (87 s for the five after a one-day run), ~6 minutes for the five near a
#: month's end (the full-month figures above). At real size a question over an open month in 2 parts
#: cost 0.3-0.9 ms more at the median than over one, in 3-5 parts 0.6-1.5 ms more (interleaved,
#: same rows: benchmarks/bench_open_month_parts.py).
OPEN_MONTH_DEFAULT_MAX_PARTS = 1


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


def first_open_month(client, database: str) -> str | None:
    """The partition id of the first month not closed yet; None before the first commit."""
    db = identifier(database)
    newest = client.query(f"SELECT max(date) FROM {db}.load_log FINAL WHERE state = 'committed'").result_rows
    if not newest or newest[0][0] is None or newest[0][0] == dt.date(1970, 1, 1):
        return None
    return closed_before(newest[0][0])


def open_month_max_parts(table: str) -> int:
    return OPEN_MONTH_MAX_PARTS.get(table, OPEN_MONTH_DEFAULT_MAX_PARTS)


def parts_allowed(table: str, month: str, open_from: str | None) -> int:
    """Parts with rows a month of ``table`` may keep: one once closed, its table's limit while open."""
    return 1 if open_from is not None and month < open_from else open_month_max_parts(table)


def partitions_to_compact(client, database: str, open_from: str | None = None) -> list[tuple[str, str, int]]:
    """(table, month, parts) of every month held in more parts with rows than it may keep (a delta
    that cancelled out attaches an empty part; it costs reads nothing). ``open_from`` is
    ``first_open_month``'s answer, asked for when not given."""
    open_from = open_from or first_open_month(client, database)
    if open_from is None:
        return []
    return [(table, month, int(parts)) for table, month, parts in client.query(
        "SELECT table, partition_id, countIf(rows > 0) AS parts FROM system.parts "
        "WHERE database = {db:String} AND active AND table IN {tables:Array(String)} "
        "GROUP BY table, partition_id HAVING parts > 1 ORDER BY partition_id, table",
        parameters={"db": database, "tables": list(COMPACTED_TABLES)},
    ).result_rows if parts > parts_allowed(table, month, open_from)]


def compact_months(client, database: str, budget_seconds: float = BUDGET_SECONDS) -> list[Compacted]:
    """Merge to one part per table every closed month held in several parts with rows, and every
    open month held in more than its table may keep (``open_month_max_parts``), within the budget.
    A month that cannot be merged now is reported with its error and left as it is: compaction only
    makes reads faster, so it never stops the publish that follows it."""
    db = identifier(database)
    deadline = time.monotonic() + budget_seconds
    done = []
    open_from = first_open_month(client, database)
    for table, month, parts in partitions_to_compact(client, database, open_from):
        if time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        error = None
        try:
            if not (len(month) == 6 and month.isdigit()):  # read from system.parts: a month partition
                raise ValueError(f"unexpected partition id {month!r}")
            wait_for_merges(client, database, table, month, deadline)
            if parts_with_rows(client, database, table, month) <= parts_allowed(table, month, open_from):
                continue  # the engine's own merges finished the job meanwhile
            # Throw rather than return quietly when it merged nothing.
            client.command(f"OPTIMIZE TABLE {db}.{identifier(table)} PARTITION ID '{month}' FINAL",
                           settings={"optimize_throw_if_noop": 1})
        except (DatabaseError, TimeoutError, ValueError) as failure:
            error = (str(failure).strip().splitlines() or [type(failure).__name__])[0][:300]
        done.append(Compacted(table, month, parts, time.perf_counter() - started, error))
    return done


def parts_with_rows(client, database: str, table: str, month: str) -> int:
    return int(client.query(
        "SELECT countIf(rows > 0) FROM system.parts WHERE database = {db:String} AND table = {table:String} "
        "AND partition_id = {month:String} AND active",
        parameters={"db": database, "table": table, "month": month}).result_rows[0][0])


def wait_for_merges(client, database: str, table: str, month: str, deadline: float,
                    poll_seconds: float = 1.0) -> None:
    """Wait while the engine's background merges work on the partition (until ``deadline``, a
    ``time.monotonic()`` value). An OPTIMIZE waits only ``lock_acquire_timeout`` (120 s) for parts
    a merge holds, then does nothing, which at real size is what it did: a writer's engine starts
    merging a month's parts as soon as it opens them."""
    while client.query(
            "SELECT count() FROM system.merges WHERE database = {db:String} AND table = {table:String} "
            "AND partition_id = {month:String}",
            parameters={"db": database, "table": table, "month": month}).result_rows[0][0]:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the engine was still merging {table} {month}; tried again at the next publish")
        time.sleep(poll_seconds)
