"""Experiment: do smaller index granules make one project's questions cheaper? (They do not.)

    .venv/bin/python benchmarks/bench_granules.py --warehouse /work/bench-data/real \
        [--tables project_daily,project_dimension_daily] [--granules 8192,1024] [--since 2026-06-01]

Every rollup is sorted by project first, and with the engine's default 8,192-row granules a
question about a small project reads, decompresses and filters mostly its neighbours' rows in each
part it opens: a candidate for the ~0.65 ms each part costs. This copies the served tables' rows
since ``--since`` into one table per granule size (same columns and partitions; compressed with the
engine's default LZ4, as an attached generation's DDL names no codecs; every partition merged to
one part, like compaction leaves a closed month) in an engine of its own under
``<warehouse>/exp-granules`` or ``--engine`` (kept: a re-run reuses the copies), then asks the
API's 30- and 180-day questions about the 20 largest and 60 Zipf-drawn projects, every variant of a
question back to back in random order, with the API's query settings, and checks the answers are
equal. Prints p50/p90/p99 per variant, and each copy's primary-index memory and marks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.copies import attach_current, copy_table, sample_projects, time_copies  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--tables", default="project_daily,project_dimension_daily")
    parser.add_argument("--granules", default="8192,1024")
    parser.add_argument("--since", type=dt.date.fromisoformat, default=dt.date(2026, 6, 1))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", type=Path, help="the experiment's engine (default: <warehouse>/exp-granules)")
    args = parser.parse_args()
    client = attach_current(args.engine or args.warehouse / "exp-granules", args.warehouse)
    granules = [int(g) for g in args.granules.split(",")]
    tables = {table: [copy_table(client, table, f"exp.{table}_g{g}", f"index_granularity = {g}", args.since)
                      for g in granules]
              for table in args.tables.split(",")}
    projects, last = sample_projects(client, args.seed)
    for days in (30, 180):
        time_copies(client, tables, projects, last, days, rounds=3)
    # After the questions: the primary index is loaded on first use.
    for table, copies in tables.items():
        for name in copies:
            size = client.query(
                "SELECT count(), sum(rows), sum(marks), formatReadableSize(sum(bytes_on_disk)), "
                "formatReadableSize(sum(primary_key_bytes_in_memory)), formatReadableSize(sum(marks_bytes)) "
                "FROM system.parts WHERE database = 'exp' AND table = {t:String} AND active",
                parameters={"t": name.removeprefix("exp.")}).result_rows[0]
            print(f"{name}: {size[0]} parts, {size[1]:,} rows, {size[2]:,} marks, {size[3]} on disk, "
                  f"primary index {size[4]} in memory, marks {size[5]} on disk")


if __name__ == "__main__":
    main()
