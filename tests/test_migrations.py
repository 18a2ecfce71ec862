"""Schema management is versioned and idempotent: fresh and upgraded warehouses are identical."""

from pepy_warehouse.connection import connected
from pepy_pipeline.warehouse.migrations import available_migrations, migrate
from pepy_pipeline.warehouse.sql_files import render, statements

DB = "pepy"


def table_definitions(client) -> dict[str, str]:
    rows = client.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name",
        parameters={"db": DB},
    ).result_rows
    # The UUID differs between two warehouses by nature; everything else must match.
    return {name: query.split(" UUID ")[0] + query[query.find("("):] if " UUID " in query else query
            for name, query in rows}


def test_fresh_and_upgraded_warehouses_end_up_identical(tmp_path):
    with connected(f"chdb://{tmp_path / 'fresh'}") as client:
        assert migrate(client, DB) == [name for _, name in available_migrations()]
        assert migrate(client, DB) == []  # a re-run applies nothing
        fresh = table_definitions(client)
    with connected(f"chdb://{tmp_path / 'old'}") as client:
        # An existing warehouse that only has the first migration (as an older release left it).
        client.command(f"CREATE DATABASE {DB}")
        first = available_migrations()[0][1]
        for statement in statements(render(first, database=DB)):
            client.command(statement)
        client.command(
            f"CREATE TABLE {DB}.schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) "
            "ENGINE = ReplacingMergeTree ORDER BY version"
        )
        client.insert(f"{DB}.schema_migrations", [[1, first]], column_names=["version", "name"])
        applied = migrate(client, DB)
        assert first not in applied and applied
        upgraded = table_definitions(client)
    assert upgraded == fresh
    assert {"downloads_daily", "project_daily", "project_version_daily", "project_dimension_daily",
            "project_alltime", "project_recent", "opening_balance", "publish_log", "load_log"} <= set(fresh)
    assert not {"project_totals", "serving_project_daily", "serving_log"} & set(fresh)


def test_every_serving_table_is_sorted_by_project_first(tmp_path):
    with connected(f"chdb://{tmp_path / 'w'}") as client:
        migrate(client, DB)
        keys = dict(client.query(
            "SELECT name, sorting_key FROM system.tables WHERE database = {db:String}", parameters={"db": DB}
        ).result_rows)
    for table in ("downloads_daily", "project_daily", "project_version_daily", "project_dimension_daily",
                  "project_alltime", "project_recent", "opening_balance"):
        assert keys[table].startswith("project"), (table, keys[table])
