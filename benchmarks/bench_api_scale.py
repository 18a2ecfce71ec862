"""API benchmark over a prebuilt, reusable warehouse (issue 8): real-size history, every time
also as a ratio to the constant endpoint's p50 measured in the same run.

    .venv/bin/python benchmarks/bench_api_scale.py --warehouse /work/bench-data/real [--publish] [--postgres]

The warehouse is built once (templates + ``build_history.py``) and reused; ``--publish`` first
publishes it (recent sums, generation) through ``pepy_pipeline.warehouse.publish``, timed. Then, with
the API and the constant app (benchmarks/constant_app.py) started by tests/support/processes.py:

* constant endpoint p50/p99 at concurrency 1 (wrk), before and after: the run's ceiling;
* uncached latency at concurrency 1 (a unique ignored query parameter) for every endpoint over
  Zipf-sampled projects and over the 20 largest projects, p50/p99;
* all-history breakdowns of the largest project (start_date = first day of history);
* prefix search p99 (prefixes of Zipf-sampled names);
* API process RSS (current and peak) after all of the above;
* concurrency 16, uncached mix (wrk_uncached.lua), outside a swap and from the start of a separate
  process that publishes ``--swap-publishes`` new generations: p50/p99/max and errors, side by side,
  in two rounds (the criterion compares two single slowest requests), with the times the API
  started serving each new generation and how many of them fell inside the window (a swap after it
  would leave the round measuring the writer alone), each followed by the API's RSS once the old
  generations are detached (its peak is the process's since it started); ``--swap-controls`` adds
  two controls per round: two windows with nothing happening (the criterion's noise), and the API's
  own swaps with no writer running (``CURRENT`` pointed at earlier generations still on disk);
  ``--swap-warm-writer`` a round whose writer started and connected before both windows (its
  imports and engine open outside them, as when a load run publishes at its end);
* with ``--postgres``: the PostgreSQL yardstick (bench_postgres.py) on the same rows.

Every warehouse access runs in a child process: an embedded chDB directory is one process's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import MIX, endpoint_paths, percentile, run_wrk, zipf_projects  # noqa: E402
from pepy_api.store.reader import RETIRE_AFTER_SECONDS  # noqa: E402
from pepy_warehouse.generation import current_manifest, point_at, pointer_path  # noqa: E402
from tests.support.processes import free_port, start, stop, wait_http  # noqa: E402

WAREHOUSE_SCRIPT = """
import json, sys, time
from pathlib import Path
from pepy_pipeline.warehouse.publish import publish
from pepy_pipeline.settings import PipelineSettings
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
home, database, action, loops = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
warm = len(sys.argv) > 5 and sys.argv[5] == "warm"
# As the code location sets them (PipelineSettings: PEPY_WRITER_SESSION, PEPY_WRITER_NICE): a publish
# is a writer of its own.
settings = PipelineSettings()
warehouse = ClickHouseWarehouse(dsn=f"chdb://{home / 'warehouse'}", database=database,
                                writer_session=settings.writer_session, writer_nice=settings.writer_nice)
out = {}
with warehouse.connect() as client:
    if warm:  # started and connected: publish when told (as a load run publishes at its end)
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":  # the benchmark ended (its pipe closed): publish nothing
            sys.exit("not told to publish")
    if action == "publish":
        seconds = []
        for _ in range(loops):
            started = time.perf_counter()
            publish(client, database, warehouse.data_path)
            seconds.append(time.perf_counter() - started)
        out["publish_seconds"] = seconds
    ranked = client.query(f"SELECT project FROM {database}.project_alltime WHERE project != '__all__' "
                          "GROUP BY project ORDER BY sum(downloads) DESC").result_rows
    out["ranked"] = [r[0] for r in ranked]
    first, last, days = client.query(f"SELECT min(date), max(date), uniqExact(date) FROM {database}.project_daily").result_rows[0]
    out.update(first_day=str(first), last_day=str(last), days=days)
