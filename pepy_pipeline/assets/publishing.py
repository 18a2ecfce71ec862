"""Publishing: what makes committed days visible to the API (asset ``serving_tables``).

Every load route publishes without a second action: a run that is not part of a backfill
publishes at its end (``publish_and_report``); a backfill's runs do not, and the publish sensor
(``sensors.py``) publishes once when no load is queued or running any more.
"""

import datetime as dt

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetMaterialization,
    MaterializeResult,
    asset,
    asset_check,
)

from pepy_pipeline.assets.keys import ROLLUPS, SERVES_YESTERDAY, SERVING
from pepy_pipeline.freshness import PUBLISHED_DATA_FRESHNESS, expected_last_day
from pepy_pipeline.run_process import record_run_process
from pepy_pipeline.warehouse.compaction import compact_months
from pepy_pipeline.warehouse.publish import RECENT_DAYS, Published, publish
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse



def _compact_and_publish(context: AssetExecutionContext, client, warehouse: ClickHouseWarehouse) -> tuple[Published, dict]:
    """Publish, compact closed months (each once, and again after a reload) and an open month in
    too many parts (never holding the day's data back), and publish again if that changed any
    part the API reads."""
    data_path = warehouse.data_path if warehouse.embedded else None
    published = publish(client, warehouse.database, data_path)
    compacted = compact_months(client, warehouse.database)
    for done in compacted:
        if done.error:
            context.log.warning(f"could not compact {done.table} {done.month} now (tried again at the next "
                                f"publish): {done.error}")
        else:
            context.log.info(f"compacted {done.table} {done.month}: {done.parts_before} parts -> 1 in {done.seconds:.1f} s")
    if any(not done.error for done in compacted):
        published = publish(client, warehouse.database, data_path)
    if published.copies_not_dropped:
        context.log.warning(f"could not drop old serving copies now (tried again at the next publish): "
                            f"{published.copies_not_dropped}")
    context.log.info(f"published data to {published.last_complete_day} ({published.serving_database or published.generation})")
    return published, {"compacted_months": sorted({done.month for done in compacted if not done.error}),
                       "compaction_failures": [f"{d.table} {d.month}: {d.error}" for d in compacted if d.error],
                       "compaction_seconds": round(sum(done.seconds for done in compacted), 3)}


def _metadata(published: Published) -> dict:
    return {
        "first_complete_day": published.first_complete_day.isoformat() if published.first_complete_day else "none",
        "last_complete_day": published.last_complete_day.isoformat() if published.last_complete_day else "none",
        "recent_window_holes": ", ".join(d.isoformat() for d in published.recent_holes) or "none",
        "projects": published.projects,
        "generation": published.serving_database or published.generation or "none",
        "publish_seconds": round(published.seconds, 3),
        **({"serving_copies_dropped": list(published.copies_dropped)} if published.serving_database else {}),
    }


def publish_and_report(context: AssetExecutionContext, client, warehouse: ClickHouseWarehouse) -> Published:
    """Publish from inside a load step and record it as a materialization of ``serving_tables``."""
    published, compaction = _compact_and_publish(context, client, warehouse)
    context.log_event(AssetMaterialization(asset_key=SERVING, metadata={**_metadata(published), **compaction}))
    # The check as the publish job runs it, so its status in the UI (and an alert) follows every
    # publish, not only the 09:05 check and the publish job's.
    served = served_day_result(published.last_complete_day, dt.datetime.now(dt.timezone.utc), published.recent_holes)
    context.log_event(AssetCheckEvaluation(asset_key=SERVING, check_name=SERVES_YESTERDAY, passed=served.passed,
                                           severity=served.severity, metadata=served.metadata))
    return published


@asset(key=SERVING, deps=[ROLLUPS], pool="warehouse", group_name="serving", kinds={"clickhouse"},
       freshness_policy=PUBLISHED_DATA_FRESHNESS)
def serving_tables(context: AssetExecutionContext, warehouse: ClickHouseWarehouse) -> MaterializeResult:
    """What the API reads. Materialized = every committed day is visible to readers: recent sums
    brought to the last complete day and a new generation: frozen (embedded warehouse) or a copy
    of the served tables (ClickHouse server)."""
    record_run_process(context)
    with warehouse.connect(what=f"publish run {context.run.run_id}", report=context.log.warning) as client:
        published, compaction = _compact_and_publish(context, client, warehouse)
    return MaterializeResult(metadata={**_metadata(published), **compaction})




def served_day_result(served: dt.date | None, now: dt.datetime,
                      holes: tuple[dt.date, ...] = ()) -> AssetCheckResult:
    """Whether a publish holding days up to ``served`` serves the day the clock expects
    (:func:`expected_last_day`) with every day of the recent sums' window before it (``holes``:
    the days missing there, which make every project's last week or month short)."""
    expected = expected_last_day(now)
    on_time = served is not None and served >= expected
    return AssetCheckResult(passed=on_time and not holes, severity=AssetCheckSeverity.ERROR, metadata={
        "served_last_day": served.isoformat() if served else "none",
        "expected_last_day": expected.isoformat(),
        "recent_window_holes": ", ".join(d.isoformat() for d in holes) or "none",
        **({"verdict": f"the last {RECENT_DAYS} days lack {len(holes)} day(s): every project's last week and "
                       "month are short until they load. The schedule tries a failed day 3 times, and a "
                       "recent one again when upstream changed since (up to 3 times); the day's failed "
                       "run says why it failed. A day "
                       "refused as partial that upstream never completes can be accepted as it is with a "
                       "one-off load, e.g. PEPY_VOLUME_FAIL_BELOW=0 python -m pepy_pipeline load DAY; a day "
                       "upstream has no rows for (lost from its log) can be committed as empty: python -m "
                       "pepy_pipeline load DAY --accept-empty, or the run tag pepy/accept-empty=true"}
           if holes else {}),
        "checked_at": now.isoformat(timespec="seconds")})


def newest_publish(instance) -> tuple[dt.date | None, tuple[dt.date, ...]]:
    """(the last complete day, the recent window's holes) of the newest publish recorded in the instance."""
    records = instance.fetch_materializations(SERVING, limit=1).records
    metadata = records[0].asset_materialization.metadata if records else {}
    last, holes = metadata.get("last_complete_day"), metadata.get("recent_window_holes")
    return (dt.date.fromisoformat(last.value) if last is not None and last.value != "none" else None,
            tuple(dt.date.fromisoformat(d) for d in holes.value.split(", ")) if holes is not None
            and holes.value != "none" else ())


@asset_check(asset=SERVING, name=SERVES_YESTERDAY, blocking=False,
             description="The API serves yesterday from 09:00 UTC on (the day before until then), with no day "
                         f"missing from the {RECENT_DAYS} days its recent sums cover: evaluated after "
                         "every publish (the publish job's and a load run's own) and at 09:05 UTC by its schedule; "
                         "an ERROR (alerted) when a publish happened but not with yesterday in it, or with a hole "
                         "in those days.")
def serves_yesterday(context: AssetCheckExecutionContext) -> AssetCheckResult:
    served, holes = newest_publish(context.instance)
    return served_day_result(served, dt.datetime.now(dt.timezone.utc), holes)
