"""Stages one day from a source: facts streamed into staging tables, verified against what the
source reported, and its rollups computed from the same staged rows.

Staging changes nothing readers see. The day's blocking checks then run on the staged tables
(``day_checks``) and only a day that passes is committed (``commit``); a failure anywhere
before the commit leaves the previous data of the day untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from pepy_pipeline.sources.base import DownloadSource
from pepy_pipeline.sources.schema import SourceSchemaError, conform_batch
from pepy_pipeline.warehouse.prefetch import prefetch
from pepy_pipeline.warehouse.rollup_dimensions import DERIVED_DIMENSIONS, FACT_DIMENSIONS
from pepy_pipeline.warehouse import measures
from pepy_pipeline.warehouse.sql_files import render
from pepy_warehouse.identifiers import identifier
from pepy_pipeline.warehouse.staging import STALE_STAGING_SECONDS, drop_stale, staging_table

FACT_TABLE = "downloads_daily"
#: Rollup table -> extra key columns for its '__all__' rows (None: no '__all__' rows).
ROLLUPS: dict[str, str | None] = {
    "project_daily": "",
    "project_version_daily": None,
    "project_dimension_daily": "dimension, value,",
}
#: GROUP BYs over a large day (or a month, in a commit) spill to disk past this many bytes.
SPILL_GROUP_BY_BYTES = 300_000_000
#: Bounds a rollup's memory on very large days: its GROUP BY spills, and the result is written in
#: smaller blocks (measured on a 10 M-row day: peak -35%; no effect on the time of ordinary days,
#: which never reach the threshold).
ROLLUP_SETTINGS = {"max_bytes_before_external_group_by": SPILL_GROUP_BY_BYTES, "min_insert_block_size_rows": 262_144}


class EmptyDayError(RuntimeError):
    """The source returned no rows for a day: refusing to replace the day with nothing (unless
    the load was told to accept an empty day: upstream really has none, an outage of its log)."""


class LoadVerificationError(RuntimeError):
    """The staged rows do not add up to what the source reported."""


@dataclass
class StagedDay:
    """One day streamed into staging tables and verified against the source, not yet visible."""

    day: dt.date
    database: str
    tables: dict[str, str]
    rows: int
    downloads: int
    batches: int
    seconds_extract_and_stage: float
    seconds_rollups: float
    rollup_rows: dict[str, int] = field(default_factory=dict)

    @property
    def facts(self) -> str:
        return self.tables[FACT_TABLE]


@contextlib.contextmanager
def stage_day(client, database: str, source: DownloadSource, day: dt.date,
              insert_clients: Sequence = (), allow_empty: bool = False) -> Iterator[StagedDay]:
    """Stream ``day`` from ``source`` into staging tables, verify it, build its rollups.

    Nothing readers see changes here; the staging tables are dropped when the block ends, so a
    day that fails a check is simply never committed. ``insert_clients``: extra clients of the
    same warehouse to insert batches in parallel. A source with no rows for the day is refused
    (:class:`EmptyDayError`) unless ``allow_empty``.
    """
    db = identifier(database)
    partition = f"{day:%Y%m%d}"
    # Leftovers of a killed load of this day on a server. Not younger ones: another writer (a
    # manual backfill beside the schedule, or a thread) may be staging the same day right now.
    # Embedded, the writer lock already removed every leftover when the warehouse was opened.
    drop_stale(client, db, partition, min_age_seconds=STALE_STAGING_SECONDS)
    with contextlib.ExitStack() as stack:
        tables = {name: stack.enter_context(staging_table(client, db, name, partition))
                  for name in [FACT_TABLE, *ROLLUPS]}
        started = time.perf_counter()
        rows, downloads, batches = _stage_facts([client, *insert_clients], source, day, tables[FACT_TABLE])
        if rows == 0 and not allow_empty:
            raise EmptyDayError(f"source {source.name!r} returned no rows for {day}; the day was left as it was "
                                "(if upstream has lost it for good, load it with --accept-empty, or the run tag "
                                "pepy/accept-empty=true)")
        _verify_staged(client, tables[FACT_TABLE], day, rows, downloads)
        staged_at = time.perf_counter()
        rollup_rows = build_rollups(client, tables[FACT_TABLE], tables, day)
        yield StagedDay(day=day, database=db, tables=tables, rows=rows, downloads=downloads, batches=batches,
                        seconds_extract_and_stage=staged_at - started,
                        seconds_rollups=time.perf_counter() - staged_at, rollup_rows=rollup_rows)


def build_rollups(client, facts: str, targets: dict[str, str], day: dt.date) -> dict[str, int]:
    """Fill each staged rollup table from the staged facts of ``day``; return row counts."""
    counts = {}
    for name, all_keys in ROLLUPS.items():
        target = targets[name]
        if name == "project_dimension_daily":
            _build_dimensions(client, facts, target, day)
        else:
            client.command(render(f"rollups/{name}.sql", target=target, facts=facts, measures=measures.FROM_FACTS,
                                  flags=measures.FLAGS), parameters={"day": day}, settings=ROLLUP_SETTINGS)
        if all_keys is not None:
            client.command(render("rollups/all_projects.sql", target=target, keys=all_keys, resum=measures.RESUM),
                           parameters={"day": day})
        counts[name] = int(client.query(f"SELECT count() FROM {target}").result_rows[0][0])
    return counts


def _build_dimensions(client, facts: str, target: str, day: dt.date) -> None:
    for dimension, value in FACT_DIMENSIONS.items():
        client.command(render("rollups/project_dimension_daily.sql", target=target, facts=facts,
                              dimension=dimension, value=value, measures=measures.FROM_FACTS, flags=measures.FLAGS),
                       parameters={"day": day}, settings=ROLLUP_SETTINGS)
    for dimension, (source, value) in DERIVED_DIMENSIONS.items():
        client.command(render("rollups/derived_dimension.sql", target=target, dimension=dimension,
                              source_dimension=source, value=value, resum=measures.RESUM), parameters={"day": day})


def _conformed(source: DownloadSource, day: dt.date) -> Iterator[tuple[pa.Table, int, int]]:
    """The source's batches, validated, as (table, rows, downloads)."""
    day_value = pa.scalar(day, pa.date32())
    for raw in source.read_day(day):
        batch = conform_batch(raw)
        if batch.num_rows == 0:
            continue
        if not pc.all(pc.equal(batch.column("date"), day_value)).as_py():
            raise SourceSchemaError(f"source {source.name!r} returned rows outside {day} when asked for that day")
        if pc.min(batch.column("downloads")).as_py() < 0:
            raise SourceSchemaError(f"source {source.name!r} returned negative download counts for {day}")
        yield pa.Table.from_batches([batch]), batch.num_rows, pc.sum(batch.column("downloads")).as_py()