print(json.dumps(out))
"""


def warehouse(home: Path, database: str, action: str, loops: int = 1, warm: bool = False) -> subprocess.Popen:
    """A writer process doing ``action``; ``warm``: it starts, connects, prints ``ready`` and does
    the action once told ``go`` on its stdin (any other line, or the pipe closing, ends it)."""
    process = subprocess.Popen([sys.executable, "-c", WAREHOUSE_SCRIPT, str(home), database, action, str(loops),
                                "warm" if warm else "cold"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.PIPE if warm else None, text=True)
    if warm and process.stdout.readline().strip() != "ready":
        process.kill()
        raise SystemExit(f"the writer did not start: {process.communicate()[1][-3000:]}")
    return process


def finished(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if process.returncode:
        raise SystemExit(err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def history_paths(project: str, first_day: str) -> dict[str, str]:
    """All-history breakdowns (start_date = the first day of history)."""
    return {
        "overall_all": f"/api/packages/{project}/overall?start_date={first_day}",
        "python_minor_all": f"/api/packages/{project}/python_minor?start_date={first_day}",
        "system_all": f"/api/packages/{project}/system?start_date={first_day}",
        "installer_by_day_all": f"/v1/projects/{project}/downloads?by=installer&start_date={first_day}",
        "country_by_month_all": f"/v1/projects/{project}/downloads?by=country&granularity=month&start_date={first_day}",
        "versions_by_month_all": f"/v1/projects/{project}/downloads?by=version&granularity=month&start_date={first_day}",
    }


class LeanClient:
    """One keep-alive HTTP/1.1 connection through ``http.client``: about 0.1 ms of client time
    per request, where httpx spent ~1.5 ms (measured: the constant endpoint at 2.0 ms p50 through
    httpx, 0.6 ms through this), which the previous run counted as the API's."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def get(self, path: str) -> "LeanResponse":
        self._connection.request("GET", path, headers={"Accept-Encoding": "gzip"})  # as browsers ask
        response = self._connection.getresponse()
        return LeanResponse(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})

    def __enter__(self) -> "LeanClient":
        return self

    def __exit__(self, *exc) -> None:
        self._connection.close()


@dataclass
class LeanResponse:
    status_code: int
    content: bytes
    headers: dict = field(default_factory=dict)


def timed_get(http: LeanClient, path: str, tag: str) -> tuple[float, LeanResponse]:
    path += ("&" if "?" in path else "?") + f"_nocache={tag}"
    started = time.perf_counter()
    response = http.get(path)
    return (time.perf_counter() - started) * 1000, response


def same_client_ceiling(url: str, requests: int = 2000) -> dict:
    """The constant endpoint through the client the uncached runs use, concurrency 1."""
    base, path = url.rsplit("/", 1)
    with LeanClient(base) as http:
        samples = [timed_get(http, "/" + path, str(index))[0] for index in range(requests)]
    return {"p50": statistics.median(samples), "p99": percentile(samples, 99)}


#: pypistats questions asked again over the PostgreSQL yardstick's window (like for like).
YARDSTICK_KINDS = ("overall", "python_minor", "system")


def yardstick_paths(project: str, since: dt.date) -> dict[str, str]:
    return {f"pypistats_{kind} since {since}": f"/api/packages/{project}/{kind}?start_date={since}"
            for kind in YARDSTICK_KINDS}


def uncached(base: str, ranked: list[str], per_endpoint: int, first_day: str, rng: random.Random,
             since: dt.date | None = None) -> dict:
    results = {}
    largest = ranked[:20]
    # The yardstick's draws come from their own generator: the other endpoints see the same
    # projects with or without --postgres.
    questions = [(endpoint, endpoint_paths, rng) for endpoint in MIX]
    if since:
        yardstick_rng = random.Random(4242)
        questions += [(endpoint, lambda project: yardstick_paths(project, since), yardstick_rng)
                      for endpoint in yardstick_paths("-", since)]
    with LeanClient(base) as http:
        for endpoint, paths_of, draws in questions:
            zipf, big, errors = [], [], 0
            for index, project in enumerate(zipf_projects(ranked, per_endpoint, draws) + largest):
                ms, response = timed_get(http, paths_of(project)[endpoint], f"{time.time_ns()}{index}")
                errors += response.status_code != 200
                (big if index >= per_endpoint else zipf).append(ms)
            results[endpoint] = {"p50": statistics.median(zipf), "p99": percentile(zipf, 99),
                                 "largest_p50": statistics.median(big), "largest_p99": percentile(big, 99), "errors": errors}
        for name, path in history_paths(ranked[0], first_day).items():
            samples, size, errors = [], 0, 0
            for index in range(10):
                ms, response = timed_get(http, path, f"{time.time_ns()}{index}")
                samples.append(ms)
                size = len(response.content)
                errors += response.status_code != 200
            results[f"{name} ({ranked[0]})"] = {"p50": statistics.median(samples), "p99": max(samples),
                                                "bytes": size, "errors": errors}
        names = zipf_projects(ranked, per_endpoint, rng)
        samples, errors = [], 0
        for index, name in enumerate(names):
            prefix = name[: rng.randint(1, min(4, len(name)))]
            ms, response = timed_get(http, f"/v1/projects?prefix={prefix}&limit=20", f"{time.time_ns()}{index}")
            samples.append(ms)
            errors += response.status_code != 200
        results["prefix_search"] = {"p50": statistics.median(samples), "p99": percentile(samples, 99), "errors": errors}
    return results


