"""Commits a staged, checked day: the step that makes it part of the warehouse.

* Facts: ``REPLACE PARTITION`` of the day (the fact table is partitioned by day).
* Rollups and all-time totals (partitioned by month, summed): a *delta* is staged, the day's new
  rows plus the negation of the rows now committed for that day, and added to the month with
  ``ATTACH PARTITION ... FROM`` (one atomic statement per table). The cost is the day's, whatever
  the month or the history holds, and a re-run never double counts: the delta is computed from
  what is committed at that moment, so committing the same day twice adds it once.
* Month-grain rollups (``project_version_monthly``, ``project_dimension_monthly``): the same
  deltas summed by month, attached to the month like them (``warehouse/month_grain.py``).
* Version days (``project_version_days``, one row of version arrays per project and day): the
  day's rows are built from its staged version rollup and added with a newer ``committed_at``
  (stamped under the commit mutex, so the last commit of a day is the newest row).
* ``load_log`` says ``committing`` before the swap statements and ``committed`` after them; a
  commit killed in between is found by the next writer (``torn_days``) and must be reloaded.
  The reload repairs what deltas cannot: the tables derived from the daily rollups' deltas
  (month grain, all-time totals) missed the killed commit's delta if the daily tables took
  theirs, and the reload's delta is then zero. So a torn day's commit rebuilds them from the
  daily tables after its swap (:func:`repair_derived`), before it says ``committed``.

The whole commit of a day holds the ``commit`` mutex: two writers (threads, or runs on a server)
never compute deltas against the same state. Under it the reload guard is checked again against
what is committed at that moment: a smaller read of a day checked before a fuller one committed
(two loads of one day at once) would otherwise replace the fuller one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass

from clickhouse_connect.driver.exceptions import DatabaseError

from pepy_pipeline.warehouse import measures
from pepy_pipeline.warehouse.loader import FACT_TABLE, ROLLUPS, SPILL_GROUP_BY_BYTES, StagedDay
from pepy_pipeline.warehouse.month_grain import MONTH_GRAIN, by_month_sql, rebuild_month
from pepy_pipeline.warehouse.sql_files import render
from pepy_pipeline.warehouse.staging import STALE_STAGING_SECONDS, drop_stale, staging_table
from pepy_warehouse.identifiers import identifier
from pepy_warehouse.locks import warehouse_mutex

log = logging.getLogger(__name__)

#: Rollup table -> its key columns (besides the measures).
ROLLUP_KEYS = {
    "project_daily": "date, project",
    "project_version_daily": "date, project, version",
    "project_dimension_daily": "date, project, dimension, value",
}
COMMIT_MUTEX = "commit"
#: Per (project, day) version arrays, what pepy's v2 and pro answers read.
VERSION_DAYS = "project_version_days"
#: How a day's delta is written: one statement, blocks bounded by bytes rather than the default
#: 1 M rows, then merged into one part before the attach (``merge_to_one_part``), because only a
#: writer's process merges parts and every read of the current month opens the parts left there.
#: The block size now only bounds memory: at real size the commit was the load's peak, 2,893-3,124
#: MiB with 256 MiB blocks (~6 parts a day in project_dimension_daily), 1,985-2,132 MiB with 64 MiB
#: (more parts, merged in the same time: a new day's commit 43-75 s either way, a reload's 112 s;
#: docs/benchmarks.md, fifth pass).
#: The negation's GROUP BY spills like the rollups.
#: The negation groups a day of a month partition sorted by its key: in order it streams (a day-28
#: reload of project_dimension_daily at real size: 13.4 s against 23.9 s hashing, same run).
COMMIT_INSERT_SETTINGS = {"min_insert_block_size_rows": 64_000_000, "min_insert_block_size_bytes": 64 << 20,
                          "max_insert_block_size": 64_000_000, "max_bytes_before_external_group_by": SPILL_GROUP_BY_BYTES,
                          "optimize_aggregation_in_order": 1}

#: Building version days: rows arrive sorted by (project, date, version), so both GROUP BYs stream
#: in order (measured on a month at real size: ~1 min in order, >3 min hashing and spilling).
VERSION_DAYS_SETTINGS = {"optimize_aggregation_in_order": 1, "max_bytes_before_external_group_by": SPILL_GROUP_BY_BYTES}


class ReloadShrinks(ValueError):
    """The staged day has fewer downloads than the day committed now: a partial read that would
    replace fuller data. ``metadata`` is the evidence, as the volume check reports it."""

    def __init__(self, message: str, metadata: dict) -> None:
        super().__init__(message)
        self.metadata = metadata


class DayBeforeOpeningBalance(ValueError):
    """The day is covered by the opening balance: loading it would count its downloads twice."""


@dataclass(frozen=True)
class Commit:
    day: dt.date
    bytes_on_disk: int
    seconds: float


def commit_day(client, staged: StagedDay, source_name: str, *, reload_fail_below: float, run_id: str = "",
               upstream_fingerprint: str = "") -> Commit:
    """Make ``staged`` the committed content of its day; refused (:class:`ReloadShrinks`) when it
    has fewer than ``reload_fail_below`` of the downloads the day has when the mutex is taken
    (required: a caller that forgot it would silently turn the guard off)."""
    db, day = staged.database, staged.day
    started = time.perf_counter()
    month = f"{day:%Y%m}"
    with warehouse_mutex(client, db, COMMIT_MUTEX):
        refuse_if_covered_by_balance(client, db, day)
        refuse_if_shrinks(client, staged, reload_fail_below)
        torn = day in torn_days(client, db)
        with contextlib.ExitStack() as stack:
            deltas = {name: stack.enter_context(staging_table(client, db, name, f"{day:%Y%m%d}d"))
                      for name in [*ROLLUPS, *MONTH_GRAIN, "project_alltime", VERSION_DAYS]}
            for name, keys in ROLLUP_KEYS.items():
                client.command(
                    f"INSERT INTO {deltas[name]} SELECT * FROM {staged.tables[name]} UNION ALL "
                    f"SELECT {keys}, {measures.NEGATED} FROM {db}.{name} WHERE date = {{day:Date}} GROUP BY {keys}",
                    parameters={"day": day}, settings=COMMIT_INSERT_SETTINGS)
            empty = {name for name in ROLLUP_KEYS if not merge_to_one_part(client, deltas[name])}
            for name, (daily, _) in MONTH_GRAIN.items():
                if daily not in empty:
                    client.command(f"INSERT INTO {deltas[name]} " + by_month_sql(name, deltas[daily]),
                                   settings=COMMIT_INSERT_SETTINGS)
                if daily in empty or not merge_to_one_part(client, deltas[name]):
                    empty.add(name)
            client.command(
                f"INSERT INTO {deltas['project_alltime']} SELECT project, {measures.RESUM} "
                f"FROM {deltas['project_daily']} GROUP BY project")
            client.command(render("rollups/project_version_days.sql", target=deltas[VERSION_DAYS],
                                  source=staged.tables["project_version_daily"]),
                           parameters={"first": day, "last": day}, settings=VERSION_DAYS_SETTINGS)
            # A reload without a project it had before: an empty row supersedes the old one.
            client.command(
                f"INSERT INTO {deltas[VERSION_DAYS]} SELECT project, {{day:Date}}, [], [], [], now64(3) "
                f"FROM {db}.{VERSION_DAYS} WHERE date = {{day:Date}} AND project NOT IN "
                f"(SELECT project FROM {staged.tables['project_version_daily']}) GROUP BY project",
                parameters={"day": day})
            # The swap: each statement is atomic; together they take milliseconds.
            _log(client, db, staged, source_name, run_id, upstream_fingerprint, "committing")
            if staged.rows:
                client.command(f"ALTER TABLE {db}.{FACT_TABLE} REPLACE PARTITION ID '{day:%Y%m%d}' "
                               f"FROM {staged.facts}")
            else:  # a day accepted as empty: the engine refuses to replace from nothing, and the
                # day holds no facts (refuse_if_not_empty, above, under the mutex)
                client.command(f"ALTER TABLE {db}.{FACT_TABLE} DROP PARTITION ID '{day:%Y%m%d}'")
            for name in [*ROLLUPS, *MONTH_GRAIN]:
                if name not in empty:  # a reload of unchanged data: nothing to add to the month
                    client.command(f"ALTER TABLE {db}.{name} ATTACH PARTITION ID '{month}' FROM {deltas[name]}")
            client.command(f"ALTER TABLE {db}.project_alltime ATTACH PARTITION tuple() FROM {deltas['project_alltime']}")
            client.command(f"ALTER TABLE {db}.{VERSION_DAYS} ATTACH PARTITION ID '{month}' FROM {deltas[VERSION_DAYS]}")
            if torn:
                repair_derived(client, db, day)
            _log(client, db, staged, source_name, run_id, upstream_fingerprint, "committed")
    size = client.query(
        "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = {db:String} "
        "AND table = {table:String} AND partition_id = {p:String} AND active",
        parameters={"db": db, "table": FACT_TABLE, "p": f"{day:%Y%m%d}"},
    ).result_rows[0][0]
    return Commit(day=day, bytes_on_disk=int(size or 0), seconds=time.perf_counter() - started)


def repair_derived(client, db: str, day: dt.date) -> None:
    """Rebuild what is kept from the daily rollups' deltas, for a day whose previous commit was
    killed between its swap statements: the day's month of the month-grain tables, and the
    all-time totals, each built in staging and swapped in whole. Costs a month and a pass over
    ``project_daily`` (84.7 s at real size, docs/benchmarks.md eighth pass), paid only by a torn
    day's reload (rare: a writer killed mid-swap)."""
    log.warning("%s: the previous commit was torn; rebuilding its month grain and the all-time totals", day)
    for table in MONTH_GRAIN:
        rebuild_month(client, db, table, day.replace(day=1))
    rebuild_alltime(client, db)


