"""Publish cost against the length of history (issue 8: a publish with 13 months of history may
cost at most 1.5x one with 1 month), or against the newest day's place in its month (late / early
month, also <= 1.5x), measured in one run on one engine.

    .venv/bin/python benchmarks/bench_publish_history.py --warehouse /work/bench-data/real [--months 2]
    .venv/bin/python benchmarks/bench_publish_history.py --warehouse /work/bench-data/real --days 2026-11-28,2026-12-01

Builds probe databases in the benchmark warehouse from ``pepy``'s month partitions (``ATTACH
PARTITION ... FROM``: hard links, no copy), its all-time sums and opening balance, and the load log
of what they hold:

* by default ``publish_probe`` with only the newest ``--months`` months, timed against ``pepy``;
* with ``--days`` (two days; ``--months`` ignored) one probe per day holding every month before
  the day's month and, of that month, only the days up to it (inserted, its month-grain rows
  rebuilt from them, then compacted as a load run would leave an open month), the load log up to
  the day: that day is the newest committed, as on the morning it was published.

Publishes each database once untimed (the first publish of a database pays for clearing old
generations and a cold cache), then times publishes in rounds, alternating which goes first, after
waiting for the engine's merges to finish. ``pepy`` is published last, also when a step fails, so
the warehouse's ``CURRENT`` generation is ``pepy``'s again afterwards; the probes are dropped. Do
not run it while an API serves the warehouse: for a few seconds at a time it would serve a probe.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pepy_pipeline.warehouse.commit import COMMIT_INSERT_SETTINGS  # noqa: E402
from pepy_pipeline.warehouse.compaction import compact_months  # noqa: E402
from pepy_pipeline.warehouse.migrations import migrate  # noqa: E402
from pepy_pipeline.warehouse.month_grain import MONTH_GRAIN, rebuild_month  # noqa: E402
from pepy_pipeline.warehouse.publish import publish  # noqa: E402
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse  # noqa: E402

#: Served tables partitioned by month: the probe gets only the newest months of these.
MONTHLY = ("project_daily", "project_version_daily", "project_dimension_daily", "project_version_days",
           "project_version_monthly", "project_dimension_monthly")
#: Unpartitioned served tables, copied whole (their size does not depend on the history's length).
WHOLE = ("project_alltime", "opening_balance")
PROBE = "publish_probe"


def build_probe(client, source: str, months: list[str], probe: str = PROBE, newest: dt.date | None = None) -> None:
    """``probe``: ``source``'s ``months`` (hard links) and whole tables, and the load log of those
    months; with ``newest``, of its month only the days up to it, compacted like an open month."""
    client.command(f"DROP DATABASE IF EXISTS {probe} SYNC")
    migrate(client, probe)
    partial = f"{newest:%Y%m}" if newest else None
    for table in MONTHLY:
        for month in months:
            if month != partial:
                client.command(f"ALTER TABLE {probe}.{table} ATTACH PARTITION {month} FROM {source}.{table}")
            elif table not in MONTH_GRAIN:
                client.command(f"INSERT INTO {probe}.{table} SELECT * FROM {source}.{table} "
                               "WHERE toYYYYMM(date) = {m:UInt32} AND date <= {newest:Date}",
                               parameters={"m": int(partial), "newest": newest}, settings=COMMIT_INSERT_SETTINGS)
    for table in WHOLE:
        client.command(f"INSERT INTO {probe}.{table} SELECT * FROM {source}.{table}")
    client.command(f"INSERT INTO {probe}.load_log SELECT * FROM {source}.load_log "
                   "WHERE toString(toYYYYMM(date)) IN {months:Array(String)} AND date <= {newest:Date}",
                   parameters={"months": months, "newest": newest or dt.date(2999, 12, 31)})
    if newest:
        for table in MONTH_GRAIN:
            rebuild_month(client, probe, table, newest.replace(day=1))
        for done in compact_months(client, probe):
            print(f"  {probe}: compacted {done.table} {done.month} ({done.parts_before} parts) in {done.seconds:.0f} s",
                  flush=True)
            if done.error:
                raise RuntimeError(f"{probe}: {done.table} {done.month} not compacted: {done.error}")
        committed = client.query(f"SELECT max(date) FROM {probe}.load_log FINAL WHERE state = 'committed'").result_rows
        if committed[0][0] != newest:
            raise RuntimeError(f"{probe}: newest committed day {committed[0][0]}, not {newest}")


def wait_for_merges(client, timeout_s: float = 600) -> None:
    """Time each publish on a quiet engine: not while the other database's merges still run."""
    deadline = time.monotonic() + timeout_s
    while client.query("SELECT count() FROM system.merges").result_rows[0][0] and time.monotonic() < deadline:
        time.sleep(0.5)