def rss_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    current = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return current, peak


def wrk_max(url: str, connections: int, seconds: int, paths: Path) -> dict:
    """run_wrk with uncached paths, plus the maximum latency wrk saw."""
    env = dict(os.environ, PEPY_PATHS=str(paths))
    output = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                             "-s", str(ROOT / "benchmarks/wrk_uncached.lua"), url],
                            capture_output=True, text=True, env=env, check=True).stdout

    def ms(value: str, unit: str) -> float:
        return float(value) / 1000 if unit == "us" else float(value) * 1000 if unit == "s" else float(value)

    result = parse_wrk(output)
    latency = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)", output)
    result["max"] = ms(*latency.groups())
    return result


def parse_wrk(output: str) -> dict:
    def latency(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) / 1000 if unit == "us" else float(value) * 1000 if unit == "s" else float(value)

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(int(g) for g in socket.groups()) if socket else 0)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), "p50": latency("50"),
            "p99": latency("99"), "errors": errors}


class SwapWatcher(threading.Thread):
    """When the API starts serving each new generation: a cheap answer's ETag (derived from the
    served generation) polled every 0.1 s, so a round can show its swaps landed in its window.
    It runs through both windows of a round, so both carry its ~10 requests/s."""

    def __init__(self, base: str, path: str) -> None:
        super().__init__(daemon=True)
        self._base, self._path = base, path
        self.swaps: list[float] = []  # time.monotonic() of each change seen
        self.error: Exception | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            with LeanClient(self._base) as client:
                seen = client.get(self._path).headers.get("etag")
                while not self.stopping.wait(0.1):
                    etag = client.get(self._path).headers.get("etag")
                    if etag != seen:
                        self.swaps.append(time.monotonic())
                        seen = etag
        except Exception as error:  # noqa: BLE001 - reported with the round, never taken for "no swap"
            self.error = error

    def seen_in(self, started: float, ended: float) -> dict:
        if self.error is not None:
            raise SystemExit(f"the swap watcher failed: {self.error!r}")
        return {"swaps_at": [round(t - started, 1) for t in self.swaps if t >= started],
                "swaps_inside": sum(started <= t <= ended for t in self.swaps)}


@contextlib.contextmanager
def watching(base: str, path: str):
    watcher = SwapWatcher(base, path)
    watcher.start()
    try:
        yield watcher
    finally:
        watcher.stopping.set()
        watcher.join()


#: How long after a swap the API still holds the generation it replaced, plus a margin.
DETACHED_AFTER_SECONDS = RETIRE_AFTER_SECONDS + 5


def swap_comparison(base: str, home: Path, database: str, paths: Path, seconds: int, publishes: int,
                    watch_path: str, warm: bool = False) -> dict:
    """The same uncached mix for ``seconds`` outside a swap, then for ``seconds`` from the start of a
    publisher that publishes ``publishes`` generations; the API's swaps seen inside the second
    window are counted (a swap after it would leave the round measuring the publisher only).
    ``warm``: the publisher was started and connected before the first window (its imports and
    engine open out of both windows, as when a load run publishes at its end) and publishes from
    the second window's start."""
    publisher = None
    with watching(base, watch_path) as watcher:
        try:
            publisher = warehouse(home, database, "publish", loops=publishes, warm=True) if warm else None
            outside = wrk_max(base, 16, seconds, paths)
            started = time.monotonic()
            if warm:
                publisher.stdin.write("go\n")
                publisher.stdin.flush()
            else:
                publisher = warehouse(home, database, "publish", loops=publishes)
            during = wrk_max(base, 16, seconds, paths)
            ended = time.monotonic()
            published = finished(publisher)
        finally:
            if publisher is not None and publisher.poll() is None:
                publisher.kill()  # by pid: it runs in a session of its own
                publisher.wait()
        time.sleep(8)  # a swap still under way when the publisher ended
    return {"outside": outside, "during": during, "publish_seconds": published["publish_seconds"],
            "publishes": publishes, **watcher.seen_in(started, ended)}


