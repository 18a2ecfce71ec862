"""The API while a real-size day loads on the same cores: what its users see during the daily load,
and how long the load takes while the API is kept busy.

    .venv/bin/python benchmarks/bench_api_during_load.py --warehouse /work/bench-data/real --day 2026-12-16

Starts the API over the benchmark warehouse and runs the uncached mix (bench_api_scale.py's paths
file) in back-to-back windows, concurrency 1 and 16 in turn: ``--pairs`` pairs before the load, then
from the start of a reload of ``--day`` until the load process has exited, then ``--pairs`` pairs
after, once the generation it replaced is detached. The load is bench_real_day.py's own load part
(source -> committed, then the publish, the compaction and the publish again, as a load run does),
with ``--writer-session``: without a terminal it moves into a session of its own at the
writer's autogroup nice, as the code location runs a load (where it ran is printed). A window is
"during" if it ended before the load exited, "end" if the load exited inside it. Reloading a loaded
day with the same generator replaces it with the same rows: the warehouse's figures do not change.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api_scale import DETACHED_AFTER_SECONDS, wrk_max  # noqa: E402
from tests.support.processes import free_port, start, stop, wait_http  # noqa: E402


def window(base: str, paths: Path, seconds: int, connections: int) -> dict:
    started = time.monotonic()
    result = wrk_max(base, connections, seconds, paths)
    return {"connections": connections, "started": started, "ended": time.monotonic(), **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--day", required=True, help="a day already loaded, reloaded with the same generator")
    parser.add_argument("--seconds", type=int, default=20, help="each window")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of windows before and after the load")
    args = parser.parse_args()
    logs = args.warehouse / "bench-logs"
    paths = logs / "paths.txt"  # written by bench_api_scale.py
    port = free_port()
    api = start([sys.executable, "-m", "pepy_api", "--port", str(port), "--log-level", "warning"],
                {"PEPY_HOME": str(args.warehouse), "PEPY_DATABASE": "pepy"}, logs / "api_during_load.log")
    load = None
    exited: list[float] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health-check", api, logs / "api_during_load.log", timeout=600)
        time.sleep(10)  # the first generation's swap settles
        before = [window(base, paths, args.seconds, c) for _ in range(args.pairs) for c in (1, 16)]
        started = time.monotonic()
        with open(logs / "load_during_api.err", "w") as errors:  # a file: a full pipe would stall the load
            load = subprocess.Popen([sys.executable, str(ROOT / "benchmarks/bench_real_day.py"), "--part", "load",
                                     "--day", args.day, "--warehouse", str(args.warehouse), "--publish",
                                     "--writer-session"],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        out = []

        def wait_for_load() -> None:  # its output (read to the end, then its exit), then when it exited
            out.append(load.communicate()[0])
            exited.append(time.monotonic())

        waiter = threading.Thread(target=wait_for_load, daemon=True)
        waiter.start()
        during = []
        while not exited:
            during.append(window(base, paths, args.seconds, 1 if len(during) % 2 == 0 else 16))
        waiter.join()
        if load.returncode:
            raise SystemExit(f"the load failed (exit {load.returncode}): see {logs / 'load_during_api.err'}")
        time.sleep(DETACHED_AFTER_SECONDS)  # the generation it replaced is detached
        after = [window(base, paths, args.seconds, c) for _ in range(args.pairs) for c in (1, 16)]
    finally:
        if load is not None and load.poll() is None:
            load.kill()  # by pid: it may have left this process group for a session of its own
            load.wait()
        stop(api)
    result = json.loads(out[0].strip().splitlines()[-1])
    ended = exited[0]
    print(f"Reload of {args.day} beside the API ({args.seconds} s windows, uncached mix), writer: "
          f"{result.get('writer_session', 'not recorded')}\n")
    print(f"* source -> committed {result['total_s']:.1f} s (staged {result['stage_s']:.1f}, rollups "
          f"{result['rollup_s']:.1f}, commit {result['commit_s']:.1f}), peak RSS {result['peak_rss_mb']:,.0f} MiB; "
          f"publish {result['publish_s']:.1f} s, compaction {result['compaction_s']:.1f} s"
          + (f" (+ publish {result['republish_s']:.1f} s)" if "republish_s" in result else "")
          + f"; checks {result['checks']}")
    print(f"* load process start to exit: {ended - started:.1f} s\n")
    print("| phase | connections | requests/s | p50 ms | p99 ms | max ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for phase, rows in (("before", before), ("during", during), ("after", after)):
        for row in rows:
            label = "end" if phase == "during" and row["ended"] > ended else phase
            print(f"| {label} | {row['connections']} | {row['rps']:,.0f} | {row['p50']:.2f} | {row['p99']:.2f} | "
                  f"{row['max']:.1f} | {row['errors']} |")
    print("\n<!-- " + json.dumps({"load": result, "load_seconds": ended - started,
                                  "windows": {"before": before, "during": during, "after": after}}) + " -->")


if __name__ == "__main__":
    main()
