"""Publish cost against the length of history (issue 8: a publish with 13 months of history may
cost at most 1.5x one with 1 month), measured in one run on one engine at the same day.

    .venv/bin/python benchmarks/bench_publish_history.py --warehouse /work/bench-data/real [--months 2]

Builds a database ``publish_probe`` in the benchmark warehouse holding only the newest ``--months``
month partitions of ``pepy`` (``ATTACH PARTITION ... FROM``: hard links, no copy; the all-time
sums, opening balance and those months' load log copied), publishes each once untimed (the first
publish of a database pays for clearing old generations and a cold cache), then times publishes of
the two databases in rounds, alternating which goes first, after waiting for the engine's merges
to finish. ``pepy`` is published last, also when a step fails, so the warehouse's ``CURRENT``
generation is ``pepy``'s again afterwards; the probe database is dropped. Do not run it while an
API serves the warehouse: for a few seconds at a time it would serve the probe.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pepy_pipeline.warehouse.migrations import migrate  # noqa: E402
from pepy_pipeline.warehouse.publish import publish  # noqa: E402
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse  # noqa: E402

#: Served tables partitioned by month: the probe gets only the newest months of these.
MONTHLY = ("project_daily", "project_version_daily", "project_dimension_daily", "project_version_days")
#: Unpartitioned served tables, copied whole (their size does not depend on the history's length).
WHOLE = ("project_alltime", "opening_balance")
PROBE = "publish_probe"


def build_probe(client, source: str, months: list[str]) -> None:
    client.command(f"DROP DATABASE IF EXISTS {PROBE} SYNC")
    migrate(client, PROBE)
    for table in MONTHLY:
        for month in months:
            client.command(f"ALTER TABLE {PROBE}.{table} ATTACH PARTITION {month} FROM {source}.{table}")
    for table in WHOLE:
        client.command(f"INSERT INTO {PROBE}.{table} SELECT * FROM {source}.{table}")
    client.command(f"INSERT INTO {PROBE}.load_log SELECT * FROM {source}.load_log "
                   "WHERE toString(toYYYYMM(date)) IN {months:Array(String)}", parameters={"months": months})


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--months", type=int, default=2, help="newest month partitions the short history keeps")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warehouse = ClickHouseWarehouse(dsn=f"chdb://{args.warehouse / 'warehouse'}", database=args.database)
    with warehouse.connect() as client:
        months = [row[0] for row in client.query(
            f"SELECT DISTINCT partition FROM system.parts WHERE database = {{db:String}} AND table = 'project_daily' "
            f"AND active ORDER BY partition DESC LIMIT {args.months}", parameters={"db": args.database}).result_rows]
        seconds = {args.database: [], PROBE: []}
        last_published = None
        try:
            started = time.perf_counter()
            build_probe(client, args.database, months)
            built_s = time.perf_counter() - started
            for database in (PROBE, args.database):  # warm-up, untimed
                last_published = None
                publish(client, database, warehouse.data_path)
                last_published = database
            for round_ in range(args.rounds):
                order = (PROBE, args.database) if round_ % 2 == 0 else (args.database, PROBE)
                for database in order:
                    wait_for_merges(client)
                    last_published = None
                    started = time.perf_counter()
                    publish(client, database, warehouse.data_path)
                    seconds[database].append(time.perf_counter() - started)
                    last_published = database
            shapes = {database: history(client, database) for database in seconds}
        finally:
            if last_published != args.database:  # CURRENT must be the real database's again
                publish(client, args.database, warehouse.data_path)
            client.command(f"DROP DATABASE IF EXISTS {PROBE} SYNC")
    print(f"## Publish against history length ({time.strftime('%Y-%m-%d %H:%M')}; probe built in {built_s:.1f} s)\n")
    print("| history | days | served parts (daily / version daily / dimension daily / version days) | publishes s | median s |")
    print("| --- | ---: | --- | --- | ---: |")
    for database, times in seconds.items():
        days, parts = shapes[database]
        label = "all" if database == args.database else f"newest {args.months} month(s) ({', '.join(sorted(months))})"
        print(f"| {label} | {days} | {' / '.join(str(parts.get(t, 0)) for t in MONTHLY)} | "
              f"{', '.join(f'{s:.2f}' for s in times)} | {statistics.median(times):.2f} |")
    ratio = statistics.median(seconds[args.database]) / statistics.median(seconds[PROBE])
    print(f"\n* long / short history publish ratio (medians): **{ratio:.2f}**")


if __name__ == "__main__":
    main()
