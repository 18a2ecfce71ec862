"""Real-size day benchmark (issue 8): one day of the real-shape sample source, source -> committed
(staged, verified, rollups, swapped), optionally followed by a publish, against the engine's own
bulk insert of the same rows measured in the same run.

    .venv/bin/python benchmarks/bench_real_day.py --warehouse /work/bench-data/real \\
        --days 2026-10-14,2026-10-17 [--rows-per-day 33000000] [--ceiling] [--publish]

The warehouse (chDB under <home>/warehouse) is the reusable benchmark warehouse: loaded days stay
(they are build_history.py's templates). Each day loads in its own process, so the peak RSS
printed is that day's whole process (catalogue, generator, loader, engine). ``--ceiling`` first
writes the same day to Parquet (generator time, not timed) and times ``INSERT ... SELECT FROM
file(Parquet)`` into a copy of the fact table in a scratch chDB directory: what the engine itself
does with those rows, with no Python in the way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """Samples this process's resident size every few ms, so a peak can be put in the phase
    that made it (ru_maxrss gives only the process's peak)."""

    def __init__(self, every_s: float = 0.02) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            with open("/proc/self/statm") as statm:
                pages = int(statm.read().split()[1])
            self.samples.append((time.perf_counter(), pages * resource.getpagesize()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mb(self, start: float, end: float) -> float | None:
        """Peak between two perf_counter() times; None when no sample fell between them."""
        peak = max((rss for t, rss in self.samples if start <= t < end), default=None)
        return None if peak is None else peak / 2**20


def source(args):
    from pepy_pipeline.sources.sample import SampleSource

    return SampleSource(scale=args.scale, rows_per_day=args.rows_per_day)


def part_load(args) -> dict:
    from pepy_pipeline.sources.sample.catalogue import build_catalogue
    from pepy_pipeline.warehouse.day_load import load_day
    from pepy_pipeline.warehouse.compaction import compact_months
    from pepy_pipeline.warehouse.publish import publish
    from pepy_pipeline.settings import PipelineSettings
    from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

    day = dt.date.fromisoformat(args.day)
    sample = source(args)
    started = time.perf_counter()
    build_catalogue(sample.projects, sample.seed, sample.shape)  # once per process, cached
    catalogue_s = time.perf_counter() - started
    # --writer-session: in a session of its own at the writer's autogroup nice (PipelineSettings'
    # writer_nice), as the code location runs a load (bench_api_during_load.py); off by default, so
    # runs compare with the earlier passes'.
    warehouse = ClickHouseWarehouse(dsn=f"chdb://{args.warehouse / 'warehouse'}", writer_session=args.writer_session,
                                    writer_nice=PipelineSettings().writer_nice)
    out = {"day": args.day, "catalogue_s": catalogue_s}
    sampler = RssSampler()
    with warehouse.connect() as client, warehouse.insert_clients() as extra:
        # Where the writer runs (its own session or the caller's, and that session's autogroup).
        autogroup = Path("/proc/self/autogroup")
        out["writer_session"] = (("own session" if os.getsid(0) == os.getpid() else "caller's session") + ", "
                                 + (autogroup.read_text().strip() if autogroup.exists() else "no autogroup"))
        load_started = time.perf_counter()
        load = load_day(client, warehouse.database, sample, day, run_id="bench-real-day", insert_clients=extra)
        load_ended = time.perf_counter()
        # Phases run in this order; the windows are approximate: what load_day spends before staging
        # or between phases (preparation, checks) falls into the next phase's window.
        bounds = [load_started, load_started + load.seconds_stage,
                  load_started + load.seconds_stage + load.seconds_rollups, load_ended]
        out["phase_peak_rss_mb"] = {name: sampler.peak_mb(bounds[i], bounds[i + 1])
                                    for i, name in enumerate(("stage", "rollups", "commit"))}
        out.update(rows=load.rows, downloads=load.downloads, stage_s=load.seconds_stage,
                   rollup_s=load.seconds_rollups, commit_s=load.seconds_commit, total_s=load.seconds_total,
                   fact_bytes=load.bytes_on_disk, rollup_rows=load.rollup_rows,
                   checks={o.name: o.passed for o in load.outcomes})
        out["load_peak_rss_mb"] = peak_rss_mb()
        if args.publish:
            # As the load run does, each step timed: publish, compact, publish again if it compacted.
            started = time.perf_counter()
            published = publish(client, warehouse.database, warehouse.data_path)
            out["publish_s"] = time.perf_counter() - started
            out["published_to"] = str(published.last_complete_day)
            started = time.perf_counter()
            compacted = compact_months(client, warehouse.database)
            out["compaction_s"] = time.perf_counter() - started
            out["compacted"] = [(c.table, c.month, c.parts_before, round(c.seconds, 1)) for c in compacted]
            if any(c.error is None for c in compacted):
                started = time.perf_counter()
                publish(client, warehouse.database, warehouse.data_path)
                out["republish_s"] = time.perf_counter() - started
        out["history_days"] = client.query(
            f"SELECT uniqExact(date) FROM {warehouse.database}.load_log FINAL WHERE state = 'committed'").result_rows[0][0]
        out["month_parts"] = dict(client.query(
            "SELECT table, count() FROM system.parts WHERE database = {db:String} AND active "
            "AND partition_id = {p:String} GROUP BY table",
            parameters={"db": warehouse.database, "p": f"{day:%Y%m}"}).result_rows)
    sampler.stop()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def part_ceiling(args) -> dict:
    from benchmarks.bench_pipeline import ceiling_insert, write_parquet
    from pepy_pipeline.warehouse.migrations import migrate
    from pepy_warehouse.connection import connected

    day = dt.date.fromisoformat(args.day)
    scratch = Path(tempfile.mkdtemp(prefix="pepy-ceiling-", dir=args.scratch))
    try:
        path = scratch / f"{day}.parquet"
        write_parquet(source(args), day, path)
        with connected(f"chdb://{scratch / 'engine'}") as client:
            migrate(client, "pepy")
            rows, seconds = ceiling_insert(client, path)
        return {"day": args.day, "rows": rows, "insert_s": seconds, "parquet_bytes": path.stat().st_size}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


PARTS = {"load": part_load, "ceiling": part_ceiling}


def run_part(name: str, args, day: str) -> dict:
    argv = [sys.executable, __file__, "--part", name, "--day", day, "--warehouse", str(args.warehouse),
            "--scale", args.scale, "--scratch", str(args.scratch)]
    if args.rows_per_day:
        argv += ["--rows-per-day", str(args.rows_per_day)]
    if args.publish:
        argv.append("--publish")
    if args.writer_session:
        argv.append("--writer-session")
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"{name} {day} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--days", help="comma-separated days to load, in order")
    parser.add_argument("--day", help=argparse.SUPPRESS)
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--scale", default="real")
    parser.add_argument("--rows-per-day", type=int)
    parser.add_argument("--ceiling", action="store_true", help="also time the engine's own insert of each day")
    parser.add_argument("--publish", action="store_true", help="publish after each day (timed)")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--writer-session", action="store_true",
                        help="load in a session of its own at the writer's nice, as the code location does")
    args = parser.parse_args()
    if args.part:
        print(json.dumps(PARTS[args.part](args), default=str))
        return
    args.warehouse.mkdir(parents=True, exist_ok=True)
    print(f"## Real-size days ({time.strftime('%Y-%m-%d %H:%M')}, scale {args.scale}, "
          f"rows per weekday {args.rows_per_day or 'the scale default'})\n")
    print("| day | fact rows | downloads | staged s | rollups s | commit s | total s | ceiling s | total / ceiling "
          "| load peak RSS MiB (stage / rollups / commit) | fact B/row | publish s | compaction s (+ publish again) | month parts | history days |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for day in args.days.split(","):
        ceiling = run_part("ceiling", args, day) if args.ceiling else None
        load = run_part("load", args, day)
        ceiling_s = f"{ceiling['insert_s']:.1f}" if ceiling else "-"
        ratio = f"{load['total_s'] / ceiling['insert_s']:.1f}x" if ceiling else "-"
        publish_s = f"{load['publish_s']:.1f}" if "publish_s" in load else "-"
        compaction_s = f"{load['compaction_s']:.1f}" if "compaction_s" in load else "-"
        if "republish_s" in load:
            compaction_s += f" (+ {load['republish_s']:.1f})"
        phases = " / ".join("-" if mb is None else f"{mb:,.0f}" for mb in load["phase_peak_rss_mb"].values())
        parts = ", ".join(f"{t.replace('project_', '')} {n}" for t, n in sorted(load["month_parts"].items()))
        print(f"| {day} | {load['rows']:,} | {load['downloads']:,} | {load['stage_s']:.1f} | {load['rollup_s']:.1f} | "
              f"{load['commit_s']:.1f} | {load['total_s']:.1f} | {ceiling_s} | {ratio} | {load['load_peak_rss_mb']:,.0f} ({phases}) | "
              f"{load['fact_bytes'] / load['rows']:.1f} | {publish_s} | {compaction_s} | {parts} | {load['history_days']} |", flush=True)
        print(f"<!-- {json.dumps({'load': load, 'ceiling': ceiling}, default=str)} -->", flush=True)


if __name__ == "__main__":
    main()
