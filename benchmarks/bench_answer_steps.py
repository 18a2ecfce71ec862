"""Where an engine-backed answer's time goes, step by step, in-process at real size; and
pypistats' category series merged by the engine against the same merge in Python.

    .venv/bin/python benchmarks/bench_answer_steps.py --warehouse /work/bench-data/real [--rounds 4]

Attaches the current generation the way the API does (``FrozenGenerationReader``), then for the
20 largest and 60 Zipf-drawn projects times, interleaved in random order: ``SELECT 1`` through
chDB's own connection and through clickhouse-connect; the 180-day ``system`` question for a project
that does not exist, as raw Native bytes and as Python rows; and the ``python_minor`` / ``system``
series as the API builds them now (``queries.category_downloads``: the engine folds NULL and
unparsable values into ``null``, merges and sorts) against the Python merge it replaced (kept here
as the reference), answers checked equal for each project asked. Prints p50/p90/p99 per step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import largest_and_zipf, percentile  # noqa: E402
from pepy_api.deps import BoundReader  # noqa: E402
from pepy_api.store import queries  # noqa: E402
from pepy_api.store.reader import QUERY_SETTINGS, FrozenGenerationReader  # noqa: E402

NULLS = {"python_minor": ("", "invalid"), "pypistats_system": ("",)}


def python_merge(reader, project: str, dimension: str, start: dt.date, end: dt.date) -> list[dict]:
    """The series as the API built it before: rows per (day, value), merged and sorted in Python."""
    merged: dict[tuple[str, dt.date], int] = {}
    for day, value, downloads in queries.dimension_downloads(reader, project, dimension, start, end,
                                                             measure="pypistats_without_mirrors"):
        key = ("null" if value in NULLS[dimension] else value, day)
        merged[key] = merged.get(key, 0) + downloads
    return [{"category": c, "date": d, "downloads": n} for (c, d), n in sorted(merged.items())]


def engine_merge(reader, project: str, dimension: str, start: dt.date, end: dt.date) -> list[dict]:
    rows = queries.category_downloads(reader, project, dimension, start, end, "pypistats_without_mirrors",
                                      NULLS[dimension])
    return [{"category": c, "date": d, "downloads": n} for c, d, n in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    reader = FrozenGenerationReader(args.warehouse / "warehouse")
    snap = reader.snapshot()
    bound = BoundReader(reader, snap)
    projects = largest_and_zipf(snap.ranked.at_ranks(slice(0, 300000)), 20, 60, 4000, random.Random(args.seed))
    end = snap.last_complete_day
    start = end - dt.timedelta(days=179)
    settings = " SETTINGS " + ", ".join(f"{k} = {v}" for k, v in QUERY_SETTINGS.items())
    question = (f"SELECT date, value, sum(pypistats_without_mirrors) AS n FROM {snap.database}.project_dimension_daily "
                "WHERE project = {project:String} AND dimension = 'pypistats_system' "
                "AND date BETWEEN {start:Date} AND {end:Date} GROUP BY date, value HAVING n > 0 ORDER BY date, value")
    times: dict[str, list[float]] = {}
    with reader.client() as client:
        connection = client._backend._handle.conn  # chDB's own connection, under clickhouse-connect
        steps = {
            "SELECT 1, chDB connection": lambda p: connection.query("SELECT 1" + settings + " FORMAT Native", "Native"),
            "SELECT 1, clickhouse-connect": lambda p: client.query("SELECT 1", settings=QUERY_SETTINGS).result_rows,
            "180-day system, no such project": lambda p: connection.query(
                question + settings + " FORMAT Native", "Native",
                params={"project": "no-such-project-" + p, "start": str(start), "end": str(end)}),
            "180-day system, Native bytes": lambda p: connection.query(
                question + settings + " FORMAT Native", "Native",
                params={"project": p, "start": str(start), "end": str(end)}),
            "180-day system, Python rows": lambda p: client.query(
                question, parameters={"project": p, "start": start, "end": end}, settings=QUERY_SETTINGS).result_rows,
        }
        for round_ in range(args.rounds + 1):  # round 0 warms up and is not counted
            for project in projects:
                for name in random.sample(list(steps), len(steps)):
                    started = time.perf_counter()
                    steps[name](project)
                    if round_:
                        times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    for round_ in range(args.rounds + 1):
        for project in projects:
            for dimension in NULLS:
                answers = {}
                for name, merge in random.sample([("Python merge", python_merge), ("engine merge", engine_merge)], 2):
                    started = time.perf_counter()
                    answers[name] = merge(bound, project, dimension, start, end)
                    if round_:
                        times.setdefault(f"{dimension} series, {name}", []).append((time.perf_counter() - started) * 1000)
                assert answers["Python merge"] == answers["engine merge"], (project, dimension)
    reader.close()
    for name, values in times.items():
        print(f"{name:44s} p50 {statistics.median(values):6.2f}  p90 {percentile(values, 90):6.2f}  "
              f"p99 {percentile(values, 99):6.2f} ms")


if __name__ == "__main__":
    main()