def rebuild_alltime(client, db: str) -> None:
    """``project_alltime`` re-summed from ``project_daily`` and swapped in whole: what the commits'
    deltas keep it equal to (a torn day's repair; the benchmark's derived days, which bypass
    commits)."""
    # A rebuild killed before: its staging table (a server has no other sweep for this key).
    drop_stale(client, db, "alltime", min_age_seconds=STALE_STAGING_SECONDS)
    with staging_table(client, db, "project_alltime", "alltime") as staged:
        client.command(f"INSERT INTO {staged} SELECT project, {measures.RESUM} FROM {db}.project_daily "
                       "GROUP BY project", settings={"max_bytes_before_external_group_by": SPILL_GROUP_BY_BYTES})
        client.command(f"ALTER TABLE {db}.project_alltime REPLACE PARTITION tuple() FROM {staged}")


def merge_to_one_part(client, table: str) -> int:
    """Merge a staged delta into one part before it is attached, and return its rows. The insert
    writes a big day in several parts (bounded blocks keep its memory down: ~6 parts of
    project_dimension_daily at real size) and every part attached to a month is one more for each
    read of it until a writer's engine merges it, which for the newest day is never before the
    publish that freezes it. The merge folds a reload's negated rows into the new ones too
    (unchanged keys sum to zero and go). Its cost is the day's rows. Only reads gain from it, so
    a merge the engine refuses leaves the parts as they are, and the commit goes on."""
    database, name = table.split(".", 1)
    parts = client.query(
        "SELECT count() FROM system.parts WHERE database = {db:String} AND table = {table:String} AND active",
        parameters={"db": database, "table": name}).result_rows[0][0]
    if parts > 1:
        try:
            client.command(f"OPTIMIZE TABLE {table} FINAL", settings={"optimize_throw_if_noop": 1})
        except DatabaseError as failure:
            log.warning("staged delta %s left in %d parts: %s", table, parts, failure)
    return int(client.query(f"SELECT count() FROM {table}").result_rows[0][0])


