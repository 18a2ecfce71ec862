"""Which step of the API's own swap holds a request up, in-process at real size.

    .venv/bin/python benchmarks/bench_swap_steps.py --warehouse /work/bench-data/real [--swaps 6]

Why: at concurrency 1 over HTTP, one swap in three held a request ~100 ms (thirteenth pass), and
the swap thread was not holding the GIL then. The candidates left are in the engine and the
allocators: the swap's DDL (ATTACH, DETACH SYNC), its validation counts, its warm-up statements and
its memory release (the engine's jemalloc purge, glibc's ``malloc_trim``) run in the same process
as a request's query. This script runs the API's reader (``FrozenGenerationReader``) with one
thread asking the API's questions back to back (concurrency 1: 30-day daily sums and the 180-day
``system`` series for Zipf-drawn projects and the 20 largest) while another points ``CURRENT`` at
earlier generations still on disk and makes the reader attach them, then detach what they
replaced, as the API's refresh thread does. Every statement and release call of the swap thread
is timed (the client's ``command``/``query`` and the release calls are wrapped for the run), and
every request is attributed to the swap steps it overlapped. Prints, per step kind, the requests
that overlapped it (count, p50, max, max minus the quiet p99) against the requests that overlapped
none, and the slowest requests with what ran beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import largest_and_zipf, percentile  # noqa: E402
from benchmarks.bench_api_scale import kept_generations  # noqa: E402
from pepy_api.deps import BoundReader  # noqa: E402
from pepy_api.store import memory, queries  # noqa: E402
from pepy_api.store import reader as reader_module  # noqa: E402
from pepy_api.store.reader import FrozenGenerationReader  # noqa: E402
from pepy_warehouse.generation import point_at, pointer_path  # noqa: E402

SWAP_THREAD = "swap-steps"
steps: list[tuple[float, float, str]] = []  # (start, end, kind) of every timed swap call


def step_kind(sql: str) -> str:
    """A statement's kind: its first words, without names (ATTACH TABLE, SYSTEM PREWARM MARK ...)."""
    words = sql.split()
    if words[:2] == ["SELECT", "count()"]:
        return "validate count()"
    if words[0] == "SYSTEM":
        return " ".join(words[:3])
    return " ".join(words[:2])


def timed(kind_of, call):
    """``call`` recording its interval as a swap step when the swap thread makes it."""
    def wrapper(*args, **kwargs):
        if threading.current_thread().name != SWAP_THREAD:
            return call(*args, **kwargs)
        began = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            steps.append((began, time.perf_counter(), kind_of(*args, **kwargs)))
    return wrapper


def instrument(client_class) -> None:
    client_class.command = timed(lambda self, sql, *a, **k: step_kind(sql), client_class.command)
    client_class.query = timed(lambda self, sql=None, *a, **k: step_kind(sql or k.get("query") or ""), client_class.query)
    if memory._malloc_trim is not None:
        memory._malloc_trim = timed(lambda *a: "malloc_trim", memory._malloc_trim)
    reader_module.build_snapshot = timed(lambda *a, **k: "build snapshot (Python)", reader_module.build_snapshot)
    reader_module.read_totals = timed(lambda *a, **k: "read totals file", reader_module.read_totals)


def ask(reader, project: str, end: dt.date) -> None:
    """One request's engine work: the v1 30-day daily sums, then the 180-day ``system`` series."""
    bound = BoundReader(reader, reader.snapshot())
    queries.daily_downloads(bound, project, end - dt.timedelta(days=29), end)
    queries.category_downloads(bound, project, "pypistats_system", end - dt.timedelta(days=179), end,
                               "pypistats_without_mirrors", ("",))


def swap(reader, warehouse_dir: Path, names: list[str], cycles: int, every: float, detach_after: float,
         stop: threading.Event) -> None:
    """Point ``CURRENT`` at each name in turn, attach it, then detach what it replaced."""
    original = pointer_path(warehouse_dir).read_text().strip()
    try:
        for cycle in range(cycles):
            if stop.wait(every / 2):
                return
            point_at(warehouse_dir, names[cycle % len(names)])
            reader.refresh()
            if stop.wait(detach_after):
                return
            reader._detach_retired(older_than=0)
    finally:
        point_at(warehouse_dir, original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--swaps", type=int, default=6)
    parser.add_argument("--every", type=float, default=16.0, help="seconds per swap cycle")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    warehouse_dir = args.warehouse / "warehouse"
    kept = kept_generations(args.warehouse)[:1]
    if not kept:
        sys.exit("no earlier generation on disk to swap to: publish twice first")
    reader = FrozenGenerationReader(warehouse_dir, refresh_seconds=3600)
    original = reader.snapshot().token
    instrument(type(reader._clients[0]))
    snap = reader.snapshot()
    projects = largest_and_zipf(snap.ranked.at_ranks(slice(0, 300000)), 20, 400, 20000, random.Random(args.seed))
    end = snap.last_complete_day
    for project in projects[:40]:  # the questions' plans and caches warm, as in a running API
        ask(reader, project, end)
    requests: list[tuple[float, float]] = []
    stop = threading.Event()
    swapper = threading.Thread(target=swap, name=SWAP_THREAD, args=(
        reader, warehouse_dir, [kept[0], original], args.swaps, args.every, args.every / 2 - 2, stop))
    rng = random.Random(args.seed)
    swapper.start()
    try:
        while swapper.is_alive():
            project = rng.choice(projects)
            began = time.perf_counter()
            ask(reader, project, end)
            requests.append((began, time.perf_counter()))
        swapper.join()
    finally:
        stop.set()
        swapper.join()
        reader.close()
    report(requests)


def report(requests: list[tuple[float, float]]) -> None:
    by_kind: dict[str, list[float]] = {}
    quiet: list[float] = []
    overlapped: list[tuple[float, list[str]]] = []
    for began, ended in requests:
        ms = (ended - began) * 1000
        kinds = sorted({kind for s, e, kind in steps if s < ended and e > began})
        overlapped.append((ms, kinds))
        if not kinds:
            quiet.append(ms)
        for kind in kinds:
            by_kind.setdefault(kind, []).append(ms)
    quiet_p99 = percentile(quiet, 99)
    print(f"{len(requests)} requests, {len(steps)} swap calls; quiet (no swap call beside): "
          f"n={len(quiet)} p50 {statistics.median(quiet):.2f} p99 {quiet_p99:.2f} max {max(quiet):.2f} ms")
    print(f"{'swap step':<34} {'calls':>5} {'step ms p50/max':>16} {'requests':>8} {'p50':>7} {'max':>8} {'max-p99q':>9}")
    for kind in sorted({k for *_, k in steps}):
        durations = [(e - s) * 1000 for s, e, k in steps if k == kind]
        seen = by_kind.get(kind, [])
        line = f"{kind:<34} {len(durations):>5} {statistics.median(durations):>7.1f}/{max(durations):>8.1f}"
        if seen:
            line += f" {len(seen):>8} {statistics.median(seen):>7.2f} {max(seen):>8.2f} {max(seen) - quiet_p99:>+9.2f}"
        print(line)
    print("slowest requests:")
    for ms, kinds in sorted(overlapped, reverse=True)[:12]:
        print(f"  {ms:8.2f} ms beside: {', '.join(kinds) or '(nothing)'}")


if __name__ == "__main__":
    main()