def history(client, database: str) -> tuple[int, dict[str, int]]:
    days = client.query(f"SELECT uniqExact(date) FROM {database}.load_log FINAL WHERE state = 'committed'").result_rows[0][0]
    parts = dict(client.query(
        "SELECT table, count() FROM system.parts WHERE database = {db:String} AND active AND table IN {t:Array(String)} "
        "GROUP BY table", parameters={"db": database, "t": list(MONTHLY)}).result_rows)
    return days, parts


def timed_publishes(client, warehouse, databases: list[str], rounds: int, home: str) -> dict[str, list[float]]:
    """Each database published once untimed (the first publish of a database pays for clearing old
    generations and a cold cache), then ``rounds`` times each, alternating which goes first, after
    the engine's merges. ``home`` is published last, also when a step fails, so the warehouse's
    ``CURRENT`` generation is its again afterwards."""
    seconds = {database: [] for database in databases}
    last_published = None
    try:
        for database in databases:
            last_published = None
            publish(client, database, warehouse.data_path)
            last_published = database
        for round_ in range(rounds):
            order = databases if round_ % 2 == 0 else databases[::-1]
            for database in order:
                wait_for_merges(client)
                last_published = None
                started = time.perf_counter()
                publish(client, database, warehouse.data_path)
                seconds[database].append(time.perf_counter() - started)
                last_published = database
    finally:
        if last_published != home:
            publish(client, home, warehouse.data_path)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--months", type=int, default=2, help="newest month partitions the short history keeps")
    parser.add_argument("--days", help="two newest days to compare (late,early month), each with all history before")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warehouse = ClickHouseWarehouse(dsn=f"chdb://{args.warehouse / 'warehouse'}", database=args.database)
    with warehouse.connect() as client:
        all_months = [row[0] for row in client.query(
            "SELECT DISTINCT partition FROM system.parts WHERE database = {db:String} AND table = 'project_daily' "
            "AND active ORDER BY partition DESC", parameters={"db": args.database}).result_rows]
        if args.days:
            days = [dt.date.fromisoformat(day) for day in args.days.split(",")]
            if len(days) != 2:
                parser.error("--days takes two days, e.g. 2026-11-28,2026-12-01")
            probes = {f"{PROBE}_{i}": (day, [m for m in all_months if m <= f"{day:%Y%m}"]) for i, day in enumerate(days)}
        else:
            probes = {PROBE: (None, all_months[:args.months])}
        try:
            started = time.perf_counter()
            for probe, (day, months) in probes.items():
                build_probe(client, args.database, months, probe, day)
            built_s = time.perf_counter() - started
            databases = list(probes) if args.days else [PROBE, args.database]
            seconds = timed_publishes(client, warehouse, databases, args.rounds, args.database)
            shapes = {database: history(client, database) for database in seconds}
        finally:
            for probe in probes:
                client.command(f"DROP DATABASE IF EXISTS {probe} SYNC")
    what = "the newest day's place in its month" if args.days else "history length"
    print(f"## Publish against {what} ({time.strftime('%Y-%m-%d %H:%M')}; probes built in {built_s:.1f} s)\n")
    print(f"| history | days | served parts ({' / '.join(MONTHLY)}) | publishes s | median s |")
    print("| --- | ---: | --- | --- | ---: |")
    def label(database: str) -> str:
        if database == args.database:
            return "all"
        day, months = probes[database]
        if day:
            return f"newest day {day} ({len(months) - 1} whole months before it)"
        return f"newest {args.months} month(s) ({', '.join(sorted(months))})"

    for database, times in seconds.items():
        days_loaded, parts = shapes[database]
        print(f"| {label(database)} | {days_loaded} | {' / '.join(str(parts.get(t, 0)) for t in MONTHLY)} | "
              f"{', '.join(f'{s:.2f}' for s in times)} | {statistics.median(times):.2f} |")
    first, second = list(probes) if args.days else [args.database, PROBE]
    ratio = statistics.median(seconds[first]) / statistics.median(seconds[second])
    print(f"\n* {'first / second day' if args.days else 'long / short history'} publish ratio (medians): **{ratio:.2f}**")


if __name__ == "__main__":
    main()
