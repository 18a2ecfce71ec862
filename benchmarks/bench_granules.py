"""Experiment: do smaller index granules make one project's questions cheaper? (They do not.)

    .venv/bin/python benchmarks/bench_granules.py --warehouse /work/bench-data/real \
        [--tables project_daily,project_dimension_daily] [--granules 8192,1024] [--since 2026-06-01]

Every rollup is sorted by project first, and with the engine's default 8,192-row granules a
question about a small project reads, decompresses and filters mostly its neighbours' rows in
each part it opens: a candidate for the ~0.65 ms each part costs. This copies the served tables'
rows since ``--since`` into one table per granule size (same structure, codecs and partitions,
every partition merged to one part, like compaction leaves a closed month) in an engine of its
own under ``<warehouse>/exp-granules`` or ``--engine`` (kept: a re-run reuses the copies), then asks the API's
30- and 180-day questions about the 20 largest and 60 Zipf-drawn projects, every variant of a
question back to back in random order, with the API's query settings, and checks the answers are
equal. Prints p50/p90/p99 per variant, and each copy's primary-index memory and marks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import clickhouse_connect  # noqa: E402

from benchmarks.bench_api import largest_and_zipf, percentile  # noqa: E402
from pepy_api.store.reader import QUERY_SETTINGS  # noqa: E402
from pepy_warehouse.generation import attach_generation, current_manifest, detach_generation  # noqa: E402

QUESTIONS = {
    "project_daily": "SELECT date, sum(pypistats_downloads) AS w, sum(pypistats_without_mirrors) FROM {table} "
                     "WHERE project = {{project:String}} AND date BETWEEN {{s:Date}} AND {{e:Date}} "
                     "GROUP BY date HAVING w > 0 ORDER BY date",
    "project_dimension_daily": "SELECT date, value, sum(pypistats_without_mirrors) AS n FROM {table} "
                               "WHERE project = {{project:String}} AND dimension = 'pypistats_system' "
                               "AND date BETWEEN {{s:Date}} AND {{e:Date}} GROUP BY date, value HAVING n > 0 "
                               "ORDER BY date, value",
}


def engine(home: Path):
    config = home / "config.xml"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text(f"<clickhouse><custom_local_disks_base_directory>{home}/</custom_local_disks_base_directory>"
                      "</clickhouse>")
    return clickhouse_connect.get_client(interface="chdb", path=str(home / "data"),
                                         chdb_options={"config-file": str(config)})


def build(client, table: str, granule: int, since: dt.date) -> str:
    """exp.<table>_g<granule>: the generation's rows of ``table`` since ``since``, built once."""
    client.command("CREATE DATABASE IF NOT EXISTS exp")
    name = f"exp.{table}_g{granule}"
    if client.query(f"EXISTS TABLE {name}").result_rows[0][0]:
        return name
    ddl = client.query(f"SHOW CREATE TABLE gen.{table}").result_rows[0][0]
    # The attached table's SETTINGS name its read-only disk: the copy gets only the granule size
    # (our rollups set no other table setting). A killed build's leftover is dropped first.
    client.command(f"DROP TABLE IF EXISTS {name}_build")
    client.command(ddl.split("SETTINGS")[0].replace(f"gen.{table}", f"{name}_build", 1)
                   + f" SETTINGS index_granularity = {granule}")
    started = time.perf_counter()
    client.command(f"INSERT INTO {name}_build SELECT * FROM gen.{table} WHERE date >= {{since:Date}}",
                   parameters={"since": since})
    client.command(f"OPTIMIZE TABLE {name}_build FINAL")
    client.command(f"RENAME TABLE {name}_build TO {name}")
    print(f"built {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--tables", default="project_daily,project_dimension_daily")
    parser.add_argument("--granules", default="8192,1024")
    parser.add_argument("--since", type=dt.date.fromisoformat, default=dt.date(2026, 6, 1))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", type=Path, help="the experiment's engine (default: <warehouse>/exp-granules)")
    args = parser.parse_args()
    home = args.engine or args.warehouse / "exp-granules"
    # The current generation, attached afresh: one an earlier run attached may have been removed
    # since (its links dangle, and the engine would not start over them).
    shutil.rmtree(home / "links", ignore_errors=True)
    client = engine(home)
    if "gen" in {row[0] for row in client.query("SHOW DATABASES").result_rows}:
        detach_generation(client, "gen")
    attach_generation(client, current_manifest(args.warehouse / "warehouse"), "gen", home / "links")
    granules = [int(g) for g in args.granules.split(",")]
    tables = {table: [build(client, table, g, args.since) for g in granules]
              for table in args.tables.split(",")}
    ranked = [row[0] for row in client.query(
        "SELECT project FROM gen.project_alltime WHERE project != '__all__' GROUP BY project "
        "ORDER BY sum(downloads) DESC LIMIT 300000").result_rows]
    projects = largest_and_zipf(ranked, 20, 60, 4000, random.Random(args.seed))
    last = client.query("SELECT max(date) FROM gen.project_daily").result_rows[0][0]
    for days in (30, 180):
        times: dict[str, list[float]] = {}
        for round_ in range(4):  # round 0 warms the caches and is not counted
            for project in projects:
                parameters = {"project": project, "s": last - dt.timedelta(days=days - 1), "e": last}
                for table, copies in tables.items():
                    answers = []
                    for name in random.sample(copies, len(copies)):
                        started = time.perf_counter()
                        answers.append(client.query(QUESTIONS[table].format(table=name), parameters=parameters,
                                                    settings=QUERY_SETTINGS).result_rows)
                        if round_:
                            times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
                    assert all(answer == answers[0] for answer in answers), (project, table)
        for name, values in sorted(times.items()):
            print(f"{days:3d} days {name:36s} p50 {statistics.median(values):6.2f}  p90 "
                  f"{percentile(values, 90):6.2f}  p99 {percentile(values, 99):6.2f} ms")
    # After the questions: the primary index is loaded on first use.
    for table, copies in tables.items():
        for name in copies:
            size = client.query(
                "SELECT count(), sum(rows), sum(marks), formatReadableSize(sum(bytes_on_disk)), "
                "formatReadableSize(sum(primary_key_bytes_in_memory)), formatReadableSize(sum(marks_bytes)) "
                "FROM system.parts WHERE database = 'exp' AND table = {t:String} AND active",
                parameters={"t": name.removeprefix("exp.")}).result_rows[0]
            print(f"{name}: {size[0]} parts, {size[1]:,} rows, {size[2]:,} marks, {size[3]} on disk, "
                  f"primary index {size[4]} in memory, marks {size[5]} on disk")


if __name__ == "__main__":
    main()
