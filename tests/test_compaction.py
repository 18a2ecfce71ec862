"""Closed partitions of the rollups (months; years for project_daily) are compacted to one part per
table, once, open ones are kept in a few parts, and no answer changes (issue 8: an API read pays
for every part it opens, and only a writer merges parts)."""

import datetime as dt

from pepy_pipeline.schedules import LOOKBACK_DAYS
from pepy_pipeline.warehouse.compaction import (
    CLOSED_AFTER_DAYS,
    COMPACTED_TABLES,
    OPEN_MAX_PARTS,
    compact_partitions,
    partitions_to_compact,
)
from pepy_pipeline.warehouse.day_load import load_day
from pepy_pipeline.warehouse.layout import YEARLY_TABLES, partition_id
from pepy_pipeline.warehouse.publish import publish
from tests.conftest import DATABASE, partition_parts, rollups_match_facts, stop_merges, version_day_cells
from tests.support import api_data
from tests.support.sources import RowsSource

ROWS = [api_data.grain(row) for rows in api_data.ROWS.values() for row in rows]
#: Around a new year: December's month and 2024's year close together.
DEC_30, DEC_31, JAN_1 = dt.date(2024, 12, 30), dt.date(2024, 12, 31), dt.date(2025, 1, 1)
#: The newest day with December (and 2024) still open, and the day that closes them.
STILL_OPEN = JAN_1 + dt.timedelta(days=CLOSED_AFTER_DAYS - 1)
CLOSING = STILL_OPEN + dt.timedelta(days=1)
DAYS = [DEC_30, DEC_31, JAN_1, STILL_OPEN, CLOSING]


def load(client, day: dt.date, scale: int = 1) -> None:
    rows = [{**row, "downloads": row["downloads"] * scale} for row in ROWS]
    load_day(client, DATABASE, RowsSource({day: rows}), day)


def partitions_of(day: dt.date, tables=COMPACTED_TABLES) -> list[tuple[str, str]]:
    return sorted((table, partition_id(table, day)) for table in tables)


def answers(client) -> list:
    """Every rollup summed by its key, and the version days: what any reader can see."""
    seen = []
    for table, keys in (("project_daily", "date, project"), ("project_version_daily", "date, project, version"),
                        ("project_dimension_daily", "date, project, dimension, value")):
        seen.append(client.query(
            f"SELECT {keys}, sum(downloads), sum(ci_downloads), sum(pypistats_downloads) "
            f"FROM {DATABASE}.{table} GROUP BY {keys} HAVING sum(downloads) != 0 ORDER BY {keys}").result_rows)
    return [*seen, version_day_cells(client)]


def test_the_partition_ids_are_the_engines_own(client):
    """The commit attaches and compaction merges by partition id: layout.py must name each
    table's partitions exactly as its PARTITION BY does."""
    load(client, DEC_31)
    rows = client.query("SELECT DISTINCT table, partition_id FROM system.parts WHERE database = {db:String} "
                        "AND active AND table IN {t:Array(String)} ORDER BY table",
                        parameters={"db": DATABASE, "t": list(COMPACTED_TABLES)}).result_rows
    assert sorted(rows) == partitions_of(DEC_31)
    assert ("project_daily", "2024") in rows and YEARLY_TABLES == {"project_daily"}


def test_a_closed_partition_is_compacted_once_and_its_answers_do_not_change(client):
    stop_merges(client, COMPACTED_TABLES)  # every commit leaves its part, as a short-lived writer does
    for day in DAYS[:-1]:
        load(client, day)
    assert partitions_to_compact(client, DATABASE) == []  # not closed yet
    load(client, CLOSING)
    december = partition_parts(client, DEC_31)
    assert all(december[table] >= 2 for table in COMPACTED_TABLES), december
    # December and 2024 only: January and 2025 are still open.
    assert sorted((t, p) for t, p, _ in partitions_to_compact(client, DATABASE)) == partitions_of(DEC_31)
    before = answers(client)

    client.command("SYSTEM START MERGES")  # OPTIMIZE is refused while merges are stopped
    done = compact_partitions(client, DATABASE)

    # Background merges (started above) may have merged a table first: it is then skipped.
    assert {(c.table, c.partition) for c in done} <= set(partitions_of(DEC_31)), done
    assert all(c.error is None for c in done), done
    assert all(n == 1 for n in partition_parts(client, DEC_31).values())
    assert answers(client) == before
    assert compact_partitions(client, DATABASE) == []  # once


