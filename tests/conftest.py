"""Shared fixtures. The pytest process opens at most one chDB directory at a time and closes it:
chDB allows one open directory per process, so API servers and Dagster run in subprocesses."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from pepy_warehouse.connection import connected
from pepy_pipeline.warehouse.migrations import migrate

DATABASE = "pepy"
# A writer opened in this process (or in Dagster processes the tests start) must not move into a
# session of its own: pytest would leave its caller's process group (a CI timeout kills that).
os.environ.setdefault("PEPY_WRITER_SESSION", "false")


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    return tmp_path / "warehouse"


@pytest.fixture
def dsn(warehouse_dir: Path) -> str:
    return f"chdb://{warehouse_dir}"


@pytest.fixture
def client(dsn):
    with connected(dsn) as client:
        migrate(client, DATABASE)
        yield client


def fact_sums(client, day: dt.date | None = None) -> tuple[int, int]:
    where = "" if day is None else "WHERE date = {day:Date}"
    rows, downloads = client.query(
        f"SELECT count(), sum(downloads) FROM {DATABASE}.downloads_daily {where}", parameters={"day": day}
    ).result_rows[0]
    return int(rows), int(downloads)


@pytest.fixture(scope="session")
def dagster_yaml() -> Path:
    return Path(__file__).resolve().parents[1] / "dagster.yaml"


def copy_instance_config(target: Path, dagster_yaml: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(dagster_yaml, target / "dagster.yaml")
    return target


def stop_merges(client, tables, database: str = DATABASE) -> None:
    """Stop the engine's background merges of ``tables``, so each commit leaves its parts as a
    short-lived writer's process does."""
    for table in tables:
        client.command(f"SYSTEM STOP MERGES {database}.{table}")


def hold_background_merges(client, tables, database: str = DATABASE) -> None:
    """Keep the engine's background merges off ``tables`` while OPTIMIZE still works (SYSTEM STOP
    MERGES refuses both): a background merge may then pick no part bigger than one byte. Without
    it the engine merged a test's 6 small parts to 2 within 4 s, so a test could not tell
    compaction's merge from the engine's."""
    for table in tables:
        client.command(f"ALTER TABLE {database}.{table} MODIFY SETTING max_bytes_to_merge_at_max_space_in_pool = 1")


def month_parts(client, month: str, database: str = DATABASE) -> dict[str, int]:
    """Active parts per table in the month partition ``month`` (YYYYMM)."""
    return dict(client.query(
        "SELECT table, count() FROM system.parts WHERE database = {db:String} AND active "
        "AND partition_id = {month:String} GROUP BY table",
        parameters={"db": database, "month": month}).result_rows)


def rollups_match_facts(client, days) -> bool:
    """Independent of the pipeline's own checks: every committed rollup (summing its delta rows),
    in every measure and with every dimension present, and the all-time sums agree with the
    committed facts, day by day."""
    from pepy_pipeline.warehouse import measures
    from pepy_pipeline.warehouse.rollup_dimensions import DERIVED_DIMENSIONS, FACT_DIMENSIONS

    sums = ", ".join(f"sumIf({name}, project != '__all__')" for name in measures.MEASURES)
    for day in days:
        facts = client.query(f"SELECT {measures.FROM_FACTS} FROM (SELECT *, {measures.FLAGS} "
                             f"FROM {DATABASE}.downloads_daily WHERE date = {{d:Date}})",
                             parameters={"d": day}).result_rows[0]
        for table in ("project_daily", "project_version_daily"):
            got = client.query(f"SELECT {sums} FROM {DATABASE}.{table} WHERE date = {{d:Date}}",
                               parameters={"d": day}).result_rows[0]
            if got != facts:
                return False
        if not any(facts):
            continue  # a day accepted as empty has no rollups, and needs none
        dims = client.query(f"SELECT dimension, {sums} FROM {DATABASE}.project_dimension_daily "
                            "WHERE date = {d:Date} GROUP BY dimension", parameters={"d": day}).result_rows
        if {row[0] for row in dims} != {*FACT_DIMENSIONS, *DERIVED_DIMENSIONS} or any(row[1:] != facts for row in dims):
            return False
    loaded = client.query(f"SELECT sum(downloads) FROM {DATABASE}.downloads_daily").result_rows[0][0]
    alltime = client.query(f"SELECT sum(downloads) FROM {DATABASE}.project_alltime WHERE project != '__all__'"
                           ).result_rows[0][0]
    return loaded == alltime


def version_day_cells(client, database: str = DATABASE) -> list[tuple]:
    """(project, date, (version, downloads, not-CI downloads)) of the newest version-days row of
    each (project, day), sorted: what pepy's v2/pro answers are built from."""
    return client.query(
        "SELECT project, date, arrayJoin(arrayZip(argMax(versions, committed_at), argMax(downloads, committed_at), "
        f"argMax(not_ci_downloads, committed_at))) AS cell FROM {database}.project_version_days "
        "GROUP BY project, date ORDER BY project, date, cell").result_rows


def month_grain_and_daily(client, database: str = DATABASE) -> dict[str, tuple[list, list]]:
    """Each month-grain table's rows (summed, zeros left out) beside its daily rollup's rows summed
    by month: the two must be equal."""
    from pepy_pipeline.warehouse.month_grain import MONTH_GRAIN
    from pepy_pipeline.warehouse.measures import MEASURES

    sums = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
    nonzero = " OR ".join(f"{m} != 0" for m in MEASURES)
    out = {}
    for table, (daily, keys) in MONTH_GRAIN.items():
        monthly = client.query(f"SELECT month, {keys}, {sums} FROM {database}.{table} GROUP BY month, {keys} "
                               f"HAVING {nonzero} ORDER BY ALL").result_rows
        from_daily = client.query(f"SELECT toStartOfMonth(date) AS month, {keys}, {sums} FROM {database}.{daily} "
                                  f"GROUP BY month, {keys} HAVING {nonzero} ORDER BY ALL").result_rows
        out[table] = (monthly, from_daily)
    return out
