"""API benchmark: >= 50 M fact rows of the sample source at benchmark scale, the API over real
HTTP (uvicorn) driven by wrk on 127.0.0.1, against a constant FastAPI endpoint in the same run.

    .venv/bin/python benchmarks/bench_api.py [--projects 300000] [--min-rows 50000000]

Needs `wrk` (Debian package). Prints a Markdown report; results are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import free_port, start, stop, wait_http  # noqa: E402

FIRST_DAY = dt.date(2026, 9, 20)  # spans two months of serving partitions


def build_warehouse(home: Path, projects: int, min_rows: int, rows_per_day: int) -> dict:
    """Load days until at least ``min_rows`` fact rows, publish, return facts about it."""
    script = f"""
import datetime as dt, json, time
from pepy_pipeline.sources.sample import SampleSource
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
from pepy_pipeline.warehouse.day_load import load_day
from pepy_pipeline.warehouse.publish import publish
source = SampleSource(projects={projects}, rows_per_day={rows_per_day})
warehouse = ClickHouseWarehouse(dsn="chdb://{home}/warehouse")
rows, days, started = 0, 0, time.perf_counter()
with warehouse.connect() as client, warehouse.insert_clients() as extra:
    while rows < {min_rows}:
        rows += load_day(client, "pepy", source, dt.date.fromisoformat("{FIRST_DAY}") + dt.timedelta(days=days),
                         insert_clients=extra).rows
        days += 1
    loaded = time.perf_counter() - started
    publish(client, "pepy", warehouse.data_path)
    published = time.perf_counter() - started - loaded
    ranked = [r[0] for r in client.query("SELECT project FROM pepy.project_alltime WHERE project != '__all__' "
                                         "GROUP BY project ORDER BY sum(downloads) DESC").result_rows]
