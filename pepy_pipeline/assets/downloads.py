"""The daily download facts and their rollups, loaded together in one step per day range.

Facts and rollups are one multi-asset because they are committed together from the same staged
rows: they can never disagree. Each day is staged, checked (blocking checks BEFORE the commit),
and committed on its own: Dagster is told per day, so a day is shown materialized as soon as it
commits and a failing day is shown failed on its own, with its checks' evidence.
"""

import datetime as dt
import time
import traceback

from clickhouse_connect.driver.exceptions import ClickHouseError
from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetRecordsFilter,
    AssetSpec,
    Failure,
    MetadataValue,
    multi_asset,
)

from pepy_pipeline.assets.download_checks import (
    CHECKS,
    VOLUME_LOW,
    check_results,
    day_evaluations,
    verdict_metadata,
    vouched_by_volume,
)
from pepy_pipeline.assets.keys import DOWNLOADS, ROLLUPS
from pepy_pipeline.assets.publishing import publish_and_report
from pepy_pipeline.run_process import record_run_process
from pepy_pipeline.partitions import daily_partitions, warehouse_backfill_policy
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.warehouse import checks
from pepy_pipeline.warehouse.day_checks import CheckOutcome, compared_after_commit
from pepy_pipeline.warehouse.day_load import DayFailed, load_and_commit_day, not_loaded
from pepy_pipeline.warehouse.empty_days import ACCEPTED_EMPTY
from pepy_pipeline.warehouse.publish import PublishRefused
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

BACKFILL_TAG = "dagster/backfill"
#: Set by callers that publish once themselves after several runs (the CLI).
NO_PUBLISH_TAG = "pepy/no-publish"
#: "true" on a run (the CLI's ``--accept-empty``, or a tag added in the launchpad): a day the
#: source has no rows for is committed as empty instead of refused (an outage of upstream's log).
ACCEPT_EMPTY_TAG = "pepy/accept-empty"


@multi_asset(
    specs=[
        AssetSpec(DOWNLOADS, group_name="downloads", kinds={"clickhouse"}, skippable=True,
                  description="PyPI downloads per day, project, version, file type, country, installer, "
                              "Python minor, system and CI (table downloads_daily)."),
        AssetSpec(ROLLUPS, deps=[DOWNLOADS], group_name="downloads", kinds={"clickhouse"}, skippable=True,
                  description="Per-project rollups by day, version and dimension, built from the same "
                              "staged rows as the facts (project_daily, project_version_daily, "
                              "project_dimension_daily, project_alltime), partitioned by month."),
    ],
    check_specs=CHECKS,
    partitions_def=daily_partitions,
    backfill_policy=warehouse_backfill_policy,
    pool="warehouse",
)
def pypi_downloads(context: AssetExecutionContext, warehouse: ClickHouseWarehouse, source: DownloadSourceResource):
    """Load each day of the run's partition range; publish at the end unless part of a backfill
    (the publish sensor then publishes once, when the backfill is over). A run outside a backfill
    publishes even while one is in progress: yesterday is served on time, and with it the days
    the backfill has committed so far."""
    record_run_process(context)
    days = [dt.date.fromisoformat(key) for key in context.partition_keys]
    accept_empty = context.run.tags.get(ACCEPT_EMPTY_TAG, "").strip().lower() in ("true", "1", "yes")
    download_source = source.build()
    described = download_source.describe()
    failed: dict[str, str] = {}
    committed = []
    outcomes: list[tuple[dt.date | None, CheckOutcome]] = []
    started = time.perf_counter()
    with warehouse.connect(what=f"run {context.run.run_id}", report=context.log.warning) as client, \
            warehouse.insert_clients() as extra_clients:
        for day in days:
            try:
                result = load_and_commit_day(client, warehouse.database, download_source, day,
                                             run_id=context.run.run_id, insert_clients=extra_clients,
                                             bands=warehouse.volume_bands(), log=context.log,
                                             accept_empty=accept_empty)
            except DayFailed as error:
                failed[day.isoformat()] = str(error)
                outcomes += [(day, o) for o in error.outcomes]
                context.log.error(f"{day}: not committed: {error}")
                continue
            except (ClickHouseError, MemoryError):
                raise  # the warehouse itself failed: the run ends, and the next writer repairs what it left
            except Exception as error:  # noqa: BLE001 - any other error is the source's or a refusal
                # before the commit (a schema change upstream, retries used up, a day before the
                # opening balance): it fails this day alone, the next days still load, and the run
                # fails at its end naming every failed day.
                message = f"{type(error).__name__}: {error}"
                failed[day.isoformat()] = message
                outcomes.append((day, not_loaded(day, message[:1000])))
                context.log.error(f"{day}: not committed: {message}\n{traceback.format_exc()}")
                continue
            outcomes += [(day, o) for o in result.outcomes]
            committed.append(result)
            # Yielded as each day commits: events logged from the body wait for its next yield,
            # and a review's stand-in asset lost them when a warehouse error ended it first.
            yield from _materializations(result, described)
        if committed:
            outcomes += _compared_after_commit(client, warehouse.database, committed, warehouse.volume_bands())
            outcomes += _earlier_days_compared_now(context.instance, client, warehouse.database,
                                                   {r.day for r in committed}, warehouse.volume_bands())
        # Whatever committed: a run whose every day failed (a hole's catch-up) reported no_gaps
        # as passed, and the UI showed the hole green (found by a guard audit).
        outcomes.append((None, _gaps(client, warehouse.database)))
        not_published = ""
        if committed and BACKFILL_TAG not in context.run.tags and NO_PUBLISH_TAG not in context.run.tags:
            try:
                publish_and_report(context, client, warehouse)
            except PublishRefused as error:  # e.g. a torn commit: the run still reports every day
                not_published = str(error)
                context.log.error(f"not published: {error}")
    context.log.info(f"{len(committed)} of {len(days)} days committed in {time.perf_counter() - started:.1f} s")
    # Materializations were yielded per day above, as each day committed (the asset outputs are
    # skippable); the checks report for each day's partition, then once for the run, every day's
    # evidence in its metadata (logged before the results: events still pending when the run
    # fails below would be lost).
    for evaluation in day_evaluations(outcomes, days):
        context.log_event(evaluation)
    yield from check_results(outcomes, run_fails=bool(failed or not_published))
    if failed or not_published:
        description = "; ".join(filter(None, [
            failed and f"{len(failed)} of {len(days)} days were not committed (their previous data is unchanged): "
                       + "; ".join(f"{d}: {m}" for d, m in failed.items()),
            not_published and f"the committed days were not published: {not_published}"]))
        raise Failure(
            description=description,
            metadata={"failed_days": MetadataValue.json(failed),
                      "committed_days": ", ".join(r.day.isoformat() for r in committed) or "none",
                      "not_published": not_published or "no"},
        )


