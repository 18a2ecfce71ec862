"""Command line: load a day or a range without the UI.

    python -m pepy_pipeline load 2026-11-01 [2026-11-10] [--days-per-run N]
    python -m pepy_pipeline load --last 30
    python -m pepy_pipeline load 2026-11-01 --accept-empty   # upstream has no rows for it: commit it empty
    python -m pepy_pipeline estimate 2026-11-01 2026-11-10   # BigQuery: days x bytes, before a backfill
    python -m pepy_pipeline estimate --opening-balance 2026-11-01
    python -m pepy_pipeline opening-balance --stops-before 2026-11-01

Runs execute in this process against the Dagster instance in ``$DAGSTER_HOME`` (default
``$PEPY_HOME/dagster``), so they show in the UI, and the loaded days are published once at the
end. With the embedded warehouse, a load started while another writer (a daemon run) holds the
warehouse waits for it, saying so, and then goes on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from pathlib import Path

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


def ensure_dagster_home() -> Path:
    """``$DAGSTER_HOME``, defaulting to ``$PEPY_HOME/dagster`` with the repository's dagster.yaml,
    so the README's commands work in a fresh clone."""
    if not os.environ.get("DAGSTER_HOME"):
        home = load_settings().home / "dagster"
        os.environ["DAGSTER_HOME"] = str(home)
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    config = Path(__file__).resolve().parents[1] / "dagster.yaml"
    if not (home / "dagster.yaml").exists() and config.exists():
        shutil.copy(config, home / "dagster.yaml")
    return home


def load(start: dt.date, end: dt.date, days_per_run: int, instance: DagsterInstance | None = None,
         accept_empty: bool = False) -> bool:
    """Materialise the load job for each batch of days, then publish once; True if all succeeded.
    ``accept_empty``: a day the source has no rows for is committed as empty, not refused."""
    from dagster._core.utils import make_new_run_id

    from pepy_pipeline.alerts import alert_on_command_line_run
    from pepy_pipeline.assets.downloads import ACCEPT_EMPTY_TAG, NO_PUBLISH_TAG
    from pepy_pipeline.definitions import defs
    from pepy_pipeline.load_runs import LOAD_JOB
    from pepy_pipeline.run_process import process_tags
    from pepy_pipeline.sensors import fail_dead_runs, publish_job

    validate_range(start, end)
    job = defs.resolve_job_def(LOAD_JOB)
    instance = instance or DagsterInstance.get()
    # A load killed earlier left its runs STARTED; without a daemon (whose dead_run_sensor does
    # this) nothing else would ever end them.
    for run_id in fail_dead_runs(instance):
        print(f"run {run_id}: its process is gone (killed); marked failed", flush=True)
    ok = True
    for first, last in day_batches(start, end, days_per_run):
        run_id = make_new_run_id()
        tags = {ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
                NO_PUBLISH_TAG: "true", **process_tags(run_id), **({ACCEPT_EMPTY_TAG: "true"} if accept_empty else {})}
        result = job.execute_in_process(instance=instance, tags=tags, run_id=run_id, raise_on_error=False)
        status = "ok" if result.success else "FAILED (see the run in the UI; committed days stay committed)"
        print(f"{first}..{last}: run {result.run_id} {status}", flush=True)
        alert_on_command_line_run(instance, result.run_id)
        ok = ok and result.success
    run_id = make_new_run_id()
    published = defs.resolve_job_def(publish_job.name).execute_in_process(
        instance=instance, tags=process_tags(run_id), run_id=run_id, raise_on_error=False)
    print(f"publish: run {published.run_id} {'ok' if published.success else 'FAILED'}", flush=True)
    alert_on_command_line_run(instance, published.run_id)
    return ok and published.success


def opening_balance(stops_before: dt.date) -> int:
    """Load the opening balance (downloads before ``stops_before``) once, cost-guarded."""
    from pepy_pipeline.definitions import build_resources
    from pepy_pipeline.sources.bigquery.cost import human_bytes
    from pepy_pipeline.warehouse.opening_balance import load_opening_balance

    resources = build_resources()
    source, warehouse = resources["source"].build(), resources["warehouse"]
    settings = load_settings()
    batches = (source.opening_balance(stops_before, settings.bigquery_balance_maximum_bytes_billed)
               if source.name == "bigquery" else source.opening_balance(stops_before))
    with warehouse.connect(what="opening balance") as client:
        summary = load_opening_balance(client, warehouse.database, batches, stops_before, source.name)
    print(f"opening balance before {stops_before}: {summary['projects']:,} projects, "
          f"{summary['downloads']:,} downloads; it shows after the next publish")
    cost = getattr(source, "balance_stats", None)  # BigQuery's: what the one-off query cost
    if cost:
        print(f"BigQuery job {cost['job_id']}: billed {human_bytes(cost['bytes_billed'])}, "
              f"~${cost['estimated_cost_usd']:,.2f}")
    if "days_not_covered" in summary:
        print(f"warning: {summary['days_not_covered']} are neither in the balance nor loaded: counted nowhere until "
              "they are loaded (the no_gaps check lists them; days before PEPY_START_DATE cannot be)", file=sys.stderr)
    return 0


def estimate(start: dt.date, end: dt.date, balance: bool = False) -> int:
    """Preview a backfill: dry-run every day and print days x estimated bytes and cost."""
    from pepy_pipeline.definitions import build_resources
    from pepy_pipeline.sources.bigquery.cost import estimated_cost_usd, human_bytes

    if not balance:
        validate_range(start, end)
    source = build_resources()["source"].build()
    if not hasattr(source, "estimate_bytes"):
        print(f"source {source.name!r} is free: nothing to estimate")
        return 0
    if balance:
        cap = load_settings().bigquery_balance_maximum_bytes_billed
        estimate = source.estimate_opening_balance(start)
        flag = "  over the cap: it would fail" if estimate > cap else ""
        print(f"opening balance before {start}: {human_bytes(estimate)} ({estimate:,} bytes), "
              f"~${estimated_cost_usd(estimate):,.2f}; cap {human_bytes(cap)}{flag}")
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
    load_cmd.add_argument("--accept-empty", action="store_true",
                          help="commit a day the source has no rows for as empty instead of refusing it (upstream "
                               "lost it for good); never over a day that holds downloads, nor one upstream counts "
                               "downloads for")
    estimate_cmd = commands.add_parser("estimate", help="preview a backfill's BigQuery bytes and cost (dry runs)")
    estimate_cmd.add_argument("start", type=dt.date.fromisoformat)
    estimate_cmd.add_argument("end", nargs="?", type=dt.date.fromisoformat)
    estimate_cmd.add_argument("--opening-balance", action="store_true",
                              help="estimate the one-off opening-balance query stopping before START instead")
    balance_cmd = commands.add_parser("opening-balance", help="load downloads before the first loaded day, once")
    balance_cmd.add_argument("--stops-before", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    ensure_dagster_home()
    if args.command == "opening-balance":
        return opening_balance(args.stops_before)

    if args.command == "load" and args.last:
        end = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
        start = end - dt.timedelta(days=args.last - 1)
    elif args.start:
        start, end = args.start, args.end or args.start
    else:
        parser.error("give a start day (and optionally an end day) or --last N")
    try:
        if args.command == "estimate":
            return estimate(start, end, balance=args.opening_balance)
        days_per_run = args.days_per_run or load_settings().backfill_days_per_run
        return 0 if load(start, end, max(1, days_per_run), accept_empty=args.accept_empty) else 1
    except PartitionRangeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
