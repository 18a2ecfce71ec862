"""What the open month's parts cost a question: the same data published before and after
compaction merged the open month, asked interleaved in one engine.

    .venv/bin/python benchmarks/bench_open_month_parts.py --warehouse /work/bench-data/real \\
        --pairs g_before:g_after[,g_before2:g_after2] [--rounds 3]

A load run publishes right after its commits and again after compaction, so the two generations of
one run hold the same rows in different parts: before, the open month in the parts the loads
left; after, merged. This attaches each named generation (kept under ``<warehouse>/serving``) the
way the API does, in an engine of its own, and asks the API's own questions (``pepy_api.store.
queries``: v1's 30 days of daily sums, ``summary``'s top versions over 30 days, ``overall``'s 180
days, the 180-day ``system`` series, v2's version days, versions by month over all history), each
pair about windows ending on its own newest day, for the 20 largest and 60 Zipf-drawn projects,
pairs and the generations of a pair back to back in random order (``--seed``) with the API's
settings, answers checked equal. Prints p50/p99 per question and generation, with the parts each
generation holds in its open months.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
from pepy_api.routers.pepy import v2_window  # noqa: E402
from pepy_api.store import queries  # noqa: E402
from pepy_api.store.reader import QUERY_SETTINGS  # noqa: E402
from pepy_warehouse.generation import attach_generation  # noqa: E402


class Attached:
    """A reader over one attached generation: what ``pepy_api.store.queries`` needs."""

    def __init__(self, client, database: str) -> None:
        self.client, self.database = client, database

    def query(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        return self.client.query(sql.replace("__DB__", self.database), parameters=parameters or {},
                                 settings=QUERY_SETTINGS).result_rows


def questions(first: dt.date, last: dt.date) -> dict:
    v2_start, _ = v2_window(last)
    return {
        "v1 (30 days)": lambda r, p: queries.daily_downloads(r, p, last - dt.timedelta(days=29), last),
        "summary (top versions, 30 days)": lambda r, p: queries.top_versions(r, p, last - dt.timedelta(days=29), last, 10),
        "overall (180 days)": lambda r, p: queries.daily_downloads(r, p, last - dt.timedelta(days=179), last,
                                                                   "pypistats_with_mirrors"),
        "system (180 days)": lambda r, p: queries.category_downloads(
            r, p, "pypistats_system", last - dt.timedelta(days=179), last, "pypistats_without_mirrors", ("",)),
        "v2 (version days)": lambda r, p: queries.version_days_json(r, p, v2_start, last),
        "versions by month (all)": lambda r, p: queries.version_breakdown(r, p, first, last, "all", "month"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--pairs", required=True, help="before:after generation names, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    home = args.warehouse / "exp-open-month"
    shutil.rmtree(home, ignore_errors=True)  # attached afresh every run: generations come and go
    client = engine(home)
    serving = args.warehouse / "warehouse" / "serving"
    pairs = [tuple(pair.split(":")) for pair in args.pairs.split(",")]
    readers = {}
    for name in {name for pair in pairs for name in pair}:
        manifest = json.loads((serving / f"{name}.json").read_text())
        database = "g_" + name.replace("-", "_")
        attach_generation(client, manifest, database, home / "links" / name)
        readers[name] = Attached(client, database)
        newest = client.query(
            "SELECT partition_id, table, countIf(rows > 0), min(min_date), max(max_date) FROM system.parts "
            "WHERE database = {db:String} AND active AND partition_id >= (SELECT toString(toYYYYMM(max(date) - 7)) "
            f"FROM {database}.project_daily) GROUP BY partition_id, table ORDER BY partition_id, table",
            parameters={"db": database}).result_rows
        print(f"{name}: parts with rows in the open months (partition, table, parts, dates) {newest}", flush=True)
    rng = random.Random(args.seed)
    ranked = [row[0] for row in readers[pairs[0][0]].query(
        "SELECT project FROM __DB__.project_alltime WHERE project != '__all__' GROUP BY project "
        "ORDER BY sum(downloads) DESC LIMIT 300000")]
    projects = largest_and_zipf(ranked, 20, 60, 4000, rng)
    # Each pair is asked about its own days (its newest day ends every window): a pair's two
    # generations hold the same rows, so the same newest day.
    asks = {}
    for pair in pairs:
        ends = {name: readers[name].query("SELECT min(date), max(date) FROM __DB__.project_daily")[0] for name in pair}
        assert len(set(ends.values())) == 1, ends
        asks[pair] = questions(*ends[pair[0]])
    times: dict[tuple, list[float]] = {}
    for round_ in range(args.rounds + 1):  # round 0 warms up and is not counted
        for project in projects:
            for question in asks[pairs[0]]:
                for pair in rng.sample(pairs, len(pairs)):
                    ask = asks[pair][question]
                    answers = []
                    for name in rng.sample(pair, 2):
                        started = time.perf_counter()
                        answers.append(ask(readers[name], project))
                        if round_:
                            times.setdefault((question, name), []).append((time.perf_counter() - started) * 1000)
                    assert answers[0] == answers[1], (project, question, pair)
    for question in asks[pairs[0]]:
        for pair in pairs:
            cells = [f"{name} p50 {statistics.median(times[question, name]):6.2f} p99 "
                     f"{percentile(times[question, name], 99):6.2f}" for name in pair]
            print(f"{question:32s} " + "  |  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