def _stage_facts(clients: Sequence, source: DownloadSource, day: dt.date, staging: str) -> tuple[int, int, int]:
    """Insert the day into ``staging``: the source is read ahead in one thread and batches are
    inserted by one thread per client (two inserts at once measured ~1.9x one, on 2 cores)."""
    rows = downloads = batches = 0
    work: queue.Queue = queue.Queue(maxsize=1)
    errors: list[BaseException] = []

    def insert(client) -> None:
        while True:
            table = work.get()
            if table is None:
                return
            if errors:
                continue
            try:
                client.insert_arrow(staging, table)
            except BaseException as error:  # noqa: BLE001 - re-raised by the caller
                errors.append(error)

    workers = [threading.Thread(target=insert, args=(c,), name=f"insert-{i}", daemon=True) for i, c in enumerate(clients)]
    for worker in workers:
        worker.start()
    try:
        for table, batch_rows, batch_downloads in prefetch(_conformed(source, day), depth=1):
            if errors:
                break
            work.put(table)
            rows += batch_rows
            downloads += batch_downloads
            batches += 1
    finally:
        for _ in workers:
            work.put(None)
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return rows, downloads, batches


def _verify_staged(client, staging: str, day: dt.date, rows: int, downloads: int) -> None:
    got_rows, got_downloads, wrong_days = client.query(
        f"SELECT count(), sum(downloads), countIf(date != {{day:Date}}) FROM {staging}",
        parameters={"day": day},
    ).result_rows[0]
    if (got_rows, got_downloads, wrong_days) != (rows, downloads, 0):
        raise LoadVerificationError(
            f"{day}: staged {got_rows} rows / {got_downloads} downloads, the source reported "
            f"{rows} / {downloads}; the day was left as it was"
        )
