"""The sample source's real shape, at a reduced size: the skew and cardinalities that size a
real PyPI day (long tail, heavy head, many versions per project, lighter weekends).

Real-size figures (720 k projects, ~33 M rows) come from ``benchmarks/sample_scale.py``; here the
same shape with 20 k projects keeps the ratios within the bounds below.
"""

import datetime as dt

import numpy as np
import pyarrow.compute as pc
import pytest

from pepy_pipeline.settings import PipelineSettings
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.sources.sample import SampleSource
from pepy_pipeline.sources.schema import WAREHOUSE_SCHEMA

WEDNESDAY = dt.date(2026, 11, 18)
SUNDAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def source():
    return SampleSource(scale="real", projects=20_000, rows_per_day=450_000)


@pytest.fixture(scope="module")
def day(source):
    return source.day_table(WEDNESDAY)


@pytest.fixture(scope="module")
def per_project(day):
    return day.group_by("project").aggregate(
        [("downloads", "count"), ("version", "count_distinct"), ("downloads", "sum")]
    ).sort_by([("downloads_sum", "descending")])


def test_deterministic_and_in_the_canonical_schema(source, day):
    assert day.schema.equals(WAREHOUSE_SCHEMA)
    assert SampleSource(scale="real", projects=20_000, rows_per_day=450_000).day_table(WEDNESDAY).equals(day)


def test_a_sampled_chunk_is_exactly_the_chunk_of_the_full_day(source, day):
    plan = source.plan(WEDNESDAY)
    assert len(plan.chunks) > 1
    first = source.chunk_at(plan, WEDNESDAY, 0)
    assert day.slice(0, first.num_rows).equals(first)


def test_long_tail_most_projects_active_many_with_a_handful_of_rows(source, per_project):
    active = per_project.num_rows
    rows = per_project.column("downloads_count").to_numpy()
    assert 0.85 * source.projects < active < source.projects  # some projects see no download
    assert 0.3 < (rows <= 5).sum() / active < 0.7


def test_heavy_head_with_hundreds_of_versions(day, per_project):
    downloads = per_project.column("downloads_sum").to_numpy()
    assert 0.08 < downloads[:20].sum() / downloads.sum() < 0.5
    assert per_project.column("project")[0].as_py() in {"boto3", "urllib3", "botocore"}
    assert per_project.column("version_count_distinct").to_numpy()[:3].max() >= 100


def test_several_versions_per_active_project_and_many_countries(day, per_project):
    pairs = pc.sum(per_project.column("version_count_distinct")).as_py()
    assert 4 < pairs / per_project.num_rows < 15
    assert 2 < day.num_rows / pairs < 10
    assert len(set(day.column("country_code").to_pylist())) > 60


def test_weekends_are_about_sixty_percent(source, day):
    sunday = source.day_table(SUNDAY)
    assert 0.5 < sunday.num_rows / day.num_rows < 0.7
    ratio = pc.sum(sunday.column("downloads")).as_py() / pc.sum(day.column("downloads")).as_py()
    assert 0.5 < ratio < 0.7


def test_the_scale_is_a_setting(monkeypatch):
    monkeypatch.setenv("PEPY_SAMPLE_SCALE", "real")
    monkeypatch.setenv("PEPY_SAMPLE_PROJECTS", "5000")
    settings = PipelineSettings()
    built = DownloadSourceResource(name="sample", sample_scale=settings.sample_scale,
                                   sample_projects=settings.sample_projects,
                                   sample_rows_per_day=settings.sample_rows_per_day).build()
    assert (built.shape.name, built.projects, built.rows_per_day) == ("real", 5000, 33_000_000)
    small = DownloadSourceResource(name="sample").build()
    assert (small.shape.name, small.projects, small.rows_per_day) == ("small", 300, 20_000)
    with pytest.raises(ValueError, match="unknown sample scale"):
        SampleSource(scale="huge")
    assert np.isclose(SampleSource(scale="real").shape.volume(dt.date(2027, 11, 3)), 1.4, rtol=0.01)
