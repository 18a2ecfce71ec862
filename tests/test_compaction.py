"""Closed months of the rollups are compacted to one part per table (again after a reload), an open month once it
holds more parts than its table may keep, and no answer changes (issue 8: an API read pays for
every part it opens, and only a writer merges parts)."""

import datetime as dt

import pytest

from pepy_pipeline.reload_policy import LOOKBACK_DAYS
from pepy_pipeline.warehouse import compaction
from pepy_pipeline.warehouse.compaction import (
    CLOSED_AFTER_DAYS,
    COMPACTED_TABLES,
    compact_months,
    open_month_max_parts,
    partitions_to_compact,
)
from pepy_pipeline.warehouse.day_load import load_day
from pepy_pipeline.warehouse.publish import publish
from tests.conftest import (
    DATABASE,
    hold_background_merges,
    month_parts,
    rollups_match_facts,
    stop_merges,
    version_day_cells,
)
from tests.support import api_data
from tests.support.sources import RowsSource

ROWS = [api_data.grain(row) for rows in api_data.ROWS.values() for row in rows]
JAN_30, JAN_31, FEB_1 = dt.date(2025, 1, 30), dt.date(2025, 1, 31), dt.date(2025, 2, 1)
#: The newest day with January still open, and the day that closes it.
STILL_OPEN = FEB_1 + dt.timedelta(days=CLOSED_AFTER_DAYS - 1)
CLOSING = STILL_OPEN + dt.timedelta(days=1)
DAYS = [JAN_30, JAN_31, FEB_1, STILL_OPEN, CLOSING]


def load(client, day: dt.date, scale: int = 1) -> None:
    rows = [{**row, "downloads": row["downloads"] * scale} for row in ROWS]
    load_day(client, DATABASE, RowsSource({day: rows}), day)


def answers(client) -> list:
    """Every rollup summed by its key, and the version days: what any reader can see."""
    seen = []
    for table, keys in (("project_daily", "date, project"), ("project_version_daily", "date, project, version"),
                        ("project_dimension_daily", "date, project, dimension, value"),
                        ("project_version_monthly", "month, project, version"),
                        ("project_dimension_monthly", "month, project, dimension, value")):
        seen.append(client.query(
            f"SELECT {keys}, sum(downloads), sum(ci_downloads), sum(pypistats_downloads) "
            f"FROM {DATABASE}.{table} GROUP BY {keys} HAVING sum(downloads) != 0 ORDER BY {keys}").result_rows)
    return [*seen, version_day_cells(client)]


@pytest.fixture
def open_months_left_alone(monkeypatch):
    """The closed-month tests load a few days into open months too: their open months may keep
    any number of parts here, so only what closing a month does is seen."""
    monkeypatch.setattr(compaction, "OPEN_MONTH_MAX_PARTS", {})
    monkeypatch.setattr(compaction, "OPEN_MONTH_DEFAULT_MAX_PARTS", 100)


def test_a_closed_month_is_compacted_once_and_its_answers_do_not_change(client, open_months_left_alone):
    hold_background_merges(client, COMPACTED_TABLES)  # every commit leaves its part, as a short-lived writer does
    for day in DAYS[:-1]:
        load(client, day)
    assert partitions_to_compact(client, DATABASE) == []  # not closed yet
    load(client, CLOSING)
    january = month_parts(client, "202501")
    assert all(january[table] >= 2 for table in COMPACTED_TABLES), january
    assert sorted((t, m) for t, m, _ in partitions_to_compact(client, DATABASE)) == \
        sorted((t, "202501") for t in COMPACTED_TABLES)  # January only: February is still open
    before = answers(client)

    done = compact_months(client, DATABASE)

    assert sorted((c.table, c.month) for c in done) == sorted((t, "202501") for t in COMPACTED_TABLES), done
    assert all(c.error is None for c in done), done
    assert all(n == 1 for n in month_parts(client, "202501").values())
    assert answers(client) == before
    assert compact_months(client, DATABASE) == []  # once


def test_a_reload_in_a_compacted_month_is_compacted_again_and_counted_once(client, open_months_left_alone):
    hold_background_merges(client, COMPACTED_TABLES)
    for day in DAYS:
        load(client, day)
    assert [c.error for c in compact_months(client, DATABASE)] == [None] * len(COMPACTED_TABLES)
    assert all(n == 1 for n in month_parts(client, "202501").values())  # compacted before the reload
    load(client, JAN_31, scale=3)
    assert {(t, m) for t, m, _ in partitions_to_compact(client, DATABASE)} == {(t, "202501") for t in COMPACTED_TABLES}
    before = answers(client)

    done = compact_months(client, DATABASE)

    assert sorted((c.table, c.month) for c in done) == sorted((t, "202501") for t in COMPACTED_TABLES), done
    assert all(c.error is None for c in done), done
    assert all(n == 1 for n in month_parts(client, "202501").values())
    assert answers(client) == before  # version days (newest row wins) included
    assert rollups_match_facts(client, DAYS)
    jan_31 = client.query(f"SELECT sum(downloads) FROM {DATABASE}.project_daily WHERE date = {{d:Date}} "
                          "AND project = 'pepy'", parameters={"d": JAN_31}).result_rows[0][0]
    assert jan_31 == 3 * sum(row["downloads"] for row in ROWS if row["project"] == "pepy")


def test_no_scheduled_reload_lands_in_a_compacted_month():
    """The schedule reloads days up to LOOKBACK_DAYS back when upstream changed them: a month
    compacted before that would be rewritten again for each such reload."""
    assert CLOSED_AFTER_DAYS >= LOOKBACK_DAYS


