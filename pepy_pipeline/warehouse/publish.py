"""Makes committed days visible to readers: recent sums, the complete-day range, and a generation
the API reads: in embedded mode a frozen one for the API process, on a server a copy of the served
tables on the server (``pepy_warehouse.server_generation``).

Its cost is bounded by a month of per-project rows (the recent sums), never the history: the
rollups and all-time sums were already brought up to date, day by day, when each day committed.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from pepy_pipeline.warehouse.commit import COMMIT_MUTEX, torn_days
from pepy_pipeline.warehouse.staging import STALE_STAGING_SECONDS, drop_stale, staging_table
from pepy_warehouse.generation import freeze_generation, new_generation_name
from pepy_warehouse.identifiers import identifier
from pepy_warehouse.locks import warehouse_mutex
from pepy_warehouse.publish_log import record_publish
from pepy_warehouse.server_generation import copy_generation, drop_old_copies

PUBLISH_MUTEX = "publish"


class PublishRefused(RuntimeError):
    """Publishing now would show readers an inconsistent warehouse."""


@dataclass(frozen=True)
class Published:
    first_complete_day: dt.date | None
    last_complete_day: dt.date | None
    projects: int
    generation: str | None
    seconds: float
    #: On a server: the database holding this publish's copy of the served tables, the older
    #: copies this publish dropped, and why it could not drop them (the next publish tries again).
    serving_database: str | None = None
    copies_dropped: tuple[str, ...] = ()
    copies_not_dropped: str | None = None
    #: Days missing from the recent sums' window: their last week and month are short.
    recent_holes: tuple[dt.date, ...] = ()


#: The days the recent sums add up (``last_month``; ``project_recent``).
RECENT_DAYS = 30


def committed_days(client, database: str) -> list[dt.date]:
    """Every committed day, newest first."""
    db = identifier(database)
    return [row[0] for row in client.query(
        f"SELECT date FROM {db}.load_log FINAL WHERE state = 'committed' ORDER BY date DESC").result_rows]


def complete_days(days: list[dt.date]) -> tuple[dt.date | None, dt.date | None]:
    """(first, last) of the newest unbroken run of ``days`` (newest first): the daily history
    readers may trust to have no hole (days before a gap are still served, but not called complete)."""
    if not days:
        return None, None
    first = days[0]
    for day in days[1:]:
        if day != first - dt.timedelta(days=1):
            break
        first = day
    return first, days[0]


def recent_holes(days: list[dt.date], history_start: dt.date | None = None) -> tuple[dt.date, ...]:
    """Days missing from the ``RECENT_DAYS`` the recent sums cover (``days``: the committed ones,
    newest first), from where history starts: the first committed day, or the day an opening
    balance stops before when that is earlier (the days between are counted nowhere). Each makes
    every project's last week or month short."""
    if not days:
        return ()
    start = max(days[0] - dt.timedelta(days=RECENT_DAYS - 1), min(days[-1], history_start or days[-1]))
    have = set(days)
    return tuple(start + dt.timedelta(days=k) for k in range((days[0] - start).days)
                 if start + dt.timedelta(days=k) not in have)


def balance_stops_before(client, database: str) -> dt.date | None:
    rows = client.query(f"SELECT min(stops_before), count() FROM {identifier(database)}.opening_balance").result_rows
    return rows[0][0] if rows and rows[0][1] else None


def publish(client, database: str, warehouse_dir: Path | None) -> Published:
    """Bring the recent sums to the last complete day and, with ``warehouse_dir`` (embedded),
    freeze a new generation. Refuses while a day's commit is torn.

    Holds the commit mutex too (after the publish mutex, the one order every writer takes them
    in): a commit running meanwhile would otherwise land between the recent sums and the FREEZE,
    or between its own swap statements and the FREEZE, and the generation would pair one day's
    new rollups with its previous version days."""
    db = identifier(database)
    started = time.perf_counter()
    with warehouse_mutex(client, db, PUBLISH_MUTEX), warehouse_mutex(client, db, COMMIT_MUTEX):
        torn = torn_days(client, db)
        if torn:
            raise PublishRefused("these days' commits were interrupted half-way; reload them before publishing: "
                                 + ", ".join(d.isoformat() for d in torn))
        days = committed_days(client, db)
        first, last = complete_days(days)
        first_loaded = days[-1] if days else None  # days before a gap count as before ``first``
        holes = recent_holes(days, balance_stops_before(client, db))
        if last is not None:
            _rebuild_recent(client, db, last)
        projects = int(client.query(f"SELECT uniqExact(project) FROM {db}.project_recent").result_rows[0][0])
        serving_database, rows = None, {}
        if warehouse_dir is not None:
            generation = freeze_generation(client, db, warehouse_dir, {
                "first_complete_day": first.isoformat() if first else None,
                "last_complete_day": last.isoformat() if last else None,
                "first_loaded_day": first_loaded.isoformat() if first_loaded else None,
            }).name
        else:
            generation = new_generation_name()
            serving_database, rows = copy_generation(client, db, generation)
        seconds = time.perf_counter() - started
        record_publish(client, db, first=first, last=last, first_loaded=first_loaded, generation=generation,
                       seconds=seconds, serving_database=serving_database, rows=rows)
        dropped, not_dropped = (), None
        if serving_database is not None:
            try:
                dropped = tuple(drop_old_copies(client, db))
            except Exception as error:  # noqa: BLE001 - the publish stands; the next one drops them
                not_dropped = f"{type(error).__name__}: {error}"
    return Published(first, last, projects, generation, seconds, serving_database, dropped, not_dropped, holes)


def _rebuild_recent(client, db: str, as_of: dt.date) -> None:
    drop_stale(client, db, "recent", min_age_seconds=STALE_STAGING_SECONDS)
    with staging_table(client, db, "project_recent", "recent") as fresh:
        client.command(
            f"""INSERT INTO {fresh}
                SELECT project,
                       sumIf(downloads, date = {{as_of:Date}}),
                       sumIf(downloads, date > {{as_of:Date}} - 7),
                       sum(downloads),
                       sumIf(pypistats_without_mirrors, date = {{as_of:Date}}),
                       sumIf(pypistats_without_mirrors, date > {{as_of:Date}} - 7),
                       sum(pypistats_without_mirrors),
                       {{as_of:Date}}
                FROM {db}.project_daily
                WHERE date > {{as_of:Date}} - {RECENT_DAYS} AND date <= {{as_of:Date}}
                GROUP BY project""",
            parameters={"as_of": as_of})
        client.command(f"EXCHANGE TABLES {db}.project_recent AND {fresh}")
