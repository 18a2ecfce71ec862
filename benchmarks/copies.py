"""Experiments on copies of the served tables, shared by ``bench_granules.py`` and
``bench_part_format.py``: an engine of the experiment's own with the current generation attached
as ``gen``, copies of a served table built once (same columns and sort key, other settings), and
the API's 30- and 180-day questions asked of every copy back to back in random order."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import clickhouse_connect

from benchmarks.bench_api import largest_and_zipf, percentile
from pepy_api.store.reader import QUERY_SETTINGS
from pepy_warehouse.generation import attach_generation, current_manifest, detach_generation

QUESTIONS = {
    "project_daily": "SELECT date, sum(pypistats_downloads) AS w, sum(pypistats_without_mirrors) FROM {table} "
                     "WHERE project = {{project:String}} AND date BETWEEN {{s:Date}} AND {{e:Date}} "
                     "GROUP BY date HAVING w > 0 ORDER BY date",
    "project_dimension_daily": "SELECT date, value, sum(pypistats_without_mirrors) AS n FROM {table} "
                               "WHERE project = {{project:String}} AND dimension = 'pypistats_system' "
                               "AND date BETWEEN {{s:Date}} AND {{e:Date}} GROUP BY date, value HAVING n > 0 "
                               "ORDER BY date, value",
}


def engine(home: Path):
    config = home / "config.xml"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text(f"<clickhouse><custom_local_disks_base_directory>{home}/</custom_local_disks_base_directory>"
                      "</clickhouse>")
    return clickhouse_connect.get_client(interface="chdb", path=str(home / "data"),
                                         chdb_options={"config-file": str(config)})


def attach_current(home: Path, warehouse: Path):
    """The engine under ``home`` with the warehouse's current generation attached afresh as ``gen``:
    one an earlier run attached may have been removed since (its links dangle, and the engine
    would not start over them)."""
    shutil.rmtree(home / "links", ignore_errors=True)
    client = engine(home)
    if "gen" in {row[0] for row in client.query("SHOW DATABASES").result_rows}:
        detach_generation(client, "gen")
    attach_generation(client, current_manifest(warehouse / "warehouse"), "gen", home / "links")
    return client


def build_once(client, name: str, statements: list[str]) -> str:
    """``name`` (``exp.<table>``) from ``statements`` (``{build}`` naming the table being built), every
    partition merged to one part, then renamed into place; built once (kept between runs). A killed
    build's leftover is dropped first."""
    client.command("CREATE DATABASE IF NOT EXISTS exp")
    if client.query(f"EXISTS TABLE {name}").result_rows[0][0]:
        return name
    client.command(f"DROP TABLE IF EXISTS {name}_build")
    started = time.perf_counter()
    for statement in statements:
        client.command(statement.replace("{build}", f"{name}_build"))
    client.command(f"OPTIMIZE TABLE {name}_build FINAL")
    client.command(f"RENAME TABLE {name}_build TO {name}")
    print(f"built {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return name


def copy_table(client, table: str, name: str, settings: str, since: dt.date,
               ddl: Callable[[str], str] = lambda text: text) -> str:
    """``name``: the generation's rows of ``table`` since ``since`` with the table ``settings``
    given (and its DDL passed through ``ddl``), every partition merged to one part like compaction
    leaves a closed month; built once (kept between runs)."""
    served = client.query(f"SHOW CREATE TABLE gen.{table}").result_rows[0][0]
    # The attached table's SETTINGS name its read-only disk: the copy gets only ``settings`` (our
    # rollups set no other table setting).
    create = ddl(served.split("SETTINGS")[0].replace(f"gen.{table}", "{build}", 1)) + f" SETTINGS {settings}"
    return build_once(client, name, [create, f"INSERT INTO {{build}} SELECT * FROM gen.{table} WHERE date >= '{since}'"])


def sample_projects(client, seed: int) -> tuple[list[str], dt.date]:
    """The 20 largest and 60 Zipf-drawn projects of ``gen``, and its newest day."""
    ranked = [row[0] for row in client.query(
        "SELECT project FROM gen.project_alltime WHERE project != '__all__' GROUP BY project "
        "ORDER BY sum(downloads) DESC LIMIT 300000").result_rows]
    last = client.query("SELECT max(date) FROM gen.project_daily").result_rows[0][0]
    return largest_and_zipf(ranked, 20, 60, 4000, random.Random(seed)), last


def time_copies(client, tables: dict[str, list[str]], projects: list[str], last: dt.date, days: int,
                rounds: int) -> dict[str, list[float]]:
    """Milliseconds per copy for the ``days``-day question of its table, every copy of a table back
    to back in random order, answers checked equal; a first round warms the caches, uncounted."""
    times: dict[str, list[float]] = {}
    for round_ in range(rounds + 1):
        for project in projects:
            parameters = {"project": project, "s": last - dt.timedelta(days=days - 1), "e": last}
            for table, copies in tables.items():
                answers = []
                for name in random.sample(copies, len(copies)):
                    started = time.perf_counter()
                    answers.append(client.query(QUESTIONS[table].format(table=name), parameters=parameters,
                                                settings=QUERY_SETTINGS).result_rows)
                    if round_:
                        times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
                assert all(answer == answers[0] for answer in answers), (project, table)
    for name, values in sorted(times.items()):
        print(f"{days:3d} days {name:40s} p50 {statistics.median(values):6.2f}  p90 "
              f"{percentile(values, 90):6.2f}  p99 {percentile(values, 99):6.2f} ms", flush=True)
    return times
