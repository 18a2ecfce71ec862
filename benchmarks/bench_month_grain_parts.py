"""Would the month-grain rollups pay for every question in fewer parts? (An experiment.)

    .venv/bin/python benchmarks/bench_month_grain_parts.py --warehouse /work/bench-data/real [--rounds 3]

A month-grain answer opened the month-grain table's 14 month parts (and the daily table's parts of
the partial months), and each part a question opens costs ~0.65 ms, so it was faster than reading
every daily row only for the largest projects (docs/benchmarks.md, seventh pass). This copies
both month-grain tables into scratch tables partitioned by year (each year merged to one part)
and asks the API's month-grain SQL of the served layout (by month) and of the copy (by year),
interleaved, in the writer's engine with the API's query settings, for the 20 largest and 40
Zipf-sampled projects, all history. Run it when no pipeline run holds the warehouse.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import largest_and_zipf  # noqa: E402
from pepy_api.store import queries  # noqa: E402
from pepy_api.store.reader import QUERY_SETTINGS  # noqa: E402
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse  # noqa: E402

SCRATCH = "bench_month_grain_parts"
QUESTIONS = {"versions": ("project_version", "version", "project = {project:String}"),
             "country": ("project_dimension", "value", "project = {project:String} AND dimension = 'country'")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    db = args.database
    rng = random.Random(5)
    warehouse = ClickHouseWarehouse(dsn=f"chdb://{args.warehouse / 'warehouse'}", database=db)
    with warehouse.connect() as client:
        start, end = client.query(f"SELECT min(date), max(date) FROM {db}.project_daily").result_rows[0]
        ranked = [r[0] for r in client.query(
            f"SELECT project FROM {db}.project_alltime WHERE project != '__all__' GROUP BY project "
            "ORDER BY sum(downloads) DESC LIMIT 50000").result_rows]
        projects = largest_and_zipf(ranked, 20, 40, 5_000, rng)
        client.command(f"DROP DATABASE IF EXISTS {SCRATCH} SYNC")
        client.command(f"CREATE DATABASE {SCRATCH}")
        try:
            for family in ("project_version", "project_dimension"):
                engine = client.query("SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = {t:String}",
                                      parameters={"d": db, "t": f"{family}_monthly"}).result_rows[0][0]
                engine = engine.replace("PARTITION BY toYYYYMM(month)", "PARTITION BY toYear(month)")
                started = time.perf_counter()
                client.command(f"CREATE TABLE {SCRATCH}.{family}_monthly AS {db}.{family}_monthly ENGINE = {engine}")
                client.command(f"INSERT INTO {SCRATCH}.{family}_monthly SELECT * FROM {db}.{family}_monthly")
                client.command(f"OPTIMIZE TABLE {SCRATCH}.{family}_monthly FINAL")
                print(f"{family}_monthly by year built in {time.perf_counter() - started:.1f} s", flush=True)
            layouts = {"by month (served)": db, "by year": SCRATCH}
            times = {(q, layout): [] for q in QUESTIONS for layout in layouts}
            for _ in range(args.rounds):
                order = projects[:]
                rng.shuffle(order)
                for project in order:
                    for question, (family, key, where) in QUESTIONS.items():
                        sql = queries.month_answer_sql(family, key, where, "all")
                        answers = {}
                        for layout in rng.sample(list(layouts), len(layouts)):
                            started = time.perf_counter()
                            answers[layout] = client.query(
                                sql.replace(f"__DB__.{family}_monthly", f"{layouts[layout]}.{family}_monthly")
                                .replace("__DB__", db),
                                parameters={"project": project, **queries.month_parameters(start, end)},
                                settings=QUERY_SETTINGS).result_rows
                            times[(question, layout)].append((time.perf_counter() - started) * 1000)
                        if len({repr(a) for a in answers.values()}) != 1:
                            raise SystemExit(f"{question} of {project}: the layouts answer differently")
            parts = dict(client.query("SELECT table, count() FROM system.parts WHERE database = {d:String} AND active "
                                      "GROUP BY table", parameters={"d": SCRATCH}).result_rows)
            print(f"\n## Month-grain parts, {start} .. {end}, {len(projects)} projects x {args.rounds} rounds "
                  f"({time.strftime('%Y-%m-%d %H:%M')}); every pair of answers equal; parts by year: {parts}\n")
            print("| question | month-grain table partitioned | p50 ms | p99 ms | max ms |")
            print("| --- | --- | ---: | ---: | ---: |")
            for (question, layout), values in times.items():
                ordered = sorted(values)
                print(f"| {question} by month | {layout} | {statistics.median(ordered):.2f} | "
                      f"{ordered[int(len(ordered) * 0.99)]:.2f} | {ordered[-1]:.1f} |")
        finally:
            client.command(f"DROP DATABASE IF EXISTS {SCRATCH} SYNC")


if __name__ == "__main__":
    main()