def refuse_if_covered_by_balance(client, database: str, day: dt.date) -> None:
    db = identifier(database)
    rows = client.query(f"SELECT max(stops_before), count() FROM {db}.opening_balance").result_rows
    if rows and rows[0][1] and day < rows[0][0]:
        raise DayBeforeOpeningBalance(
            f"{day} is before {rows[0][0]}, where the opening balance stops: its downloads are already "
            "counted in the balance, so loading it would count them twice. Reload the opening balance "
            f"with an earlier stop day first (python -m pepy_pipeline opening-balance --stops-before {day})."
        )


def refuse_if_shrinks(client, staged: StagedDay, reload_fail_below: float) -> None:
    """The volume check's reload guard, against what is committed now (under the mutex). An empty
    day never replaces data, whatever ``reload_fail_below``."""
    committed = int(client.query(
        f"SELECT sum(downloads) FROM {identifier(staged.database)}.project_daily "
        "WHERE project = '__all__' AND date = {day:Date}",
        parameters={"day": staged.day}).result_rows[0][0] or 0)
    if not staged.rows:
        refuse_if_not_empty(client, staged, committed)
    if committed and staged.downloads < reload_fail_below * committed:
        raise ReloadShrinks(
            f"{staged.day}: {staged.downloads} downloads staged, fewer than {reload_fail_below} of the {committed} "
            "committed meanwhile by another load of the day; the committed day stays",
            {"day": staged.day.isoformat(), "downloads": staged.downloads, "committed_downloads": committed,
             "ratio_to_committed": round(staged.downloads / committed, 4), "reload_fail_below": reload_fail_below,
             "verdict": "refused at commit: a reload with fewer downloads than the day has (a fuller load "
                        "committed while this one was checked); the loaded day stays"})


