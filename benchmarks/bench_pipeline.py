"""Pipeline load benchmark: the sample source at benchmark scale into chDB, against the engine's
own ceiling measured in the same run (``INSERT ... SELECT FROM file()`` of the same rows as Parquet).

    .venv/bin/python benchmarks/bench_pipeline.py [--projects 300000] [--rows-per-day 2500000] [--days 4]

Each scenario runs in its own process (peak RSS is per process; chDB opens one directory per
process). Prints a Markdown report; results are committed in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_DAY = dt.date(2026, 11, 2)  # a Monday


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scenario_pipeline(args) -> dict:
    from pepy_pipeline.sources.sample import SampleSource
    from pepy_pipeline.sources.sample.catalogue import build_catalogue
    from pepy_pipeline.warehouse.day_load import load_day
    from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

    build_catalogue(args.projects, 7)  # built once per process; not part of a day's load
    source = SampleSource(projects=args.projects, rows_per_day=args.rows_per_day)
    days = []
    warehouse = ClickHouseWarehouse(dsn=f"chdb://{args.dir}/wh")
    with warehouse.connect() as client, warehouse.insert_clients() as extra:
        for i in range(args.days):
            day = FIRST_DAY + dt.timedelta(days=i)
            started = time.perf_counter()
            load = load_day(client, "pepy", source, day, insert_clients=extra)
            total = time.perf_counter() - started
            days.append({"day": day.isoformat(), "rows": load.rows, "stage_s": load.seconds_extract_and_stage,
                         "rollup_s": load.seconds_rollups, "total_s": total})
    return {"days": days, "peak_rss_mb": peak_rss_mb()}


class ReplaySource:
    """Replays batches already in memory: isolates the loader from the generator's CPU cost."""

    name = "replay"

    def __init__(self, batches) -> None:
        self.batches = batches

    def describe(self) -> dict:
        return {}

    def read_day(self, day):
        yield from self.batches


def scenario_replay(args) -> dict:
    from pepy_pipeline.sources.sample import SampleSource
    from pepy_pipeline.warehouse.day_load import load_day
    from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

    source = SampleSource(projects=args.projects, rows_per_day=args.rows_per_day)
    warehouse = ClickHouseWarehouse(dsn=f"chdb://{args.dir}/replay")
    days = []
    with warehouse.connect() as client, warehouse.insert_clients() as extra:
        for i in range(args.days):
            day = FIRST_DAY + dt.timedelta(days=i)
            batches = list(source.read_day(day))
            load = load_day(client, "pepy", ReplaySource(batches), day, insert_clients=extra)
            days.append({"day": day.isoformat(), "rows": load.rows, "stage_s": load.seconds_extract_and_stage})
    return {"days": days, "peak_rss_mb": peak_rss_mb()}


def write_parquet(source, day: dt.date, path: Path) -> None:
    """The day's rows as the ceiling's input (generator time, never timed)."""
    import pyarrow.parquet as pq

    from pepy_pipeline.sources.schema import WAREHOUSE_SCHEMA

    with pq.ParquetWriter(path, WAREHOUSE_SCHEMA) as writer:
        for batch in source.read_day(day):
            writer.write_batch(batch)


def ceiling_insert(client, path: Path) -> tuple[int, float]:
    """The engine's own insert of ``path`` into a fresh copy of the fact table: (rows, seconds)."""
    client.command("DROP TABLE IF EXISTS pepy.staging")
    client.command("CREATE TABLE pepy.staging AS pepy.downloads_daily")
    started = time.perf_counter()
    client.command(f"INSERT INTO pepy.staging SELECT * FROM file('{path}', Parquet)")
    seconds = time.perf_counter() - started
    return client.query("SELECT count() FROM pepy.staging").result_rows[0][0], seconds


def scenario_write_parquet(args) -> dict:
    from pepy_pipeline.sources.sample import SampleSource

    source = SampleSource(projects=args.projects, rows_per_day=args.rows_per_day)
    files = []
    for i in range(args.days):
        day = FIRST_DAY + dt.timedelta(days=i)
        path = Path(args.dir) / f"{day}.parquet"
        write_parquet(source, day, path)
        files.append(str(path))
    return {"files": files}


