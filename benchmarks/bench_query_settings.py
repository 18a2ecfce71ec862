"""Experiment: does any engine setting make the API's own questions cheaper at real size?

    .venv/bin/python benchmarks/bench_query_settings.py --warehouse /work/bench-data/real \
        [--rounds 3] [--variants name,name]

An engine-backed answer costs a floor of ~3.8 ms per question (parse, analysis, planning,
pipeline) plus ~0.65 ms per part it opens (fifth and eighth passes). This attaches the current
generation read-only into a fresh engine of its own (as the API does), asks the API's questions
through the API's own SQL (``pepy_api.store.queries``) about the 20 largest and 40 Zipf-drawn
projects and a project that does not exist, under the API's settings of the time ("baseline") and with
one more setting per variant, every variant of a question back to back in random order, and checks
each variant's answer equals the baseline's. Prints p50/p99 per question and variant, and the
variant's p50 as a ratio to the baseline's measured in the same rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import largest_and_zipf, percentile  # noqa: E402
from benchmarks.copies import engine  # noqa: E402
from pepy_api.store import queries  # noqa: E402
from pepy_api.store.reader import QUERY_SETTINGS  # noqa: E402
from pepy_warehouse.generation import attach_generation, current_manifest, detach_generation  # noqa: E402

#: The API's settings: the baseline (until the ninth pass it had the engine's planner passes on).
BASELINE = QUERY_SETTINGS
#: One more setting each, on top of the baseline. The ninth pass measured these on the planner's
#: baseline and the API took its planner passes off (``query_plan_enable_optimizations = 0``,
#: since dropped from here as the baseline's own); ``planner_on`` is that old baseline, and
#: ``one_thread`` the eleventh pass's question (one project's rows on 2 cores: one stream).
VARIANTS = {
    "baseline": {},
    "planner_on": {"query_plan_enable_optimizations": 1},
    "one_thread": {"max_threads": 1},
    "no_prewhere": {"optimize_move_to_prewhere": 0},
    "aggregation_in_order": {"optimize_aggregation_in_order": 1},
    "no_read_in_order": {"optimize_read_in_order": 0},
    "no_skip_indexes": {"use_skip_indexes": 0},
    "uncompressed_cache": {"use_uncompressed_cache": 1},
    "block_8192": {"max_block_size": 8192},
    "one_stream_per_part": {"merge_tree_min_rows_for_concurrent_read": 100_000_000,
                            "merge_tree_min_bytes_for_concurrent_read": 10_000_000_000},
    "no_io_pool": {"allow_asynchronous_read_from_io_pool_for_merge_tree": 0,
                   "allow_prefetched_read_pool_for_local_filesystem": 0},
    "no_profile_events": {"log_profile_events": 0, "log_query_threads": 0, "log_queries": 0},
    "no_multiple_prewhere_steps": {"enable_multiple_prewhere_read_steps": 0},
    "no_merge_filters": {"query_plan_merge_filters": 0},
    # Fourteenth pass: per-query work not tried before. The condition cache (on by default since
    # ClickHouse 25.4) looks up and stores, for every part a query reads, which granules its filter
    # matched; implicit projections are considered per part for aggregations.
    "no_condition_cache": {"use_query_condition_cache": 0},
    "no_implicit_projections": {"optimize_use_implicit_projections": 0},
    "no_projections": {"optimize_use_projections": 0},
    "no_primary_key_cache": {"use_primary_key_cache": 0},
}
MISSING = "no-such-project-for-the-benchmark"


class EngineReader:
    """The API's query helper over the benchmark's engine, with chosen settings."""

    def __init__(self, client, settings: dict) -> None:
        self.client, self.settings = client, settings

    def query(self, sql: str, parameters: dict | None = None, snapshot=None) -> list[tuple]:
        return self.client.query(sql.replace("__DB__", "gen"), parameters=parameters or {},
                                 settings=self.settings).result_rows


def questions(last: dt.date, first: dt.date) -> dict:
    """The API's questions, as its routers ask them (windows from the last complete day)."""
    v2_start = (last + dt.timedelta(days=1) - dt.timedelta(days=90)).replace(day=1)
    return {
        "v1 (30 days)": lambda r, p: queries.daily_downloads(r, p, last - dt.timedelta(days=29), last),
        "overall (180 days)": lambda r, p: queries.overall_downloads(r, p, last - dt.timedelta(days=179), last),
        "python_minor (180 days)": lambda r, p: queries.category_downloads(
            r, p, "python_minor", last - dt.timedelta(days=179), last, "pypistats_without_mirrors",
            ("", "invalid")),
        "system (180 days)": lambda r, p: queries.category_downloads(
            r, p, "pypistats_system", last - dt.timedelta(days=179), last, "pypistats_without_mirrors", ("",)),
        "v2 (version days)": lambda r, p: queries.version_days_json(r, p, v2_start, last),
        "versions by month (all)": lambda r, p: queries.version_breakdown(r, p, first, last, granularity="month"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    home = args.warehouse / "exp-settings"
    shutil.rmtree(home, ignore_errors=True)  # a fresh engine, like a starting API
    client = engine(home)
    manifest = current_manifest(args.warehouse / "warehouse")
    attach_generation(client, manifest, "gen", home / "links")
    print(f"generation {manifest['generation']}", flush=True)
    names = ["baseline"] + [n for n in (args.variants.split(",") if args.variants else VARIANTS) if n != "baseline"]
    variants = {}
    for name in names:
        settings = {**BASELINE, **VARIANTS[name]}
        try:
            client.query("SELECT 1", settings=settings)
        except Exception as error:  # noqa: BLE001 - a setting this engine does not know
            print(f"variant {name} skipped: {str(error).splitlines()[0][:160]}")
            continue
        variants[name] = EngineReader(client, settings)
    ranked = [row[0] for row in client.query(
        "SELECT project FROM gen.project_alltime WHERE project != '__all__' GROUP BY project "
        "ORDER BY sum(downloads) DESC LIMIT 300000").result_rows]
    projects = largest_and_zipf(ranked, 20, 40, 4000, random.Random(args.seed)) + [MISSING] * 10
    first, last = client.query("SELECT min(date), max(date) FROM gen.project_daily").result_rows[0]
    asked = questions(last, first)
    rng = random.Random(args.seed)
    times: dict[tuple[str, str, bool], list[float]] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms the caches and is not counted
        for project in projects:
            for question, ask in asked.items():
                answers = {}
                for name in rng.sample(list(variants), len(variants)):
                    started = time.perf_counter()
                    answers[name] = ask(variants[name], project)
                    if round_:
                        key = (question, name, project == MISSING)
                        times.setdefault(key, []).append((time.perf_counter() - started) * 1000)
                wrong = [name for name, answer in answers.items() if answer != answers["baseline"]]
                assert not wrong, (project, question, wrong)
        print(f"round {round_} done", flush=True)
    print("question / variant: p50 and p99 over the largest and Zipf projects, p50 for a project that "
          "does not exist; p50 as a ratio to the baseline's")
    for question in asked:
        base = statistics.median(times[(question, "baseline", False)])
        for name in variants:
            values, missing = times[(question, name, False)], times[(question, name, True)]
            print(f"{question:26s} {name:28s} p50 {statistics.median(values):6.2f}  "
                  f"p99 {percentile(values, 99):6.2f}  missing p50 {statistics.median(missing):5.2f} ms  "
                  f"p50/baseline {statistics.median(values) / base:5.2f}")
    detach_generation(client, "gen")


if __name__ == "__main__":
    main()
