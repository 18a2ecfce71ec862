"""The daily download facts and their rollups, loaded together in one step per day range.

Facts and rollups are one multi-asset because they are committed together from the same staged
rows (see ``warehouse.loader``): they can never disagree, even if a run dies half-way.
"""


import datetime as dt
import time

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    multi_asset,
)

from pepy_pipeline.partitions import daily_partitions, warehouse_backfill_policy
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.warehouse import checks
from pepy_pipeline.warehouse.loader import load_day
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

DOWNLOADS = AssetKey("pypi_downloads")
ROLLUPS = AssetKey("download_rollups")

_CHECKS = (
    AssetCheckSpec("day_not_empty", asset=DOWNLOADS, blocking=True,
                   description="Every loaded day has rows."),
    AssetCheckSpec("totals_match_source", asset=DOWNLOADS, blocking=True,
                   description="Rows and downloads committed equal what the source reported."),
    AssetCheckSpec("values_plausible", asset=DOWNLOADS, blocking=True,
                   description="No zero counts, malformed project names or Python versions."),
    AssetCheckSpec("no_gaps", asset=DOWNLOADS, blocking=False,
                   description="No missing day between the first and the last loaded day."),
    AssetCheckSpec("rollups_match_facts", asset=ROLLUPS, blocking=True,
                   description="Every rollup and dimension sums to the facts of each day."),
    AssetCheckSpec("matches_upstream_count", asset=DOWNLOADS, blocking=False,
                   description="Downloads loaded equal a COUNT(*) of the day upstream (sources that can "
                               "count: BigQuery). Upstream partial or late days show up here."),
)
_SEVERITY = {"matches_upstream_count": AssetCheckSeverity.ERROR}

_DAY_TABLE = TableSchema(
    columns=[
        TableColumn("day", "string"), TableColumn("rows", "int"), TableColumn("downloads", "int"),
        TableColumn("bytes_on_disk", "int"), TableColumn("stage_seconds", "float"),
        TableColumn("rollup_seconds", "float"),
    ]
)


@multi_asset(
    specs=[
        AssetSpec(DOWNLOADS, group_name="downloads", kinds={"clickhouse"},
                  description="PyPI downloads per day, project, version, file type, country, installer, "
                              "Python minor, system and CI (table downloads_daily)."),
        AssetSpec(ROLLUPS, deps=[DOWNLOADS], group_name="downloads", kinds={"clickhouse"},
                  description="Per-project rollups by day, version and dimension, built from the same "
                              "staged rows as the facts (project_daily, project_version_daily, "
                              "project_dimension_daily)."),
    ],
    check_specs=_CHECKS,
    partitions_def=daily_partitions,
    backfill_policy=warehouse_backfill_policy,
    pool="warehouse",
)
def pypi_downloads(context: AssetExecutionContext, warehouse: ClickHouseWarehouse, source: DownloadSourceResource):
    """Load each day of the run's partition range, atomically and idempotently."""
    days = [dt.date.fromisoformat(key) for key in context.partition_keys]
    download_source = source.build()
    started = time.perf_counter()
    with warehouse.connect() as client, warehouse.insert_clients() as extra_clients:
        loads, costs, upstream = [], [], {}
        for day in days:
            load = load_day(client, warehouse.database, download_source, day, run_id=context.run.run_id,
                            insert_clients=extra_clients)
            cost = download_source.day_metadata(day) if hasattr(download_source, "day_metadata") else {}
            context.log.info(f"{day}: committed {load.rows:,} rows, {load.downloads:,} downloads {cost or ''}")
            loads.append(load)
            costs.append(cost)
            if hasattr(download_source, "upstream_downloads"):
                upstream[day] = download_source.upstream_downloads(day)
        results = {
            "day_not_empty": checks.days_not_empty(client, warehouse.database, days),
            "totals_match_source": checks.totals_match_source(client, warehouse.database, days),
            "values_plausible": checks.values_plausible(client, warehouse.database, days),
            "no_gaps": checks.loaded_day_gaps(client, warehouse.database),
            "rollups_match_facts": checks.rollups_match_facts(client, warehouse.database, days),
            "matches_upstream_count": checks.matches_upstream(loads, upstream),
        }
    seconds = time.perf_counter() - started
    rows = sum(load.rows for load in loads)
    yield MaterializeResult(
        asset_key=DOWNLOADS,
        metadata={
            "dagster/row_count": rows,
            "downloads": sum(load.downloads for load in loads),
            "bytes_on_disk": sum(load.bytes_on_disk for load in loads),
            "days": len(loads),
            "duration_seconds": round(seconds, 3),
            "rows_per_second": round(rows / seconds) if seconds else 0,
            "source": MetadataValue.json(download_source.describe()),
            **_cost_metadata(costs),
            "per_day": MetadataValue.table(
                records=[
                    TableRecord({"day": l.day.isoformat(), "rows": l.rows, "downloads": l.downloads,
                                 "bytes_on_disk": l.bytes_on_disk,
                                 "stage_seconds": round(l.seconds_extract_and_stage, 3),
                                 "rollup_seconds": round(l.seconds_rollups, 3)})
                    for l in loads
                ],
                schema=_DAY_TABLE,
            ),
        },
    )
    yield MaterializeResult(
        asset_key=ROLLUPS,
        metadata={
            "dagster/row_count": sum(sum(l.rollup_rows.values()) for l in loads),
            "rollup_seconds": round(sum(l.seconds_rollups for l in loads), 3),
            **{f"rows_{name}": sum(l.rollup_rows.get(name, 0) for l in loads) for name in loads[0].rollup_rows},
        },
    )
    for spec in _CHECKS:
        passed, metadata = results[spec.name]
        yield AssetCheckResult(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=passed,
            metadata=metadata,
            severity=_SEVERITY.get(spec.name, AssetCheckSeverity.ERROR if spec.blocking else AssetCheckSeverity.WARN),
        )


def _cost_metadata(costs: list[dict]) -> dict:
    """BigQuery cost of the run's days (empty for sources without a cost)."""
    costs = [c for c in costs if c]
    if not costs:
        return {}
    return {
        "bytes_estimated": sum(c["bytes_estimated"] for c in costs),
        "bytes_processed": sum(c["bytes_processed"] for c in costs),
        "bytes_billed": sum(c["bytes_billed"] for c in costs),
        "slot_ms": sum(c["slot_ms"] for c in costs),
        "estimated_cost_usd": round(sum(c["estimated_cost_usd"] for c in costs), 4),
        "bigquery_jobs": MetadataValue.json({c.get("job_id", "?"): c for c in costs}),
    }