def scenario_ceiling(args) -> dict:
    from pepy_warehouse.connection import connected
    from pepy_pipeline.warehouse.migrations import migrate

    days = []
    with connected(f"chdb://{args.dir}/ceiling") as client:
        migrate(client, "pepy")
        for i in range(args.days):
            day = FIRST_DAY + dt.timedelta(days=i)
            rows, seconds = ceiling_insert(client, Path(args.dir) / f"{day}.parquet")
            days.append({"day": day.isoformat(), "rows": rows, "insert_s": seconds})
    return {"days": days, "peak_rss_mb": peak_rss_mb()}


SCENARIOS = {"pipeline": scenario_pipeline, "parquet": scenario_write_parquet, "ceiling": scenario_ceiling,
             "replay": scenario_replay}


def run(name: str, args, **overrides) -> dict:
    argv = [sys.executable, __file__, "--scenario", name, "--dir", args.dir, "--projects", str(args.projects),
            "--rows-per-day", str(overrides.get("rows_per_day", args.rows_per_day)),
            "--days", str(overrides.get("days", args.days))]
    if "dir" in overrides:
        argv[argv.index("--dir") + 1] = overrides["dir"]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"scenario {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(args) -> None:
    base = Path(args.dir)
    run("parquet", args)
    ceiling = run("ceiling", args)
    pipeline = run("pipeline", args)
    replay = run("replay", args)
    big_dir = base / "big"
    big_dir.mkdir()
    # 7.85 M target rows on that Monday give ~10 M fact rows (the sample grows over time).
    big = run("pipeline", args, rows_per_day=7_850_000, days=1, dir=str(big_dir))
    small_dir = base / "small"
    small_dir.mkdir()
    small = run("pipeline", args, rows_per_day=790_000, days=3, dir=str(small_dir))

    rows = sum(d["rows"] for d in pipeline["days"])
    stage_rate = rows / sum(d["stage_s"] for d in pipeline["days"])
    end_to_end_rate = rows / sum(d["total_s"] for d in pipeline["days"])
    ceiling_rate = sum(d["rows"] for d in ceiling["days"]) / sum(d["insert_s"] for d in ceiling["days"])
    print(f"## Pipeline load ({time.strftime('%Y-%m-%d')}, {args.projects:,} projects, {args.days} days)\n")
    print("| day | fact rows | source->staged (s) | rollups (s) | committed (s) | ceiling insert (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for p, c in zip(pipeline["days"], ceiling["days"]):
        print(f"| {p['day']} | {p['rows']:,} | {p['stage_s']:.2f} | {p['rollup_s']:.2f} | {p['total_s']:.2f} | {c['insert_s']:.2f} |")
    print()
    print(f"* fact rows loaded: **{rows:,}**")
    print(f"* engine ceiling (`INSERT ... SELECT FROM file(Parquet)`): **{ceiling_rate:,.0f} rows/s**")
    print(f"* pipeline, source -> verified staged facts: **{stage_rate:,.0f} rows/s** "
          f"= **{stage_rate / ceiling_rate:.0%}** of the ceiling")
    replay_rate = sum(d["rows"] for d in replay["days"]) / sum(d["stage_s"] for d in replay["days"])
    print(f"* loader alone (the same batches already in memory, generator cost excluded): "
          f"**{replay_rate:,.0f} rows/s** = **{replay_rate / ceiling_rate:.0%}** of the ceiling")
    print(f"* pipeline, source -> committed partition incl. all rollups: **{end_to_end_rate:,.0f} rows/s** "
          f"= **{end_to_end_rate / ceiling_rate:.0%}** of the ceiling")
    print(f"* peak RSS: pipeline process {pipeline['peak_rss_mb']:,.0f} MB (ceiling process {ceiling['peak_rss_mb']:,.0f} MB)")
    big_day = big["days"][0]
    print(f"* one {big_day['rows']:,}-row day: committed in {big_day['total_s']:.1f} s, "
          f"peak RSS **{big['peak_rss_mb']:,.0f} MB**")
    sizes = ", ".join(f"{d['rows']:,}" for d in small["days"])
    rollups = ", ".join(f"{d['rollup_s']:.2f}" for d in small["days"])
    print(f"* rollup rebuild at ~1 M fact rows/day ({sizes} rows): **{rollups} s** per day")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", choices=SCENARIOS)
    parser.add_argument("--dir")
    parser.add_argument("--projects", type=int, default=300_000)
    parser.add_argument("--rows-per-day", type=int, default=2_500_000)
    parser.add_argument("--days", type=int, default=4)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(SCENARIOS[args.scenario](args)))
        return
    with tempfile.TemporaryDirectory(prefix="pepy-bench-") as directory:
        args.dir = directory
        report(args)


if __name__ == "__main__":
    main()
