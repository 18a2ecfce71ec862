"""Command line: load a day or a range without the UI.

    python -m pepy_pipeline load 2026-11-01 [2026-11-10] [--days-per-run N]
    python -m pepy_pipeline load --last 30
    python -m pepy_pipeline estimate 2026-11-01 2026-11-10   # BigQuery: days x bytes, before a backfill

Runs execute in this process against the Dagster instance in ``$DAGSTER_HOME`` (so they show in
the UI). With the embedded warehouse, do not run this while the daemon is executing runs: chDB
allows one process per directory (the load then fails with a clear lock error, nothing changes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from dagster import DagsterInstance
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pepy_pipeline.settings import load_settings


class PartitionRangeError(ValueError):
    """A requested day lies outside the partitions the pipeline defines."""


def day_batches(start: dt.date, end: dt.date, days_per_run: int) -> list[tuple[dt.date, dt.date]]:
    """Split ``[start, end]`` into consecutive batches of at most ``days_per_run`` days."""
    batches = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + dt.timedelta(days=days_per_run - 1))
        batches.append((cursor, last))
        cursor = last + dt.timedelta(days=1)
    return batches


def validate_range(start: dt.date, end: dt.date) -> None:
    from pepy_pipeline.partitions import daily_partitions

    keys = daily_partitions.get_partition_keys()
    first, last = dt.date.fromisoformat(keys[0]), dt.date.fromisoformat(keys[-1])
    if start > end:
        raise PartitionRangeError(f"the range starts ({start}) after it ends ({end})")
    if start < first or end > last:
        raise PartitionRangeError(
            f"days {start}..{end} are outside the partitions {first}..{last} "
            "(set PEPY_START_DATE for earlier days; today is never complete)"
        )


def load(start: dt.date, end: dt.date, days_per_run: int, instance: DagsterInstance | None = None) -> bool:
    """Materialise the load job for each batch of days; True if every run succeeded."""
    from pepy_pipeline.definitions import defs

    validate_range(start, end)
    job = defs.resolve_job_def("load_downloads")
    instance = instance or DagsterInstance.get()
    ok = True
    for first, last in day_batches(start, end, days_per_run):
        tags = {ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()}
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        status = "ok" if result.success else "FAILED"
        print(f"{first}..{last}: run {result.run_id} {status}", flush=True)
        ok = ok and result.success
    return ok


def estimate(start: dt.date, end: dt.date) -> int:
    """Preview a backfill: dry-run every day and print days x estimated bytes and cost."""
    from pepy_pipeline.definitions import build_resources
    from pepy_pipeline.sources.bigquery.cost import estimated_cost_usd, human_bytes

    validate_range(start, end)
    source = build_resources()["source"].build()
    if not hasattr(source, "estimate_bytes"):
        print(f"source {source.name!r} is free: nothing to estimate")
        return 0
    total, over = 0, 0
    print(f"{'day':<12}{'estimated bytes':>22}{'estimated USD':>15}")
    for index in range((end - start).days + 1):
        day = start + dt.timedelta(days=index)
        estimate = source.estimate_bytes(day)
        total += estimate
        flag = "  over the cap: this day would fail" if estimate > source.cap else ""
        over += bool(flag)
        print(f"{day.isoformat():<12}{human_bytes(estimate):>22}{estimated_cost_usd(estimate):>15.2f}{flag}")
    print(f"{'total':<12}{human_bytes(total):>22}{estimated_cost_usd(total):>15.2f}")
    print(f"cap per day (maximum_bytes_billed): {human_bytes(source.cap)}; days over the cap: {over}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pepy_pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    load_cmd = commands.add_parser("load", help="load a day or an inclusive range of days")
    load_cmd.add_argument("start", nargs="?", type=dt.date.fromisoformat)
    load_cmd.add_argument("end", nargs="?", type=dt.date.fromisoformat)
    load_cmd.add_argument("--last", type=int, help="load the last N complete days instead")
    load_cmd.add_argument("--days-per-run", type=int, help="days per run (default: PEPY_BACKFILL_DAYS_PER_RUN)")
    estimate_cmd = commands.add_parser("estimate", help="preview a backfill's BigQuery bytes and cost (dry runs)")
    estimate_cmd.add_argument("start", type=dt.date.fromisoformat)
    estimate_cmd.add_argument("end", nargs="?", type=dt.date.fromisoformat)
    args = parser.parse_args(argv)

    if args.command == "load" and args.last:
        end = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
        start = end - dt.timedelta(days=args.last - 1)
    elif args.start:
        start, end = args.start, args.end or args.start
    else:
        parser.error("give a start day (and optionally an end day) or --last N")
    try:
        if args.command == "estimate":
            return estimate(start, end)
        days_per_run = args.days_per_run or load_settings().backfill_days_per_run
        return 0 if load(start, end, max(1, days_per_run)) else 1
    except PartitionRangeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
