"""One real-shape day staged into a throw-away warehouse, as a load stages it (facts and every
rollup): what the benchmarks of a load's single statements time their statements against."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pepy_pipeline.sources.sample import SampleSource  # noqa: E402
from pepy_pipeline.warehouse.loader import stage_day  # noqa: E402
from pepy_pipeline.warehouse.migrations import migrate  # noqa: E402
from pepy_warehouse.connection import connected  # noqa: E402


def day_arguments(description: str) -> argparse.Namespace:
    """The day's size, the rounds of timings and the day, from the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows-per-day", type=int, default=33_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 10, 14))
    return parser.parse_args()


@contextlib.contextmanager
def staged_real_day(args: argparse.Namespace) -> Iterator[tuple[object, object]]:
    """(client, staged day) of the sample source at real scale, its stage's times printed."""
    source = SampleSource(scale="real", rows_per_day=args.rows_per_day)
    with tempfile.TemporaryDirectory() as home, connected(f"chdb://{home}/warehouse") as client:
        migrate(client, "pepy")
        with stage_day(client, "pepy", source, args.day) as staged:
            print(f"day {args.day}: {staged.rows:,} fact rows staged in {staged.seconds_extract_and_stage:.1f} s; "
                  f"every rollup {staged.seconds_rollups:.1f} s "
                  f"(project_dimension_daily rows: {staged.rollup_rows['project_dimension_daily']:,})")
            yield client, staged


def print_medians(times: dict[str, list[float]], what: str, rounds: int) -> None:
    """Each label's median and fastest time, one line each."""
    width = max(len(what), *map(len, times)) + 2
    print(f"\n{what:{width}} {'median s':>9} {'min s':>7}   (rounds: {rounds})")
    for label, seconds in times.items():
        print(f"{label:{width}} {statistics.median(seconds):9.2f} {min(seconds):7.2f}")
