"""The opening balance: each project's downloads before the first loaded day, loaded once, so
pepy-compatible totals (``total_downloads``, badges, shields) are all-time as pepy.tech's are.

The balance records ``stops_before``, the first day it does not cover. Days before it can never be
loaded afterwards (``commit.refuse_if_covered_by_balance``), and a balance that would cover a day
already loaded is refused here: either way a download is counted once. A balance stopping before
the first loaded day leaves the days between counted nowhere until they are loaded: allowed (a
history backfilled after recent days), said in the result, and reported by the ``no_gaps`` check.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pepy_pipeline.sources.base import STILL_CHANGING_DAYS, latest_balance_stop
from pepy_pipeline.warehouse.commit import COMMIT_MUTEX
from pepy_pipeline.warehouse.staging import staging_table
from pepy_warehouse.identifiers import identifier
from pepy_warehouse.locks import warehouse_mutex

BALANCE_SCHEMA = pa.schema([
    pa.field("project", pa.string(), nullable=False),
    pa.field("downloads", pa.int64(), nullable=False),
    pa.field("downloads_without_mirrors", pa.int64(), nullable=False),
])


class BalanceOverlapsLoadedDays(ValueError):
    """The balance would cover days already loaded: they would be counted twice."""


class BalanceCoversAnUnfinishedDay(ValueError):
    """The balance would count a day that is not over in UTC or may still receive late rows: what
    it has so far would be counted for good (a day the balance covers can never be loaded)."""


def refuse_unfinished(stops_before: dt.date, today: dt.date | None = None) -> None:
    """Refuse a balance counting one of the last ``STILL_CHANGING_DAYS`` days: only yesterday and
    today were, and the late rows of the days before were lost for good (found by an audit:
    upstream still adds rows to the day before yesterday)."""
    latest = latest_balance_stop(today)
    if stops_before > latest:
        raise BalanceCoversAnUnfinishedDay(
            f"an opening balance stopping before {stops_before} would count {stops_before - dt.timedelta(days=1)}, "
            f"which is not over in UTC or still receiving late rows (the last {STILL_CHANGING_DAYS} days may: "
            f"counted partial for good, never loadable afterwards). Use --stops-before {latest} or earlier, and "
            "load the days from there.")


def load_opening_balance(client, database: str, batches, stops_before: dt.date, source_name: str) -> dict:
    """Replace the opening balance with ``batches`` (Arrow, :data:`BALANCE_SCHEMA`). Refused
    before ``batches`` is read (a billed scan) when it would cover a day not over in UTC."""
    refuse_unfinished(stops_before)
    db = identifier(database)
    with warehouse_mutex(client, db, COMMIT_MUTEX):
        first_loaded = client.query(
            f"SELECT min(date), count() FROM {db}.load_log FINAL WHERE state = 'committed'").result_rows[0]
        if first_loaded[1] and first_loaded[0] < stops_before:
            raise BalanceOverlapsLoadedDays(
                f"an opening balance stopping before {stops_before} would cover {first_loaded[0]}, which is "
                f"already loaded: its downloads would be counted twice. Use --stops-before {first_loaded[0]} "
                "or earlier.")
        projects = downloads = 0
        with staging_table(client, db, "opening_balance", "balance") as fresh:
            for batch in batches:
                table = pa.Table.from_batches([batch]).select(BALANCE_SCHEMA.names).cast(BALANCE_SCHEMA)
                n = table.num_rows
                table = table.append_column("stops_before", pa.array([stops_before] * n, pa.date32()))
                table = table.append_column("source", pa.array([source_name] * n, pa.string()))
                table = table.append_column(
                    "loaded_at", pa.array([dt.datetime.now(dt.timezone.utc)] * n, pa.timestamp("ms", tz="UTC")))
                client.insert_arrow(fresh, table)
                projects += n
                downloads += int(pa.compute.sum(table.column("downloads")).as_py() or 0)
            staged = client.query(f"SELECT count(), sum(downloads) FROM {fresh}").result_rows[0]
            if (int(staged[0]), int(staged[1] or 0)) != (projects, downloads):
                raise RuntimeError(f"opening balance: staged {staged}, source gave {(projects, downloads)}; unchanged")
            client.command(f"EXCHANGE TABLES {db}.opening_balance AND {fresh}")
    result = {"projects": projects, "downloads": downloads, "stops_before": stops_before.isoformat()}
    if first_loaded[1] and first_loaded[0] > stops_before:
        # Allowed (history may be backfilled after recent days), but counted nowhere until loaded.
        result["days_not_covered"] = f"{stops_before} .. {first_loaded[0] - dt.timedelta(days=1)}"
    return result
