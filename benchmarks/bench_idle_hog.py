"""What work beside the API costs it on this machine, at the lowest priorities a writer could take.

    .venv/bin/python benchmarks/bench_idle_hog.py --warehouse /work/bench-data/real [--kinds none,cpu,memory,cpu,memory]

Starts the API over the benchmark warehouse and puts the concurrency-16 uncached mix on it
(bench_api_scale.py's paths file) in pairs of windows: the first with nothing else running, the
second beside a "hog" of the given kind, two workers (as a publish's engine runs two threads) in a
session of their own at autogroup nice 10 (as a writer runs) and under SCHED_IDLE on top, or, for a
kind ending in ``@idle``, in a CPU cgroup with ``cpu.idle`` set instead (needs a writable cgroup
mount, as root here).

* ``none``: no hog, the pair's own noise;
* ``cpu``: a busy loop (no memory traffic);
* ``memory``: 64 MB arrays copied back and forth (memory bandwidth and the shared cache).

For each pair: requests/s, p99 and slowest request, the second window's slowest minus the
first's (the swap criterion's measure), the CPU-seconds the hog got, and the time the hypervisor
stole from this machine's vCPUs during the second window. Were the hogs' cost zero, the swap
rounds' excess would be the API's own. The ``@idle`` cgroup is left in place (cgroup v1 here; on
cgroup v2 the parent must have delegated the cpu controller).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api_scale import wrk_max  # noqa: E402
from tests.support.processes import free_port, start, stop, wait_http  # noqa: E402

HOG = """
import os, sys, time
kind, seconds, cgroup = sys.argv[1], float(sys.argv[2]), sys.argv[3]
if cgroup:  # an idle CPU cgroup: autogroups do not apply inside it
    open(os.path.join(cgroup, "cgroup.procs"), "w").write(str(os.getpid()))
else:
    os.setsid()
    open("/proc/self/autogroup", "w").write("10")
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
workers = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        end = time.time() + seconds
        if kind == "cpu":
            x = 0
            while time.time() < end:
                for i in range(100_000):
                    x += i
        else:
            import numpy as np
            a = np.ones(64 * 2**20 // 8)
            b = np.empty_like(a)
            while time.time() < end:
                np.copyto(b, a)
                np.copyto(a, b)
        os._exit(0)
    workers.append(pid)
failed = max(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0 for pid in workers)
print(os.times().children_user + os.times().children_system)  # the CPU-seconds the hog got
sys.exit(failed)
"""


def steal_seconds() -> float:
    """CPU time the hypervisor gave to others while this machine's vCPUs wanted it (all CPUs)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def idle_cgroup() -> Path:
    """A CPU cgroup whose tasks run only when nothing else wants the CPU (``cpu.idle`` = 1)."""
    for mount in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")):
        if (mount / "cpu.idle").exists() or (mount / "cgroup.subtree_control").exists():
            group = mount / "pepy_bench_idle"
            group.mkdir(exist_ok=True)
            (group / "cpu.idle").write_text("1")
            return group
    raise SystemExit("no writable CPU cgroup with cpu.idle here")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--kinds", default="none,cpu,memory,cpu,memory")
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    if not set(kinds) <= {"none", "cpu", "memory", "cpu@idle", "memory@idle"}:
        raise SystemExit(f"unknown kind in {args.kinds}")
    cgroup = idle_cgroup() if any(kind.endswith("@idle") for kind in kinds) else None
    logs = args.warehouse / "bench-logs"
    paths = logs / "paths.txt"  # written by bench_api_scale.py
    port = free_port()
    api = start([sys.executable, "-m", "pepy_api", "--port", str(port), "--log-level", "warning"],
                {"PEPY_HOME": str(args.warehouse), "PEPY_DATABASE": "pepy"}, logs / "api_hog.log")
    rows = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health-check", api, logs / "api_hog.log", timeout=600)
        time.sleep(10)  # the first generation's swap settles
        for kind in kinds:
            first = wrk_max(base, 16, args.seconds, paths)
            hog = None if kind == "none" else subprocess.Popen(
                [sys.executable, "-c", HOG, kind.removesuffix("@idle"), str(args.seconds),
                 str(cgroup) if kind.endswith("@idle") else ""], env=dict(os.environ),
                stdout=subprocess.PIPE, text=True)
            steal = steal_seconds()
            second = wrk_max(base, 16, args.seconds, paths)
            second["steal"] = steal_seconds() - steal
            second["hog_cpu"] = 0.0
            if hog is not None:
                out, _ = hog.communicate()
                if hog.returncode != 0:
                    raise SystemExit(f"the {kind} hog failed (exit {hog.returncode}): its window had no hog")
                second["hog_cpu"] = float(out.strip())
            rows.append((kind, first, second))
    finally:
        stop(api)
    print(f"Concurrency 16, uncached mix, {args.seconds} s windows in pairs; the second beside the hog\n")
    print("| hog | requests/s | p99 ms | slowest ms | second's slowest minus first's | hog's CPU-s | steal CPU-s |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: |")
    for kind, first, second in rows:
        print(f"| {kind} | {first['rps']:,.0f} -> {second['rps']:,.0f} | {first['p99']:.1f} -> {second['p99']:.1f} | "
              f"{first['max']:.1f} -> {second['max']:.1f} | {second['max'] - first['max']:+.1f} ms | "
              f"{second['hog_cpu']:.1f} | {second['steal']:.1f} |")


if __name__ == "__main__":
    main()
