"""What a generation swap costs the API's requests, in-process, over a prebuilt warehouse.

    .venv/bin/python benchmarks/bench_attach.py --warehouse /work/bench-data/real [--rounds 3]

One API reader (``FrozenGenerationReader``) attaches the warehouse's current generation again and
again under new names, exactly as a swap attaches a new one (fresh UUIDs, cold engine caches),
alternating with and without the warm-up. For each attach:

* how long the attach took (attach, validate, warm-up, totals, snapshot), and how late a 1 ms
  heartbeat thread woke meanwhile: its worst and p99 lateness is how long a request thread would
  have waited for the GIL or a core;
* right after the swap, one question per kind over 20 projects (the largest and Zipf-sampled),
  then the same questions again: first-answer time against the steady state.

The yardstick, in the same run: the heartbeat while the previous code's Python pass over the
names runs on the same totals (a list of str, then its order checked in Python), and the
heartbeat with nothing else running (the machine's own lateness).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import largest_and_zipf  # noqa: E402
from pepy_api.store import queries  # noqa: E402
from pepy_api.store.reader import FrozenGenerationReader  # noqa: E402
from pepy_warehouse.generation import MANIFEST_DIR, current_manifest  # noqa: E402


class Heartbeat:
    """A thread sleeping 1 ms at a time and recording how late it woke."""

    def __init__(self) -> None:
        self.late_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            time.sleep(0.001)
            self.late_ms.append((time.perf_counter() - started) * 1000 - 1.0)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> tuple[float, float]:
        ordered = sorted(self.late_ms) or [0.0]
        return ordered[-1], ordered[int(len(ordered) * 0.99)]


def questions(reader, projects: list[str], last: dt.date) -> list[float]:
    """One question of each engine-backed kind per project; ms each."""
    kinds = [
        lambda p: queries.daily_downloads(reader, p, last - dt.timedelta(days=29), last),
        lambda p: queries.overall_downloads(reader, p, last - dt.timedelta(days=179), last),
        lambda p: queries.dimension_downloads(reader, p, "python_minor", last - dt.timedelta(days=179), last),
        lambda p: queries.top_versions(reader, p, last - dt.timedelta(days=29), last, 10),
        lambda p: queries.version_days_json(reader, p, last - dt.timedelta(days=89), last),
    ]
    times = []
    for project in projects:
        for kind in kinds:
            started = time.perf_counter()
            kind(project)
            times.append((time.perf_counter() - started) * 1000)
    return times


def old_name_pass(reader) -> None:
    """What the previous code did with the names on every swap, in Python under the GIL."""
    from pepy_warehouse.totals import query_totals

    with reader.client() as client:
        table = query_totals(client, reader.snapshot().database, reader.totals_settings)
    names = table.column(0)
    text: list[str] = []
    for start in range(0, len(names), 20_000):
        text.extend(names.slice(start, 20_000).to_pylist())
    assert not any(a >= b for a, b in zip(text, text[1:]))
    text.index("__all__")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warehouse_dir = args.warehouse / "warehouse"
    manifest = current_manifest(warehouse_dir)
    reader = FrozenGenerationReader(warehouse_dir, refresh_seconds=3600)
    rng = random.Random(7)
    try:
        snap = reader.snapshot()
        ranked, last = snap.ranked, snap.last_complete_day
        # The 10 largest and 10 distinct others drawn by Zipf popularity (as bench_api_scale).
        projects = largest_and_zipf(list(ranked[:50_000]), 10, 10, 2_000, rng)
        print(f"## Generation swaps in-process: {manifest['generation']}, {len(snap.totals):,} projects, "
              f"{time.strftime('%Y-%m-%d %H:%M')}\n")
        with Heartbeat() as idle:
            time.sleep(3)
        with Heartbeat() as old:
            old_name_pass(reader)
        print(f"* heartbeat with nothing else running: worst {idle.summary()[0]:.1f} ms, p99 {idle.summary()[1]:.2f} ms")
        print(f"* heartbeat during the previous code's Python pass over the names: worst {old.summary()[0]:.1f} ms, "
              f"p99 {old.summary()[1]:.2f} ms\n")
        print("| round | warm-up | attach s | heartbeat worst / p99 ms | first answers p50 / max ms | again p50 / max ms |")
        print("| ---: | --- | ---: | ---: | ---: | ---: |")
        for round_ in range(args.rounds):
            for warm in (False, True) if round_ % 2 == 0 else (True, False):
                forged = copy.deepcopy(manifest)
                forged["generation"] = f"{manifest['generation']}_bench{round_}{int(warm)}"
                # Its own manifest file: the reader holds each generation it attaches by it.
                forged_path = warehouse_dir / MANIFEST_DIR / f"{forged['generation']}.json"
                forged_path.write_text(json.dumps(forged))
                reader.warm_up = warm
                started = time.perf_counter()
                with Heartbeat() as beat:
                    reader._attach(forged)  # what a refresh does when CURRENT names a new generation
                assert reader.snapshot().token == forged["generation"], reader.refused
                attach_s = time.perf_counter() - started
                first = questions(reader, projects, last)
                again = questions(reader, projects, last)
                worst, p99 = beat.summary()
                print(f"| {round_ + 1} | {'yes' if warm else 'no'} | {attach_s:.2f} | {worst:.1f} / {p99:.2f} | "
                      f"{statistics.median(first):.1f} / {max(first):.1f} | "
                      f"{statistics.median(again):.1f} / {max(again):.1f} |", flush=True)
                reader._detach_retired(older_than=0)
                forged_path.unlink()
    finally:
        reader.close()


if __name__ == "__main__":
    main()