def refuse_if_not_empty(client, staged: StagedDay, committed_downloads: int) -> None:
    """An empty day is committed by dropping the day's facts (the engine refuses to replace a
    partition from nothing): only where the day holds none, neither downloads in its rollups nor
    facts a torn commit left without them."""
    facts = int(client.query(f"SELECT count() FROM {identifier(staged.database)}.{FACT_TABLE} "
                             "WHERE date = {day:Date}",
                             parameters={"day": staged.day}).result_rows[0][0])
    if committed_downloads or facts:
        raise ReloadShrinks(
            f"{staged.day}: an empty read never replaces a day that holds data ({committed_downloads} downloads, "
            f"{facts} fact rows committed); the committed day stays",
            {"day": staged.day.isoformat(), "downloads": 0, "committed_downloads": committed_downloads,
             "committed_fact_rows": facts, "verdict": "refused at commit: an empty read never replaces a day "
                                                      "that holds data; the committed day stays"})


def torn_days(client, database: str) -> list[dt.date]:
    """Days whose last commit was killed between its swap statements: reload them."""
    db = identifier(database)
    return [row[0] for row in client.query(
        f"SELECT date FROM {db}.load_log FINAL WHERE state = 'committing' ORDER BY date").result_rows]


def _log(client, db: str, staged: StagedDay, source: str, run_id: str, fingerprint: str, state: str) -> None:
    # Timestamps come from the server: two writers' clocks never decide which load is newest.
    client.command(
        f"INSERT INTO {db}.load_log (date, source, source_rows, source_downloads, run_id, loaded_at, state, "
        "upstream_fingerprint) SELECT {day:Date}, {source:String}, {rows:UInt64}, {downloads:UInt64}, "
        "{run_id:String}, now64(3) + toIntervalMillisecond({later:UInt8}), {state:String}, {fp:String}",
        parameters={"day": staged.day, "source": source, "rows": staged.rows, "downloads": staged.downloads,
                    "run_id": run_id, "state": state, "fp": fingerprint,
                    # 'committed' must sort after 'committing' even within one millisecond.
                    "later": 1 if state == "committed" else 0},
    )
