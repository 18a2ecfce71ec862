"""Month-granular answers over all history: the month-grain rollups against the daily ones.

    .venv/bin/python benchmarks/bench_month_grain.py --warehouse /work/bench-data/real [--rounds 3]

In-process through the API's reader (its engine, settings and attached generation): for the 20
largest projects and 40 Zipf-sampled ones, versions by month and country by month from the first
day of history, asked both ways in the same rounds (interleaved, order shuffled): as the API asks
now (``pepy_api.store.queries``: whole months from ``*_monthly``, the partial ones from the
daily table) and as it asked before (every daily row, grouped by month). Every pair of answers
must be equal; p50/p99 per way and question.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import largest_and_zipf  # noqa: E402
from pepy_api.store import queries  # noqa: E402
from pepy_api.store.reader import FrozenGenerationReader  # noqa: E402

#: The API's month-granular SQL before the month-grain rollups: every daily row of the range.
DAILY = {
    "versions": ("SELECT toStartOfMonth(date) AS bucket, version, sum(downloads) AS n FROM __DB__.project_version_daily "
                 "WHERE project = {project:String} AND date BETWEEN {start:Date} AND {end:Date} "
                 "GROUP BY bucket, version HAVING n > 0 ORDER BY bucket, version"),
    "country": ("SELECT toStartOfMonth(date) AS bucket, value, sum(downloads) AS n FROM __DB__.project_dimension_daily "
                "WHERE project = {project:String} AND dimension = 'country' AND date BETWEEN {start:Date} AND {end:Date} "
                "GROUP BY bucket, value HAVING n > 0 ORDER BY bucket, value"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    reader = FrozenGenerationReader(args.warehouse / "warehouse", refresh_seconds=3600)
    rng = random.Random(5)
    try:
        snap = reader.snapshot()
        start, end = snap.first_complete_day, snap.last_complete_day
        projects = largest_and_zipf(list(snap.ranked[:50_000]), 20, 40, 5_000, rng)
        now = {"versions": lambda p: queries.version_breakdown(reader, p, start, end, "all", "month"),
               "country": lambda p: queries.dimension_downloads(reader, p, "country", start, end, "all", "month")}
        times = {(question, way): [] for question in DAILY for way in ("month grain", "daily rows")}
        rows = {question: [] for question in DAILY}
        for _ in range(args.rounds):
            order = projects[:]
            rng.shuffle(order)
            for project in order:
                for question in DAILY:
                    ways = [("month grain", lambda: now[question](project)),
                            ("daily rows", lambda: reader.query(DAILY[question],
                                                                {"project": project, "start": start, "end": end}))]
                    rng.shuffle(ways)
                    answers = {}
                    for way, ask in ways:
                        started = time.perf_counter()
                        answers[way] = ask()
                        times[(question, way)].append((time.perf_counter() - started) * 1000)
                    if answers["month grain"] != answers["daily rows"]:
                        raise SystemExit(f"{question} of {project}: the two ways answer differently")
                    rows[question].append(len(answers["month grain"]))
        print(f"## Month-granular answers, {start} .. {end}, {len(projects)} projects x {args.rounds} rounds "
              f"({time.strftime('%Y-%m-%d %H:%M')}); every pair of answers equal\n")
        print("| question | way | p50 ms | p99 ms | max ms | rows returned (median / max) |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for (question, way), values in times.items():
            ordered = sorted(values)
            print(f"| {question} by month | {way} | {statistics.median(ordered):.2f} | "
                  f"{ordered[int(len(ordered) * 0.99)]:.2f} | {ordered[-1]:.1f} | "
                  f"{statistics.median(rows[question]):,.0f} / {max(rows[question]):,} |")
    finally:
        reader.close()


if __name__ == "__main__":
    main()