def test_a_month_that_cannot_be_compacted_is_reported_and_the_publish_goes_on(client, warehouse_dir,
                                                                             open_months_left_alone):
    for day in DAYS:
        load(client, day)
    stop_merges(client, COMPACTED_TABLES)  # the engine refuses every OPTIMIZE of these tables
    load(client, JAN_31, scale=2)

    done = compact_months(client, DATABASE)

    assert done and all(c.error and "merg" in c.error.lower() for c in done), done
    assert {c.month for c in done} == {"202501"}
    published = publish(client, DATABASE, warehouse_dir)
    assert published.last_complete_day == CLOSING
    assert rollups_match_facts(client, DAYS)


def test_an_open_month_is_merged_once_it_holds_more_parts_than_its_table_may_keep(client):
    hold_background_merges(client, COMPACTED_TABLES)
    others = sorted(t for t in COMPACTED_TABLES if t != "project_dimension_daily")
    assert {open_month_max_parts(t) for t in others} == {1} and open_month_max_parts("project_dimension_daily") == 4
    february = [FEB_1 + dt.timedelta(days=n) for n in range(5)]

    def due() -> list[str]:
        return sorted(t for t, m, _ in partitions_to_compact(client, DATABASE))

    load(client, february[0])
    assert due() == []  # one part each
    load(client, february[1])
    assert due() == others  # two: past the limit of all but the dimensions
    before = answers(client)

    done = compact_months(client, DATABASE)

    assert sorted((c.table, c.month) for c in done) == [(t, "202502") for t in others], done
    assert all(c.error is None for c in done), done
    assert month_parts(client, "202502") == {**{t: 1 for t in others}, "project_dimension_daily": 2}
    assert answers(client) == before
    for day in february[2:4]:
        load(client, day)
    assert due() == others  # the dimensions in four parts: still within theirs
    load(client, february[4])
    assert due() == sorted(COMPACTED_TABLES)  # the dimensions in five
    before = answers(client)

    done = compact_months(client, DATABASE)

    assert sorted((c.table, c.month) for c in done) == sorted((t, "202502") for t in COMPACTED_TABLES), done
    assert all(c.error is None for c in done), done
    assert all(n == 1 for n in month_parts(client, "202502").values())
    assert answers(client) == before
    assert rollups_match_facts(client, february)
    assert compact_months(client, DATABASE) == []


class MergingEngine:
    """Answers compaction's question "how many merges run on this partition" from a script: the
    engine's background merges cannot be started at will at test size."""

    def __init__(self, merges_running: list[int]) -> None:
        self.merges_running = merges_running
        self.asked = 0

    def query(self, sql, parameters=None):
        assert "system.merges" in sql and parameters["month"] == "202501"
        self.asked += 1
        running = self.merges_running.pop(0) if self.merges_running else 0

        class Result:
            result_rows = [(running,)]
        return Result()


def test_compaction_waits_for_the_engines_merges_of_the_month():
    """An OPTIMIZE waits only 120 s for parts a background merge holds, then does nothing: at real
    size it did exactly that. Compaction polls until no merge runs on the partition."""
    import time

    from pepy_pipeline.warehouse.compaction import wait_for_merges

    engine = MergingEngine([2, 1, 0])
    wait_for_merges(engine, DATABASE, "project_daily", "202501", time.monotonic() + 10, poll_seconds=0.01)
    assert engine.asked == 3


def test_compaction_gives_up_on_a_merge_that_outlasts_its_budget():
    import time

    from pepy_pipeline.warehouse.compaction import wait_for_merges

    engine = MergingEngine([1] * 1000)
    with pytest.raises(TimeoutError, match="still merging project_daily 202501"):
        wait_for_merges(engine, DATABASE, "project_daily", "202501", time.monotonic() + 0.05, poll_seconds=0.01)
    assert 1 < engine.asked < 1000


class EngineMergesMeanwhile:
    """The real engine, whose background merge of a month finishes while compaction waits for it:
    the first time compaction asks which merges run on a month, that month is merged first."""

    def __init__(self, client) -> None:
        self._client = client
        self.merged: list[tuple[str, str]] = []
        self.optimized_by_compaction: list[str] = []

    def query(self, sql, parameters=None, **kwargs):
        if "system.merges" in sql and (parameters["table"], parameters["month"]) not in self.merged:
            self.merged.append((parameters["table"], parameters["month"]))
            self._client.command(f"OPTIMIZE TABLE {parameters['db']}.{parameters['table']} "
                                 f"PARTITION ID '{parameters['month']}' FINAL")
        return self._client.query(sql, parameters=parameters, **kwargs)

    def command(self, sql, **kwargs):
        self.optimized_by_compaction.append(sql)
        return self._client.command(sql, **kwargs)


def test_a_month_the_engine_merged_meanwhile_is_left_alone(client, open_months_left_alone):
    """After waiting for the engine's merges compaction counts the parts again: a month they
    already merged is not rewritten a second time (OPTIMIZE FINAL of one part rewrites it)."""
    hold_background_merges(client, COMPACTED_TABLES)
    for day in DAYS:
        load(client, day)
    engine = EngineMergesMeanwhile(client)

    done = compact_months(engine, DATABASE)

    assert sorted(engine.merged) == sorted((t, "202501") for t in COMPACTED_TABLES)
    assert done == [] and engine.optimized_by_compaction == []
    assert all(n == 1 for n in month_parts(client, "202501").values())
