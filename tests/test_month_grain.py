"""Month-granular answers read the months lying wholly in the range from the month-grain rollups
and the partial months at either end from the daily ones (issue 8: a long range by month read
every daily row). For any range they must equal the daily rollups summed by month."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

import pytest

from pepy_api.store import queries
from pepy_api.store.reader import FrozenGenerationReader
from pepy_pipeline.sources.sample import SampleSource
from pepy_pipeline.warehouse.day_checks import VolumeBands
from pepy_pipeline.warehouse.day_load import load_day
from pepy_pipeline.warehouse.migrations import migrate
from pepy_pipeline.warehouse.publish import publish
from pepy_warehouse.connection import connected

D = dt.date
#: Month edges and middles over four months (February's end included), one day loaded twice.
LOADED = [D(2026, 1, 30), D(2026, 1, 31), D(2026, 2, 1), D(2026, 2, 14), D(2026, 2, 28), D(2026, 3, 1),
          D(2026, 3, 16), D(2026, 3, 31), D(2026, 4, 1), D(2026, 2, 14)]
#: Range ends: every month edge and a middle day, and days before and after the data.
ENDS = [D(2026, 1, 1), D(2026, 1, 31), D(2026, 2, 1), D(2026, 2, 2), D(2026, 2, 27), D(2026, 2, 28),
        D(2026, 3, 1), D(2026, 3, 16), D(2026, 3, 31), D(2026, 4, 1), D(2026, 4, 30)]


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("month_grain") / "warehouse"
    bands = VolumeBands(fail_below=0.0, warn_below=0.0, warn_above=1e9, fail_above=1e9, reload_fail_below=0.0)
    with connected(f"chdb://{warehouse}") as client:
        migrate(client, "pepy")
        for seed, day in enumerate(LOADED):
            load_day(client, "pepy", SampleSource(projects=25, rows_per_day=700, seed=seed), day, bands=bands)
        publish(client, "pepy", warehouse)
    reader = FrozenGenerationReader(warehouse, refresh_seconds=3600)
    yield reader
    reader.close()


def summed_by_month(rows) -> list[tuple[dt.date, str, int]]:
    """Daily (day, key, downloads) rows summed by month, as a month-granular answer orders them."""
    sums: dict[tuple, int] = defaultdict(int)
    for day, key, n in rows:
        sums[(day.replace(day=1), key)] += n
    return sorted((month, key, n) for (month, key), n in sums.items() if n > 0)


def test_whole_months_of_a_range():
    assert queries.whole_months(D(2025, 11, 1), D(2026, 12, 8)) == (D(2025, 11, 1), D(2026, 11, 1))
    assert queries.whole_months(D(2025, 11, 2), D(2026, 11, 30)) == (D(2025, 12, 1), D(2026, 11, 1))
    assert queries.whole_months(D(2026, 2, 1), D(2026, 2, 28)) == (D(2026, 2, 1), D(2026, 2, 1))
    assert queries.whole_months(D(2026, 2, 1), D(2026, 2, 27)) is None
    assert queries.whole_months(D(2026, 1, 5), D(2026, 1, 20)) is None


@pytest.mark.parametrize("kind", ["version", "installer", "python_minor"])
def test_month_answers_equal_the_daily_rollups_summed_by_month(reader, kind):
    projects = list(reader.snapshot().ranked[:2]) + [reader.snapshot().ranked[-1]]
    measures = ["all", "not_ci", "without_mirrors", "pypistats_without_mirrors"]
    checked = 0
    for project, (start, end) in itertools.product(projects, itertools.combinations_with_replacement(ENDS, 2)):
        measure = measures[checked % len(measures)]
        if kind == "version":
            by_month = queries.version_breakdown(reader, project, start, end, measure, "month")
            daily = queries.version_breakdown(reader, project, start, end, measure, "day")
        else:
            by_month = queries.dimension_downloads(reader, project, kind, start, end, measure, "month")
            daily = queries.dimension_downloads(reader, project, kind, start, end, measure, "day")
        assert by_month == summed_by_month(daily), (project, start, end, measure)
        checked += bool(by_month)
    assert checked > 100  # most ranges hold data


def test_month_answers_read_the_month_grain_tables(reader):
    """The whole months come from the month-grain table: emptied of one month's rows (here by
    reading a copy of the generation where that table is replaced), the answer changes."""
    project = reader.snapshot().ranked[0]
    whole = queries.version_breakdown(reader, project, D(2026, 2, 1), D(2026, 3, 31), "all", "month")
    database = reader.snapshot().database
    reader.query(f"CREATE TABLE {database}.empty_monthly AS {database}.project_version_monthly ENGINE = Memory")
    try:
        rows = reader.query(
            queries.month_answer_sql("project_version", "version", "project = {project:String}", "all").replace(
                "__DB__.project_version_monthly", "__DB__.empty_monthly"),
            {"project": project, **queries.month_parameters(D(2026, 2, 1), D(2026, 3, 31))})
    finally:
        reader.query(f"DROP TABLE {database}.empty_monthly")
    assert whole and rows == []
