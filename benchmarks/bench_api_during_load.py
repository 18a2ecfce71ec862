"""The API while a real-size day loads on the same cores: what its users see during the daily load,
and how long the load takes while the API is busy.

    .venv/bin/python benchmarks/bench_api_during_load.py --warehouse /work/bench-data/real --day 2026-12-16

Starts the API over the benchmark warehouse and runs the uncached mix (bench_api_scale.py's paths
file) in back-to-back windows, concurrency 1 and 16 in turn: ``--pairs`` pairs before the load, then
from the start of a reload of ``--day`` (bench_real_day.py: source -> committed, then the publish,
in a session of its own at the writer's autogroup nice, as the code location runs a load) until it
has ended and the pair under way is complete (the API's swap to the new generation may fall in it
or just after), then ``--pairs`` pairs after, once the replaced generation is detached. Reloading a loaded day with the
same generator replaces it with the same rows: the warehouse's figures do not change.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api_scale import DETACHED_AFTER_SECONDS, wrk_max  # noqa: E402
from tests.support.processes import free_port, start, stop, wait_http  # noqa: E402


def windows(base: str, paths: Path, seconds: int, phase: str, pairs: int | None = None,
            until: subprocess.Popen | None = None) -> list[dict]:
    """Windows at concurrency 1 then 16, ``pairs`` times or until ``until`` has ended."""
    done = []
    while (len(done) < 2 * pairs) if pairs is not None else (until.poll() is None or len(done) % 2):
        connections = 1 if len(done) % 2 == 0 else 16
        done.append({"phase": phase, "connections": connections, **wrk_max(base, connections, seconds, paths)})
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--day", required=True, help="a day already loaded, reloaded with the same generator")
    parser.add_argument("--seconds", type=int, default=20, help="each window")
    parser.add_argument("--pairs", type=int, default=2, help="pairs of windows before and after the load")
    args = parser.parse_args()
    logs = args.warehouse / "bench-logs"
    paths = logs / "paths.txt"  # written by bench_api_scale.py
    port = free_port()
    api = start([sys.executable, "-m", "pepy_api", "--port", str(port), "--log-level", "warning"],
                {"PEPY_HOME": str(args.warehouse), "PEPY_DATABASE": "pepy"}, logs / "api_during_load.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health-check", api, logs / "api_during_load.log", timeout=600)
        time.sleep(10)  # the first generation's swap settles
        rows = windows(base, paths, args.seconds, "before", pairs=args.pairs)
        started = time.monotonic()
        load = subprocess.Popen([sys.executable, str(ROOT / "benchmarks/bench_real_day.py"), "--warehouse",
                                 str(args.warehouse), "--days", args.day, "--publish"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, PEPY_WRITER_SESSION="true"))
        rows += windows(base, paths, args.seconds, "during", until=load)
        out, err = load.communicate()
        load_wall = time.monotonic() - started
        if load.returncode:
            raise SystemExit(f"the load failed:\n{err[-3000:]}")
        time.sleep(DETACHED_AFTER_SECONDS)  # the generation it replaced is detached
        rows += windows(base, paths, args.seconds, "after", pairs=args.pairs)
    finally:
        stop(api)
    print(f"Reload of {args.day} beside the API ({args.seconds} s windows, uncached mix):\n")
    print(out.strip())
    print(f"\nload process wall time, start to exit: {load_wall:.1f} s\n")
    print("| phase | connections | requests/s | p50 ms | p99 ms | max ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['phase']} | {row['connections']} | {row['rps']:,.0f} | {row['p50']:.2f} | {row['p99']:.2f} | "
              f"{row['max']:.1f} | {row['errors']} |")
    print("\n" + json.dumps(rows))


if __name__ == "__main__":
    main()
