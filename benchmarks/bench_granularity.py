"""Does a smaller index granule make the API's one-project questions cheaper? (An experiment.)

    .venv/bin/python benchmarks/bench_granularity.py --warehouse /work/bench-data/real [--rounds 5]

Every API question reads one project's rows, and the engine reads whole granules (8,192 rows by
default): a 180-day dimension question for a big project returned ~2,000 rows and read ~65,000
(docs/benchmarks.md). ``index_granularity`` cannot be changed on an existing table, so this copies
the newest 180 days of ``project_dimension_daily`` and ``project_daily`` for a sample of projects
into scratch tables that differ only in it (8,192 as served, 2,048, 1,024; each month merged to one
part, as compaction leaves a closed month), then asks each the API's own questions (same SQL, same
settings), interleaved in rounds, and reports p50/p99, rows read, the primary index and marks held
in memory, and disk. The sample: the 20 largest projects and 80 Zipf-sampled ones (asked), plus
900 projects drawn uniformly (only so the granules hold other projects' rows too).

Runs in the writer's engine (a copy, in a scratch database dropped at the end): run it when no
pipeline run or API holds the warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pepy_api.store.reader import QUERY_SETTINGS  # noqa: E402
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse  # noqa: E402

SCRATCH = "bench_granularity"
GRANULES = (8192, 2048, 1024)
#: The API's questions (pepy_api/store/queries.py), over the newest 180 days.
QUESTIONS = {
    "project_dimension_daily": ("SELECT date AS bucket, value, sum(downloads) AS n FROM {t} "
                                "WHERE project = {{project:String}} AND dimension = 'python_minor' "
                                "AND date BETWEEN {{start:Date}} AND {{end:Date}} "
                                "GROUP BY bucket, value HAVING n > 0 ORDER BY bucket, value"),
    "project_daily": ("SELECT date, sum(pypistats_downloads) AS w, sum(pypistats_without_mirrors) FROM {t} "
                      "WHERE project = {{project:String}} AND date BETWEEN {{start:Date}} AND {{end:Date}} "
                      "GROUP BY date HAVING w > 0 ORDER BY date"),
}


def zipf_sample(ranked: list[str], count: int, rng: random.Random) -> list[str]:
    return [ranked[min(int(rng.paretovariate(1.0)) - 1, len(ranked) - 1)] for _ in range(count)]


def build(client, db: str, table: str, granule: int, projects: list[str], start: dt.date, end: dt.date) -> str:
    name = f"{SCRATCH}.{table}_{granule}"
    engine = client.query("SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
                          parameters={"db": db, "t": table}).result_rows[0][0]
    engine = re.sub(r"index_granularity = \d+", f"index_granularity = {granule}", engine)
    if "index_granularity" not in engine:
        engine += f" SETTINGS index_granularity = {granule}"
    client.command(f"DROP TABLE IF EXISTS {name}")
    client.command(f"CREATE TABLE {name} AS {db}.{table} ENGINE = {engine}")
    client.command(f"INSERT INTO {name} SELECT * FROM {db}.{table} WHERE project IN {{p:Array(String)}} "
                   "AND date BETWEEN {s:Date} AND {e:Date}", parameters={"p": projects, "s": start, "e": end})
    client.command(f"OPTIMIZE TABLE {name} FINAL")
    return name


def read_rows(client) -> int:
    rows = client.query("SELECT value FROM system.events WHERE event = 'SelectedRows'").result_rows
    return int(rows[0][0]) if rows else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(11)
    warehouse = ClickHouseWarehouse(dsn=f"chdb://{args.warehouse / 'warehouse'}", database=args.database)
    db = args.database
    with warehouse.connect() as client:
        ranked = [r[0] for r in client.query(
            f"SELECT project FROM {db}.project_alltime WHERE project != '__all__' GROUP BY project "
            "ORDER BY sum(downloads) DESC").result_rows]
        end = client.query(f"SELECT max(date) FROM {db}.project_daily").result_rows[0][0]
        start = end - dt.timedelta(days=179)
        asked = ranked[:20] + zipf_sample(ranked, 80, rng)
        projects = sorted(set(asked) | set(rng.sample(ranked, min(900, len(ranked)))))
        client.command(f"CREATE DATABASE IF NOT EXISTS {SCRATCH}")
        try:
            tables = {}
            for table in QUESTIONS:
                for granule in GRANULES:
                    started = time.perf_counter()
                    tables[(table, granule)] = build(client, db, table, granule, projects, start, end)
                    print(f"built {table} granule {granule} in {time.perf_counter() - started:.1f} s", flush=True)
            first = read_rows(client)
            own = read_rows(client) - first  # what reading the counter itself selects
            times = {key: [] for key in tables}
            rows = dict.fromkeys(tables, 0)
            for round_ in range(args.rounds):
                order = asked[:]
                rng.shuffle(order)
                for project in order:
                    keys = list(tables)
                    rng.shuffle(keys)
                    for key in keys:
                        sql = QUESTIONS[key[0]].format(t=tables[key])
                        before = read_rows(client)
                        started = time.perf_counter()
                        client.query(sql, parameters={"project": project, "start": start, "end": end},
                                     settings=QUERY_SETTINGS)
                        times[key].append((time.perf_counter() - started) * 1000)
                        rows[key] += read_rows(client) - before - own
            print(f"\n## Index granularity, {len(asked)} projects asked x {args.rounds} rounds, "
                  f"{start} .. {end} ({time.strftime('%Y-%m-%d %H:%M')})\n")
            print("| table | granule rows | p50 ms | p99 ms | rows read per question | rows | parts | "
                  "primary index in memory | marks | disk |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for key, name in tables.items():
                ordered = sorted(times[key])
                count, parts, pk, marks, disk = client.query(
                    "SELECT sum(rows), count(), sum(primary_key_bytes_in_memory), sum(marks_bytes), "
                    "sum(bytes_on_disk) FROM system.parts WHERE database = {d:String} AND table = {t:String} "
                    "AND active", parameters={"d": SCRATCH, "t": name.split(".")[1]}).result_rows[0]
                print(f"| {key[0]} | {key[1]:,} | {statistics.median(ordered):.2f} | "
                      f"{ordered[int(len(ordered) * 0.99)]:.2f} | {rows[key] / len(ordered):,.0f} | {count:,} | {parts} | "
                      f"{pk / 2**20:.1f} MiB | {marks / 2**20:.1f} MiB | {disk / 2**20:.0f} MiB |", flush=True)
        finally:
            client.command(f"DROP DATABASE IF EXISTS {SCRATCH} SYNC")


if __name__ == "__main__":
    main()
