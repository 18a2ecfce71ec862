"""What the blocking ``rollups_match_facts`` check costs a day's load (twenty-first pass).

The check now compares every measure (five, not only ``downloads``) and requires every dimension.
This stages one real-shape day (``stage_day``: facts and every rollup, as a load does) and times,
in random order over several rounds, the check as it is and as it was (downloads only), beside
the stage's own times.

    .venv/bin/python benchmarks/bench_rollup_check.py --rows-per-day 33000000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pepy_pipeline.sources.sample import SampleSource  # noqa: E402
from pepy_pipeline.warehouse.day_checks import rollups_match_facts  # noqa: E402
from pepy_pipeline.warehouse.loader import stage_day  # noqa: E402
from pepy_pipeline.warehouse.migrations import migrate  # noqa: E402
from pepy_warehouse.connection import connected  # noqa: E402


def downloads_only(client, staged) -> bool:
    """The check before this pass: ``downloads`` alone, over the dimensions present."""
    facts = int(client.query(f"SELECT sum(downloads) FROM {staged.facts}").result_rows[0][0])
    t = staged.tables
    daily = client.query(f"SELECT sumIf(downloads, project != '__all__'), sumIf(downloads, project = '__all__') "
                         f"FROM {t['project_daily']}").result_rows[0]
    versions = client.query(f"SELECT sum(downloads) FROM {t['project_version_daily']}").result_rows[0]
    dims = client.query(f"SELECT dimension, sumIf(downloads, project != '__all__'), sumIf(downloads, project = '__all__') "
                        f"FROM {t['project_dimension_daily']} GROUP BY dimension").result_rows
    return all(int(x) == facts for x in (*daily, *versions)) and all((a, b) == (facts, facts) for _, a, b in dims)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=33_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 10, 14))
    args = parser.parse_args()
    source = SampleSource(scale="real", rows_per_day=args.rows_per_day)
    checks = {"every measure, every dimension (now)": lambda c, s: rollups_match_facts(c, s).passed,
              "downloads only (before)": downloads_only}
    times: dict[str, list[float]] = {label: [] for label in checks}
    with tempfile.TemporaryDirectory() as home, connected(f"chdb://{home}/warehouse") as client:
        migrate(client, "pepy")
        with stage_day(client, "pepy", source, args.day) as staged:
            print(f"day {args.day}: {staged.rows:,} fact rows staged in {staged.seconds_extract_and_stage:.1f} s; "
                  f"every rollup {staged.seconds_rollups:.1f} s "
                  f"(project_dimension_daily rows: {staged.rollup_rows['project_dimension_daily']:,})")
            for _ in range(args.rounds):
                order = list(checks)
                random.shuffle(order)
                for label in order:
                    started = time.perf_counter()
                    assert checks[label](client, staged), label
                    times[label].append(time.perf_counter() - started)
    print(f"\n{'check':40} {'median s':>9} {'min s':>7}   (rounds: {args.rounds})")
    for label, seconds in times.items():
        print(f"{label:40} {statistics.median(seconds):9.2f} {min(seconds):7.2f}")


if __name__ == "__main__":
    main()