def _compared_after_commit(client, database: str, committed: list, bands) -> list[tuple[dt.date, CheckOutcome]]:
    """This run's days committed without a volume comparison (too few days loaded around them,
    the start of a backfill), compared with the days the run loaded after them."""
    late = []
    for result in committed:
        volume = next((o for o in result.outcomes if o.name == "volume_within_bands"), None)
        if volume is not None and not vouched_by_volume(volume):
            outcome = compared_after_commit(client, database, result.day, bands)
            if outcome is not None:
                late.append((result.day, outcome))
    return late


def uncompared_days(instance) -> list[dt.date]:
    """Days whose latest load was committed without a volume comparison (too few days loaded
    around them then: the start of a backfill, a run of one day), from their materializations."""
    latest: dict[str, dict] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(AssetRecordsFilter(asset_key=DOWNLOADS), limit=1000, cursor=cursor)
        for record in page.records:  # newest first: the first seen is the day's latest load
            latest.setdefault(record.partition_key, record.asset_materialization.metadata)
        if not page.has_more:
            break
        cursor = page.cursor
    return sorted(dt.date.fromisoformat(key) for key, metadata in latest.items()
                  if key and VOLUME_LOW in metadata and "volume_ratio" not in metadata
                  and ACCEPTED_EMPTY not in metadata)  # a day accepted as empty has nothing to compare


def _earlier_days_compared_now(instance, client, database: str, this_run: set, bands) -> list:
    """Earlier runs' uncompared days, compared with the days loaded since; only those outside
    the fail band are reported (a warning naming each, at every run until it is reloaded): a day
    left uncompared at the end of its own run is never passed over for good."""
    late = []
    for day in uncompared_days(instance):
        if day in this_run:
            continue
        outcome = compared_after_commit(client, database, day, bands)
        if outcome is not None and not outcome.passed:
            late.append((day, outcome))
    return late


def _gaps(client, database: str) -> CheckOutcome:
    passed, metadata = checks.loaded_day_gaps(client, database, daily_partitions.start.date())
    return CheckOutcome("no_gaps", passed, False, metadata)


def _materializations(result, source: dict[str, str]) -> list[AssetMaterialization]:
    """A committed day's materializations, with the ``source`` that was read (which table or
    sample shape: a day loaded from the sample source by mistake is told from the UI)."""
    key = result.day.isoformat()
    return [AssetMaterialization(asset_key=DOWNLOADS, partition=key, metadata={
        "dagster/row_count": result.rows,
        "downloads": result.downloads,
        "bytes_on_disk": result.bytes_on_disk,
        "stage_seconds": round(result.seconds_stage, 3),
        "rollup_seconds": round(result.seconds_rollups, 3),
        "commit_seconds": round(result.seconds_commit, 3),
        "rows_per_second": round(result.rows / result.seconds_total) if result.seconds_total else 0,
        "upstream_fingerprint": result.fingerprint,
        "source": MetadataValue.json(source),
        **verdict_metadata(result.outcomes),
        **result.cost,
    }), AssetMaterialization(asset_key=ROLLUPS, partition=key, metadata={
        "dagster/row_count": sum(result.rollup_rows.values()),
        **{f"rows_{name}": n for name, n in result.rollup_rows.items()},
    })]