def quiet_comparison(base: str, paths: Path, seconds: int, watch_path: str) -> dict:
    """Two windows back to back with nothing else running (the watcher polling, as in the other
    rounds): how far apart two slowest requests are on this machine without any swap."""
    with watching(base, watch_path):
        return {"outside": wrk_max(base, 16, seconds, paths), "during": wrk_max(base, 16, seconds, paths)}


def kept_generations(home: Path) -> list[str]:
    """Earlier generations whose manifest and frozen parts are still on disk, newest first."""
    current = current_manifest(home / "warehouse")
    names = []
    for manifest in sorted(pointer_path(home / "warehouse").parent.glob("g*.json"), reverse=True):
        shadow = json.loads(manifest.read_text()).get("shadow_path", "")
        if manifest.stem != (current or {}).get("generation") and Path(shadow).is_dir():
            names.append(manifest.stem)
    return names


def own_swap_comparison(base: str, home: Path, database: str, paths: Path, seconds: int, watch_path: str) -> dict:
    """The API's own share of a swap, without a writer process: ``CURRENT`` pointed at two earlier
    generations still on disk (a fifth and three fifths into the second window), as a publish
    points it at a new one; the API attaches, validates, warms up and reads the totals of each.
    ``CURRENT`` is put back (unless something else moved it meanwhile) once the API has detached
    the generation it served before, which it could not attach twice; it is then served again
    before the next window. With fewer than two earlier generations on disk (a writer removes
    all but the current and previous ones after a grace period), two are published first, and the
    API given the time to detach what it replaced; empty if there are still fewer."""
    warehouse_dir = home / "warehouse"
    if len(kept_generations(home)) < 2:
        finished(warehouse(home, database, "publish", loops=2))
        time.sleep(DETACHED_AFTER_SECONDS)
    current = pointer_path(warehouse_dir).read_text().strip()
    kept = kept_generations(home)[:2]
    if len(kept) < 2:
        return {}
    cancelled = threading.Event()

    def point(started: float) -> None:
        for at, name in zip((0.2, 0.6), kept):
            if cancelled.wait(max(0.0, started + at * seconds - time.monotonic())):
                return
            point_at(warehouse_dir, name)

    with watching(base, watch_path) as watcher:
        outside = wrk_max(base, 16, seconds, paths)
        started = time.monotonic()
        pointing = threading.Thread(target=point, args=(started,))
        pointing.start()
        try:
            during = wrk_max(base, 16, seconds, paths)
            ended = time.monotonic()
            pointing.join()
            time.sleep(DETACHED_AFTER_SECONDS)
            seen = watcher.seen_in(started, ended)  # a swap the window ended during included
        finally:
            cancelled.set()
            pointing.join()
            if pointer_path(warehouse_dir).read_text().strip() in kept:
                point_at(warehouse_dir, current)
    time.sleep(10)  # served again
    return {"outside": outside, "during": during, **seen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--publish", action="store_true", help="publish the warehouse first (timed)")
    parser.add_argument("--postgres", action="store_true", help="also run the PostgreSQL yardstick")
    parser.add_argument("--pgdata", type=Path, default=Path("/work/bench-data/pg"))
    parser.add_argument("--postgres-days", type=int, default=180, help="days loaded into PostgreSQL (pypistats keeps 180)")
    parser.add_argument("--per-endpoint", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--swap-seconds", type=int, default=30,
                        help="each concurrency-16 window (long enough for the swaps to land in the second)")
    parser.add_argument("--swap-publishes", type=int, default=2, help="generations published in each swap window")
    parser.add_argument("--swap-controls", action="store_true",
                        help="each swap round also runs two windows with nothing happening and the API's own swaps "
                             "without a writer (CURRENT pointed at earlier generations still on disk)")
    parser.add_argument("--swap-warm-writer", action="store_true",
                        help="each swap round also runs a writer started and connected before both windows that "
                             "publishes from the second's start (as a load run publishes at its end)")
    parser.add_argument("--swap-only", action="store_true", help="only the concurrency-16 swap rounds (and RSS)")
    args = parser.parse_args()
    rng = random.Random(42)
    home = args.warehouse
    facts = finished(warehouse(home, args.database, "publish" if args.publish else "facts"))
    ranked = facts["ranked"]
    logs = home / "bench-logs"
    logs.mkdir(exist_ok=True)
    paths = logs / "paths.txt"
    endpoints = rng.choices(list(MIX), weights=list(MIX.values()), k=20_000)
    paths.write_text("\n".join(endpoint_paths(p)[e] for p, e in zip(zipf_projects(ranked, 20_000, rng), endpoints)) + "\n")

    api_port, constant_port = free_port(), free_port()
    api = start([sys.executable, "-m", "pepy_api", "--port", str(api_port), "--log-level", "warning"],
                {"PEPY_HOME": str(home), "PEPY_DATABASE": args.database, "PEPY_REFRESH_SECONDS": "0.5"}, logs / "api.log")
    constant = start([sys.executable, "-m", "uvicorn", "benchmarks.constant_app:app", "--port", str(constant_port),
                      "--log-level", "warning", "--no-access-log"], {}, logs / "constant.log")
    constant_url = f"http://127.0.0.1:{constant_port}/constant"
    try:
        base = f"http://127.0.0.1:{api_port}"
        wait_http(f"{base}/health-check", api, logs / "api.log", timeout=600)
        wait_http(constant_url, constant, logs / "constant.log")
        ceiling_before = run_wrk(constant_url, 1, args.seconds, None)
        client_before = same_client_ceiling(constant_url)
        # The yardstick holds the postgres_days days up to last_day (date > last_day - postgres_days):
        # ask ours the same window, from its first day.
        since = (dt.date.fromisoformat(str(facts["last_day"])) - dt.timedelta(days=args.postgres_days - 1)
                 if args.postgres else None)
        results = {} if args.swap_only else uncached(base, ranked, args.per_endpoint, facts["first_day"], rng, since)
        client_after = same_client_ceiling(constant_url)
        rss = rss_mb(api.pid)
        # Two rounds: the criterion compares two single slowest requests, which move by hundreds
        # of ms between runs on 2 shared cores.
        swaps = []
        watch_path = f"/badge/{ranked[0]}"
        for _ in range(2):
            if args.swap_controls:
                quiet = quiet_comparison(base, paths, args.swap_seconds, watch_path)
                own = own_swap_comparison(base, home, args.database, paths, args.swap_seconds, watch_path)
                if own:
                    time.sleep(DETACHED_AFTER_SECONDS)  # the generations it attached are detached
            swaps.append(swap_comparison(base, home, args.database, paths, args.swap_seconds, args.swap_publishes,
                                         watch_path))
            if args.swap_controls:
                swaps[-1].update(quiet=quiet, own=own)
            if args.swap_warm_writer:
                time.sleep(DETACHED_AFTER_SECONDS)  # the generations swapped out are detached
                swaps[-1]["warm"] = swap_comparison(base, home, args.database, paths, args.swap_seconds,
                                                    args.swap_publishes, watch_path, warm=True)
            time.sleep(DETACHED_AFTER_SECONDS)  # the generations swapped out are detached
            swaps[-1]["rss_after"] = rss_mb(api.pid)
        ceiling_after = run_wrk(constant_url, 1, args.seconds, None)
    finally:
        stop(api)
        stop(constant)
    yardstick = ""
    if args.postgres:
        done = subprocess.run([sys.executable, str(ROOT / "benchmarks/bench_postgres.py"), "--warehouse", str(home),
                               "--database", args.database, "--pgdata", str(args.pgdata),
                               "--days", str(args.postgres_days)],
                              cwd=ROOT, capture_output=True, text=True)
        yardstick = done.stdout if done.returncode == 0 else f"PostgreSQL yardstick failed:\n{done.stderr[-2000:]}"
    print_report(facts, args, results, rss, swaps, ceiling_before, ceiling_after, client_before, client_after,
                 yardstick)


def print_report(facts, args, results, rss, swaps, before, after, client_before, client_after, yardstick) -> None:
    unit = client_before["p50"]
    print(f"## API over {facts['days']} days ({facts['first_day']} .. {facts['last_day']}), "
          f"{len(facts['ranked']):,} projects ({time.strftime('%Y-%m-%d')})\n")
    if "publish_seconds" in facts:
        print(f"* published (serving tables, totals, generation) in {facts['publish_seconds'][0]:.1f} s")
    print(f"* constant endpoint at concurrency 1 (wrk): p50 {before['p50']:.2f} ms / p99 {before['p99']:.2f} ms before, "
          f"p50 {after['p50']:.2f} ms after")
    print(f"* constant endpoint at concurrency 1 through the uncached runs' client: p50 {client_before['p50']:.2f} ms / "
          f"p99 {client_before['p99']:.2f} ms before, p50 {client_after['p50']:.2f} ms / p99 {client_after['p99']:.2f} ms "
          f"after; ratios below use **{unit:.2f} ms**")
    print(f"* API RSS after the uncached runs: {rss[0]:,.0f} MB (peak {rss[1]:,.0f} MB)\n")
    print(f"Uncached, concurrency 1, {args.per_endpoint} Zipf-sampled projects and the 20 largest:\n")
    print("| endpoint | p50 ms | p99 ms | p99 / const p50 | largest p50 ms | largest p99 ms | largest p99 / const p50 | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        big = (f"{r['largest_p50']:.2f} | {r['largest_p99']:.2f} | {r['largest_p99'] / unit:.0f}x" if "largest_p50" in r
               else "- | - | -")
        extra = f" ({r['bytes']:,} B)" if "bytes" in r else ""
        print(f"| {name}{extra} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p99'] / unit:.0f}x | {big} | {r['errors']} |")
    for number, swap in enumerate(swaps, 1):
        print(textwrap.dedent(f"""
            Concurrency 16, uncached mix, {args.swap_seconds} s each, round {number}; {swap['publishes']} publishes
            from the second window's start took {', '.join(f'{s:.1f}' for s in swap['publish_seconds'])} s; the API
            swapped at {', '.join(f'{s:.1f}' for s in swap['swaps_at']) or 'no time'} s, {swap['swaps_inside']} of
            them inside the window:

            | window | requests/s | p50 ms | p99 ms | max ms | max / const p50 | errors |
            | --- | ---: | ---: | ---: | ---: | ---: | ---: |"""))
        for label in ("outside", "during"):
            r = swap[label]
            print(f"| {label} a swap | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | "
                  f"{r['max'] / unit:.0f}x | {r['errors']} |")
        for control, title in (("quiet", "nothing happening (the second window against the first)"),
                               ("own", "the API's own swaps, no writer (CURRENT pointed at earlier generations)"),
                               ("warm", "a writer started before both windows, publishing from the second's start")):
            if control in swap and not swap[control]:
                print(f"* {title}: not run (fewer than two earlier generations on disk, even after publishing two)")
            elif swap.get(control):
                c = swap[control]
                swapped = (f"; swapped at {', '.join(f'{s:.1f}' for s in c['swaps_at'])} s, {c['swaps_inside']} inside"
                           if "swaps_at" in c else "")
                if "publish_seconds" in c:
                    swapped += f"; publishes took {', '.join(f'{s:.1f}' for s in c['publish_seconds'])} s"
                print(f"* {title}: second window's slowest minus the first's **{c['during']['max'] - c['outside']['max']:+.1f} ms**, "
                      f"p99 {c['during']['p99'] - c['outside']['p99']:+.1f} ms, requests/s {c['outside']['rps']:,.0f} -> "
                      f"{c['during']['rps']:,.0f}{swapped}")
        complete = "" if swap["swaps_inside"] >= swap["publishes"] else " (not every swap inside the window)"
        print(f"\n* slowest request during a swap minus outside: **{swap['during']['max'] - swap['outside']['max']:+.1f} ms**"
              + complete)
        print(f"* API RSS after the swaps (old generations detached): {swap['rss_after'][0]:,.0f} MB "
              f"(peak {swap['rss_after'][1]:,.0f} MB)")
    if yardstick:
        print("\n" + yardstick)


if __name__ == "__main__":
    main()
