"""Publishes loaded days to readers: project totals, and in embedded mode a frozen generation."""


from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from pepy_pipeline.assets.downloads import ROLLUPS
from pepy_pipeline.freshness import PUBLISHED_DATA_FRESHNESS
from pepy_pipeline.partitions import daily_partitions, warehouse_backfill_policy
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
from pepy_pipeline.warehouse.serving import publish_generation, rebuild_serving_months, rebuild_totals

SERVING = AssetKey("serving_tables")


@asset(
    key=SERVING,
    deps=[ROLLUPS],
    partitions_def=daily_partitions,
    backfill_policy=warehouse_backfill_policy,
    pool="warehouse",
    group_name="serving",
    kinds={"clickhouse"},
    freshness_policy=PUBLISHED_DATA_FRESHNESS,
)
def serving_tables(context: AssetExecutionContext, warehouse: ClickHouseWarehouse) -> MaterializeResult:
    """What the API reads. A materialised partition means that day is visible to readers.

    Rebuilds the month partitions of the serving tables whose days changed, ``project_totals``
    (all-time and recent sums, in memory in the API) and, for the embedded warehouse, freezes a
    new read-only generation for the API process to attach.
    """
    with warehouse.connect() as client:
        months = rebuild_serving_months(client, warehouse.database)
        as_of = rebuild_totals(client, warehouse.database)
        projects = client.query(f"SELECT count() FROM {warehouse.database}.project_totals").result_rows[0][0]
        generation = publish_generation(client, warehouse.database, warehouse.data_path) if warehouse.embedded else None
    metadata = {
        "last_complete_day": as_of.isoformat() if as_of else "none",
        "projects": int(projects),
        "months_rebuilt": ", ".join(str(m) for m in months) or "none",
        "generation": generation.name if generation else "live tables (ClickHouse server)",
    }
    context.log.info(f"serving data as of {metadata['last_complete_day']} ({metadata['generation']})")
    return MaterializeResult(metadata=metadata)
