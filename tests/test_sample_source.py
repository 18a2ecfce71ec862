"""The built-in sample source: deterministic, in the canonical schema, and shaped like PyPI."""

import datetime as dt

import pyarrow.compute as pc
import pytest

from pepy_pipeline.sources.sample import SampleSource
from pepy_pipeline.sources.schema import INVALID_PYTHON, MIRROR_INSTALLERS, WAREHOUSE_SCHEMA, conform_batch

WEDNESDAY = dt.date(2026, 11, 18)
SUNDAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def source():
    return SampleSource(projects=400, rows_per_day=30_000)


@pytest.fixture(scope="module")
def day(source):
    return source.day_table(WEDNESDAY)


def test_same_day_gives_identical_rows_and_other_days_differ(source, day):
    assert source.day_table(WEDNESDAY).equals(day)
    assert not source.day_table(WEDNESDAY + dt.timedelta(days=1)).equals(day)


def test_batches_are_in_the_canonical_schema(source):
    batches = list(SampleSource(projects=50, rows_per_day=3000, batch_rows=500).read_day(WEDNESDAY))
    assert len(batches) > 1
    for batch in batches:
        assert batch.schema.equals(WAREHOUSE_SCHEMA)
        conform_batch(batch)


def test_each_row_is_one_distinct_grain_key(day):
    keys = day.drop(["downloads"]).group_by(day.drop(["downloads"]).column_names).aggregate([])
    assert keys.num_rows == day.num_rows
    assert pc.min(day.column("downloads")).as_py() >= 1


def test_popularity_is_zipf_like(day):
    per_project = day.group_by("project").aggregate([("downloads", "sum")]).sort_by([("downloads_sum", "descending")])
    totals = per_project.column("downloads_sum").to_pylist()
    assert len(totals) > 300
    assert totals[0] > 10 * totals[50]  # a heavy head
    assert sum(totals[:20]) > 0.5 * sum(totals)
    assert per_project.column("project")[0].as_py() == "boto3"


def test_weekends_are_lighter(source, day):
    sunday = source.day_table(SUNDAY)
    assert pc.sum(sunday.column("downloads")).as_py() < 0.85 * pc.sum(day.column("downloads")).as_py()


def test_dimension_mixes_look_like_pypi(day):
    total = pc.sum(day.column("downloads")).as_py()

    def share(column, predicate) -> float:
        mask = predicate(day.column(column))
        return pc.sum(pc.if_else(mask, day.column("downloads"), 0)).as_py() / total

    assert 0.4 < share("installer", lambda c: pc.equal(c, "pip")) < 0.75
    assert 0.01 < share("installer", lambda c: pc.is_in(c, pa_set(MIRROR_INSTALLERS))) < 0.15
    assert 0.005 < share("installer", lambda c: pc.is_null(c)) < 0.08
    assert 0.005 < share("country_code", lambda c: pc.is_null(c)) < 0.06
    assert share("python_minor", lambda c: pc.equal(c, INVALID_PYTHON)) > 0
    assert 0.6 < share("system", lambda c: pc.equal(c, "Linux")) < 0.9
    assert 0.2 < share("ci", lambda c: c) < 0.5
    assert 0.75 < share("file_type", lambda c: pc.equal(c, "bdist_wheel")) < 0.95


def test_newer_versions_take_over(source):
    def top_version(day):
        table = source.day_table(day)
        rows = table.filter(pc.equal(table.column("project"), "requests"))
        by_version = rows.group_by("version").aggregate([("downloads", "sum")]).sort_by([("downloads_sum", "descending")])
        return by_version.column("version")[0].as_py(), set(by_version.column("version").to_pylist())

    old_top, old_versions = top_version(dt.date(2019, 6, 5))
    new_top, new_versions = top_version(WEDNESDAY)
    assert old_top != new_top
    assert new_versions - old_versions  # versions released since exist now


def test_project_names_are_pep503_normalised(day):
    names = set(day.column("project").to_pylist())
    assert all(name == name.lower() and "_" not in name and "." not in name for name in names)


def pa_set(values):
    import pyarrow as pa

    return pa.array(list(values))