def test_a_month_closes_while_its_year_stays_open(client):
    """project_daily is partitioned by year: the month's close compacts the monthly tables only."""
    stop_merges(client, COMPACTED_TABLES)
    jan_30, jan_31, feb_1 = dt.date(2025, 1, 30), dt.date(2025, 1, 31), dt.date(2025, 2, 1)
    days = [jan_30, jan_31, feb_1, feb_1 + dt.timedelta(days=CLOSED_AFTER_DAYS)]
    assert len(days) <= OPEN_MAX_PARTS  # 2025 holds one part per day: no more than an open partition may
    for day in days:
        load(client, day)
    monthly = [t for t in COMPACTED_TABLES if t not in YEARLY_TABLES]
    assert sorted((t, p) for t, p, _ in partitions_to_compact(client, DATABASE)) == partitions_of(jan_31, monthly)
    client.command("SYSTEM START MERGES")
    compact_partitions(client, DATABASE)
    assert partitions_to_compact(client, DATABASE) == []
    assert partition_parts(client, jan_31)["project_daily"] == len(days)  # the open year, left as it is
    assert rollups_match_facts(client, days)


def test_a_reload_in_a_compacted_partition_is_compacted_again_and_counted_once(client):
    for day in DAYS:
        load(client, day)
    compact_partitions(client, DATABASE)
    stop_merges(client, COMPACTED_TABLES)
    load(client, DEC_31, scale=3)
    assert sorted((t, p) for t, p, _ in partitions_to_compact(client, DATABASE)) == partitions_of(DEC_31)
    before = answers(client)
    client.command("SYSTEM START MERGES")

    done = compact_partitions(client, DATABASE)

    assert all(c.error is None for c in done), done
    assert all(n == 1 for n in partition_parts(client, DEC_31).values())
    assert answers(client) == before  # version days (newest row wins) included
    assert rollups_match_facts(client, DAYS)
    dec_31 = client.query(f"SELECT sum(downloads) FROM {DATABASE}.project_daily WHERE date = {{d:Date}} "
                          "AND project = 'pepy'", parameters={"d": DEC_31}).result_rows[0][0]
    assert dec_31 == 3 * sum(row["downloads"] for row in ROWS if row["project"] == "pepy")


def test_no_scheduled_reload_lands_in_a_compacted_partition():
    """The schedule reloads days up to LOOKBACK_DAYS back when upstream changed them: a partition
    compacted before that would be rewritten again for each such reload."""
    assert CLOSED_AFTER_DAYS >= LOOKBACK_DAYS


def test_a_partition_that_cannot_be_compacted_is_reported_and_the_publish_goes_on(client, warehouse_dir):
    for day in DAYS:
        load(client, day)
    stop_merges(client, COMPACTED_TABLES)  # the engine refuses every OPTIMIZE of these tables
    load(client, DEC_31, scale=2)

    done = compact_partitions(client, DATABASE)

    assert done and all(c.error and "merg" in c.error.lower() for c in done), done
    assert sorted((c.table, c.partition) for c in done) == partitions_of(DEC_31)
    published = publish(client, DATABASE, warehouse_dir)
    assert published.last_complete_day == CLOSING
    assert rollups_match_facts(client, DAYS)


def test_an_open_partition_is_merged_once_it_holds_more_than_a_few_parts(client):
    stop_merges(client, COMPACTED_TABLES)
    january = [JAN_1 + dt.timedelta(days=n) for n in range(OPEN_MAX_PARTS + 1)]
    for day in january[:-1]:
        load(client, day)
    assert partitions_to_compact(client, DATABASE) == []  # a few parts: left as they are
    load(client, january[-1])
    assert sorted((t, p) for t, p, _ in partitions_to_compact(client, DATABASE)) == partitions_of(JAN_1)
    before = answers(client)
    client.command("SYSTEM START MERGES")

    done = compact_partitions(client, DATABASE)

    assert {(c.table, c.partition) for c in done} <= set(partitions_of(JAN_1)), done
    assert all(c.error is None for c in done), done
    assert all(n == 1 for n in partition_parts(client, JAN_1).values())
    assert answers(client) == before
    assert rollups_match_facts(client, january)
    assert compact_partitions(client, DATABASE) == []