print(json.dumps({{"rows": rows, "days": days, "seconds": loaded, "publish_seconds": published, "ranked": ranked}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def endpoint_paths(project: str) -> dict[str, str]:
    return {
        "badge": f"/badge/{project}",
        "badge_month": f"/badge/{project}/month",
        "personalized_badge": f"/personalized-badge/{project}?period=month&units=international_system&left_color=black&right_color=orange",
        "v2_project": f"/api/v2/projects/{project}",
        "v1_project": f"/api/projects/{project}",
        "pypistats_recent": f"/api/packages/{project}/recent",
        "pypistats_overall": f"/api/packages/{project}/overall",
        "pypistats_python_minor": f"/api/packages/{project}/python_minor",
        "pypistats_system": f"/api/packages/{project}/system",
        "summary": f"/v1/projects/{project}",
        "breakdown_installer_week": f"/v1/projects/{project}/downloads?by=installer&granularity=week",
        "pro_downloads": f"/api/v3/pro/projects/{project}/downloads",
    }


#: Share of each endpoint in the realistic mix (badges dominate real traffic).
MIX = {"badge": 30, "badge_month": 10, "personalized_badge": 10, "v2_project": 15, "v1_project": 5,
       "pypistats_recent": 10, "pypistats_overall": 4, "pypistats_python_minor": 3, "pypistats_system": 3,
       "summary": 4, "breakdown_installer_week": 3, "pro_downloads": 3}


def zipf_projects(ranked: list[str], count: int, rng: random.Random) -> list[str]:
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(ranked))]
    return rng.choices(ranked, weights=weights, k=count)


def largest_and_zipf(ranked: list[str], largest: int, others: int, draws: int, rng: random.Random) -> list[str]:
    """The ``largest`` most downloaded projects, then ``others`` distinct ones from ``draws``
    Zipf draws that are not among them (in the order first drawn)."""
    top = ranked[:largest]
    drawn = [p for p in dict.fromkeys(zipf_projects(ranked, draws, rng)) if p not in top]
    return top + drawn[:others]


def uncached_latencies(base: str, ranked: list[str], per_endpoint: int, rng: random.Random) -> dict:
    """c=1, every request a cache miss (a unique ignored query parameter): the engine path."""
    results = {}
    largest = ranked[0]
    with httpx.Client(base_url=base, timeout=30) as http:
        for endpoint in MIX:
            samples, largest_samples, bad = [], [], 0
            projects = zipf_projects(ranked, per_endpoint, rng) + [largest] * 20
            for index, project in enumerate(projects):
                path = endpoint_paths(project)[endpoint]
                path += ("&" if "?" in path else "?") + f"_nocache={time.time_ns()}{index}"
                started = time.perf_counter()
                response = http.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                bad += response.status_code != 200
                (largest_samples if index >= per_endpoint else samples).append(elapsed)
            results[endpoint] = {"p50": statistics.median(samples), "p99": percentile(samples, 99),
                                 "largest_p99": percentile(largest_samples, 99), "errors": bad,
                                 "largest_bytes": len(httpx.get(base + endpoint_paths(largest)[endpoint]).content)}
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_wrk(url: str, connections: int, seconds: int, paths_file: Path | None) -> dict:
    threads = 1 if connections == 1 else 2
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    env = dict(os.environ)
    if paths_file:
        args += ["-s", str(ROOT / "benchmarks/wrk_paths.lua")]
        env["PEPY_PATHS"] = str(paths_file)
    output = subprocess.run([*args, url], capture_output=True, text=True, env=env, check=True).stdout

    def latency(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(int(g) for g in socket.groups()) if socket else 0)
    return {"rps": requests, "p50": latency("50"), "p99": latency("99"), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=300_000)
    parser.add_argument("--rows-per-day", type=int, default=3_000_000)
    parser.add_argument("--min-rows", type=int, default=50_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--per-endpoint", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="pepy-api-bench-") as directory:
        home = Path(directory)
        built = build_warehouse(home, args.projects, args.min_rows, args.rows_per_day)
        ranked = built.pop("ranked")
        paths_file = home / "paths.txt"
        endpoints = rng.choices(list(MIX), weights=list(MIX.values()), k=50_000)
        projects = zipf_projects(ranked, 50_000, rng)
        paths_file.write_text("\n".join(endpoint_paths(p)[e] for p, e in zip(projects, endpoints)) + "\n")

        api_port, constant_port = free_port(), free_port()
        api = start([sys.executable, "-m", "pepy_api", "--port", str(api_port), "--log-level", "warning"],
                    {"PEPY_HOME": str(home)}, home / "api.log")
        constant = start([sys.executable, "-m", "uvicorn", "benchmarks.constant_app:app", "--port", str(constant_port),
                          "--log-level", "warning", "--no-access-log"], {}, home / "constant.log")
        try:
            base = f"http://127.0.0.1:{api_port}"
            wait_http(f"{base}/health-check", api, home / "api.log", timeout=180)
            wait_http(f"http://127.0.0.1:{constant_port}/constant", constant, home / "constant.log")
            uncached = uncached_latencies(base, ranked, args.per_endpoint, rng)
            cold_c16 = run_wrk(base, 16, args.seconds, paths_file)  # right after start: cache cold
            run_wrk(base, 16, args.seconds * 2, paths_file)  # warm-up, not reported
            mix_c1 = run_wrk(base, 1, args.seconds, paths_file)
            mix_c16 = run_wrk(base, 16, args.seconds, paths_file)
            const_c1 = run_wrk(f"http://127.0.0.1:{constant_port}/constant", 1, args.seconds, None)
            const_c16 = run_wrk(f"http://127.0.0.1:{constant_port}/constant", 16, args.seconds, None)
        finally:
            stop(api)
            stop(constant)

    print(f"## API ({time.strftime('%Y-%m-%d')}): {built['rows']:,} fact rows, {len(ranked):,} projects, "
          f"{built['days']} days (loaded in {built['seconds']:.0f} s; serving months, totals and generation "
          f"published in {built['publish_seconds']:.0f} s)\n")
    print("Every request a cache miss (unique ignored query parameter), concurrency 1, "
          f"{args.per_endpoint} Zipf-sampled projects + 20 requests for the largest (`{ranked[0]}`):\n")
    print("| endpoint | p50 ms | p99 ms | largest project p99 ms | largest response bytes | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for endpoint, r in uncached.items():
        print(f"| {endpoint} | {r['p50']:.2f} | {r['p99']:.2f} | {r['largest_p99']:.2f} | {r['largest_bytes']:,} | {r['errors']} |")
    print(f"\nRealistic mix (Zipf projects x weighted endpoints, response cache warm as in production), wrk {args.seconds} s:\n")
    print("| target | concurrency | requests/s | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, c, r in (("API mix, cold cache (first seconds after start)", 16, cold_c16),
                        ("API mix", 1, mix_c1), ("API mix", 16, mix_c16),
                        ("constant FastAPI endpoint", 1, const_c1), ("constant FastAPI endpoint", 16, const_c16)):
        print(f"| {label} | {c} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |")
    print(f"\n* API mix at concurrency 16 = **{mix_c16['rps'] / const_c16['rps']:.0%}** of the constant endpoint's requests/s")


if __name__ == "__main__":
    main()
