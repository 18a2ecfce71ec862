"""Where the CPU goes while generations are swapped under load (the ninth pass's probe).

    .venv/bin/python benchmarks/bench_swap_cpu.py --warehouse /work/bench-data/real \
        [--api-refresh 0.5] [--writer-session true|false] [--writer-nice 10]

Starts the API over the benchmark warehouse (log level info: its access log and its timed swap
steps), puts the concurrency-16 uncached mix on it with wrk for 45 s, and 15 s in starts a
publisher (a separate process, as bench_api_scale.py's) that publishes three generations. Every
thread of both processes is sampled every 0.2 s. Prints the CPU seconds each kind of thread used
(by process, thread name and the nice values seen), the API's requests per second with their
p50 / p90 / max latency second by second, and the API's swap lines. ``--api-refresh 3600`` keeps
the API from attaching anything (the publisher's share alone); ``--writer-session false`` leaves
the publisher in this script's session (how it ran before the ninth pass).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api_scale import finished, warehouse  # noqa: E402
from tests.support.processes import free_port, start, stop, wait_http  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
ACCESS = re.compile(r"(\S+ \S+) INFO pepy_api.access: GET \S+ \d+ ([\d.]+)ms")


def thread_times(pid: int) -> dict[int, tuple[str, int, float]]:
    """tid -> (thread name, nice, CPU seconds so far) for every thread of ``pid``."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(task.name)] = (stat[stat.index("(") + 1:stat.rindex(")")], int(fields[16]),
                               (int(fields[11]) + int(fields[12])) / TICKS)
    return out


class Sampler(threading.Thread):
    """CPU per thread of the named processes, from first to last sight of each thread."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.pids: dict[str, int] = {}
        self.seen: dict[tuple[str, int], list] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for label, pid in list(self.pids.items()):
                try:
                    for tid, (name, nice, cpu) in thread_times(pid).items():
                        entry = self.seen.setdefault((label, tid), [name, cpu, cpu, set()])
                        entry[0], entry[2] = name, cpu
                        entry[3].add(nice)
                except FileNotFoundError:
                    pass  # the publisher has exited
            time.sleep(0.2)

    def report(self) -> list[str]:
        groups: dict[tuple, float] = collections.defaultdict(float)
        for (label, _), (name, first, last, nices) in self.seen.items():
            groups[(label, re.sub(r"\d+$", "", name), tuple(sorted(nices)))] += last - first
        return [f"{label:9s} {name:18s} nice {','.join(map(str, nices)):6s} {cpu:6.2f} CPU-s"
                for (label, name, nices), cpu in sorted(groups.items(), key=lambda kv: -kv[1]) if cpu >= 0.05]


def timeline(log: Path) -> list[str]:
    """Requests per second (by when they ended) with p50 / p90 / max ms, and the swap lines."""
    seconds: dict[dt.datetime, list[float]] = collections.defaultdict(list)
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        found = ACCESS.match(line)
        if found:
            ended = dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(microsecond=0)
            seconds[ended].append(float(found.group(2)))
        elif "serving generation" in line or "detached" in line:
            lines.append(line)
    for second, values in sorted(seconds.items()):
        values.sort()
        lines.append(f"{second:%H:%M:%S} {len(values):4d} req  p50 {values[len(values) // 2]:5.0f}  "
                     f"p90 {values[int(len(values) * 0.9)]:5.0f}  max {values[-1]:5.0f} ms")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--api-refresh", default="0.5", help="the API's refresh seconds (3600: it attaches nothing)")
    parser.add_argument("--writer-session", default="true", choices=("true", "false"))
    parser.add_argument("--writer-nice", default="10")
    args = parser.parse_args()
    logs = args.warehouse / "bench-logs"
    paths = logs / "paths.txt"  # written by bench_api_scale.py
    api_log = logs / "api_swap_cpu.log"
    port = free_port()
    api = start([sys.executable, "-m", "pepy_api", "--port", str(port), "--log-level", "info"],
                {"PEPY_HOME": str(args.warehouse), "PEPY_DATABASE": "pepy", "PEPY_REFRESH_SECONDS": args.api_refresh},
                api_log)
    os.environ.update(PEPY_WRITER_SESSION=args.writer_session, PEPY_WRITER_NICE=args.writer_nice)
    sampler = Sampler()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health-check", api, api_log, timeout=600)
        time.sleep(20)  # the first generation's swap settles
        load = subprocess.Popen(["wrk", "-t2", "-c16", "-d45s", "--latency", "-s",
                                 str(ROOT / "benchmarks/wrk_uncached.lua"), base],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PEPY_PATHS": str(paths)})
        sampler.pids["api"] = api.pid
        sampler.start()
        time.sleep(15)
        publisher = warehouse(args.warehouse, "pepy", "publish", loops=3)
        sampler.pids["publisher"] = publisher.pid
        published = finished(publisher)
        out = load.communicate()[0]
        sampler.stopping.set()
        sampler.join()
    finally:
        stop(api)
    print(f"publishes took {', '.join(f'{s:.1f}' for s in published['publish_seconds'])} s "
          f"(writer session {args.writer_session}, nice {args.writer_nice}; API refresh {args.api_refresh} s)\n")
    print(out[out.find("Latency Distribution"):])
    print("\n".join(sampler.report()))
    print()
    print("\n".join(timeline(api_log)))


if __name__ == "__main__":
    main()
