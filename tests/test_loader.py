"""Loads are idempotent and atomic: a re-run never double counts, a failure leaves the previous
day intact, and rollups always agree with the facts."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pepy_pipeline.sources.sample import SampleSource
from pepy_pipeline.sources.schema import SourceSchemaError
from pepy_warehouse.connection import connected
from pepy_pipeline.warehouse.day_load import DayFailed, load_day
from pepy_pipeline.warehouse.migrations import migrate
from tests.conftest import DATABASE, fact_sums, rollups_match_facts
from tests.support.sources import BatchesSource, FailingSource, RowsSource

DAY = dt.date(2026, 11, 10)
SAMPLE = SampleSource(projects=80, rows_per_day=6000, batch_rows=1000)


def source_sums(source, day) -> tuple[int, int]:
    batches = list(source.read_day(day))
    return sum(b.num_rows for b in batches), sum(pc.sum(b.column("downloads")).as_py() for b in batches)


def test_a_load_commits_exactly_what_the_source_yields(client):
    report = load_day(client, DATABASE, SAMPLE, DAY)
    assert fact_sums(client, DAY) == source_sums(SAMPLE, DAY) == (report.rows, report.downloads)
    assert report.rollup_rows["project_daily"] > 1


def test_rerunning_a_day_replaces_it_and_never_double_counts(client):
    load_day(client, DATABASE, SAMPLE, DAY)
    load_day(client, DATABASE, SAMPLE, DAY + dt.timedelta(days=1))
    before = fact_sums(client)
    load_day(client, DATABASE, SAMPLE, DAY)
    load_day(client, DATABASE, SAMPLE, DAY)
    assert fact_sums(client) == before
    for table in ("project_daily", "project_version_daily", "project_dimension_daily"):
        assert client.query(f"SELECT count() FROM {DATABASE}.{table} WHERE date = {{d:Date}}",
                            parameters={"d": DAY}).result_rows[0][0] > 0
    assert rollups_match_facts(client, [DAY, DAY + dt.timedelta(days=1)])


class MovesOnAfterItsFirstRead:
    """The sample day, whose first read fails mid-stream (a transient error: retried), and whose
    fingerprint changes each time it is asked (rows landing upstream meanwhile)."""

    name = "moves-on"

    def __init__(self) -> None:
        self.reads = self.asked = 0

    def describe(self) -> dict[str, str]:
        return {"source": self.name}

    def day_fingerprints(self, days):
        self.asked += 1
        return {day: f"{self.asked}@t" for day in days}

    def read_day(self, day):
        self.reads += 1
        if self.reads == 1:
            raise ConnectionError("the stream was reset")
        yield from SAMPLE.read_day(day)


def test_a_retried_day_records_the_fingerprint_read_before_its_first_read(client):
    """Found in review: a retry read the fingerprint again, and BigQuery's retry re-reads the first
    attempt's finished query: the day was recorded with a fingerprint newer than its rows, and the
    schedule, seeing no change, never reloaded the rows that landed between the two."""
    source = MovesOnAfterItsFirstRead()
    report = load_day(client, DATABASE, source, DAY, backoff_seconds=0)
    assert source.reads == 2 and report.fingerprint == "1@t"
    recorded = client.query(f"SELECT upstream_fingerprint FROM {DATABASE}.load_log FINAL WHERE date = {{d:Date}}",
                            parameters={"d": DAY}).result_rows
    assert recorded == [("1@t",)]


@pytest.mark.slow  # the longest single tests (15-90 s each): CI runs them
def test_a_source_failing_midway_leaves_the_previous_day_intact(client):
    load_day(client, DATABASE, SAMPLE, DAY)
    before = fact_sums(client, DAY)
    rollups_before = client.query(f"SELECT sum(downloads) FROM {DATABASE}.project_daily").result_rows
    with pytest.raises(ConnectionError):
        load_day(client, DATABASE, FailingSource(SAMPLE, fail_after=2), DAY)
    assert fact_sums(client, DAY) == before
    assert client.query(f"SELECT sum(downloads) FROM {DATABASE}.project_daily").result_rows == rollups_before
    leftovers = client.query(f"SELECT count() FROM system.tables WHERE database = '{DATABASE}' AND name LIKE '_staging%'")
    assert leftovers.result_rows[0][0] == 0


def test_a_batch_with_the_wrong_schema_loads_nothing(client):
    good = list(SAMPLE.read_day(DAY))
    bad = good[0].drop_columns(["country_code"])
    with pytest.raises(SourceSchemaError, match="missing \\['country_code'\\]"):
        load_day(client, DATABASE, BatchesSource([good[0], good[1], bad]), DAY)
    assert fact_sums(client, DAY) == (0, 0)


def test_rows_of_another_day_are_refused(client):
    source = RowsSource({DAY: [{"project": "pepy", "version": "1.0", "downloads": 1}]})
    with pytest.raises(SourceSchemaError, match="outside"):
        load_day(client, DATABASE, BatchesSource(list(source.read_day(DAY))), DAY + dt.timedelta(days=1))
    assert fact_sums(client) == (0, 0)


def test_an_empty_day_never_replaces_good_data(client):
    load_day(client, DATABASE, SAMPLE, DAY)
    before = fact_sums(client, DAY)
    with pytest.raises(DayFailed, match="left as it was"):
        load_day(client, DATABASE, RowsSource({}), DAY)
    assert fact_sums(client, DAY) == before


def test_rollups_match_an_independent_computation(client):
    load_day(client, DATABASE, SAMPLE, DAY)
    table = SAMPLE.day_table(DAY)
    mirrors = pc.is_in(table.column("installer").cast(pa.string()), pa.array(["bandersnatch", "z3c.pypimirror", "Artifactory", "devpi"]))
    table = table.append_column("without_mirrors", pc.if_else(pc.fill_null(mirrors, False), 0, table.column("downloads")))
    expected = {r["project"]: (r["downloads_sum"], r["without_mirrors_sum"])
                for r in table.group_by("project").aggregate([("downloads", "sum"), ("without_mirrors", "sum")]).to_pylist()}
    got = {p: (n, w) for p, n, w in client.query(
        f"SELECT project, downloads, downloads_without_mirrors FROM {DATABASE}.project_daily WHERE project != '__all__'"
    ).result_rows}
    assert got == expected
    all_row = client.query(f"SELECT downloads FROM {DATABASE}.project_daily WHERE project = '__all__'").result_rows
    assert all_row == [(sum(v[0] for v in expected.values()),)]
    py3 = client.query(
        f"SELECT sum(downloads) FROM {DATABASE}.project_dimension_daily WHERE dimension = 'python_major' AND value = '3' "
        "AND project != '__all__'").result_rows[0][0]
    minor = table.column("python_minor").cast(pa.string())
    is3 = pc.fill_null(pc.starts_with(minor, "3."), False)
    assert py3 == pc.sum(pc.if_else(is3, table.column("downloads"), 0)).as_py()


KILL_SCRIPT = """
import sys, time, datetime as dt
from pepy_pipeline.sources.sample import SampleSource
from pepy_warehouse.connection import connected
from pepy_pipeline.warehouse.day_load import load_day

class Slow:
    name = "slow"
    def __init__(self, inner): self.inner = inner
    def describe(self): return {}
    def read_day(self, day):
        for batch in self.inner.read_day(day):
            yield batch
            print("batch", flush=True)
            time.sleep(0.5)

with connected(sys.argv[1]) as client:
    load_day(client, "pepy", Slow(SampleSource(projects=80, rows_per_day=6000, batch_rows=1000, seed=99)),
             dt.date.fromisoformat(sys.argv[2]))
"""


def test_a_load_killed_midway_leaves_the_day_intact_and_the_next_load_works(dsn):
    with connected(dsn) as client:
        migrate(client, DATABASE)
        load_day(client, DATABASE, SAMPLE, DAY)
        before = fact_sums(client, DAY)
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, dsn, DAY.isoformat()], stdout=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    for _ in range(2):  # let it stage a couple of batches, then kill it hard
        assert process.stdout.readline().startswith("batch")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    time.sleep(0.2)
    from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

    # Every writer opens the warehouse this way: embedded, it removes a killed writer's leftovers
    # (a load itself leaves younger staging tables alone: another writer may own them).
    with ClickHouseWarehouse(dsn=dsn, database=DATABASE).connect() as client:
        assert fact_sums(client, DAY) == before
        load_day(client, DATABASE, SAMPLE, DAY)
        assert fact_sums(client, DAY) == before
        staging = client.query(f"SELECT count() FROM system.tables WHERE database = '{DATABASE}' AND name LIKE '_staging%'")
        assert staging.result_rows[0][0] == 0


@pytest.mark.slow  # the longest single tests (15-90 s each): CI runs them
def test_parallel_insert_clients_load_the_same_rows(dsn):
    from pepy_pipeline.warehouse.resource import ClickHouseWarehouse

    warehouse = ClickHouseWarehouse(dsn=dsn, insert_workers=3)
    with warehouse.connect() as client, warehouse.insert_clients() as extra:
        assert len(extra) == 2
        report = load_day(client, DATABASE, SAMPLE, DAY, insert_clients=extra)
        assert fact_sums(client, DAY) == source_sums(SAMPLE, DAY) == (report.rows, report.downloads)
        with pytest.raises(ConnectionError):
            load_day(client, DATABASE, FailingSource(SAMPLE, fail_after=3), DAY, insert_clients=extra)
        assert fact_sums(client, DAY) == (report.rows, report.downloads)


def test_the_rollup_check_catches_a_missing_dimension_and_any_measure_that_does_not_add_up(client):
    """Found by a probe: the check compared only the dimensions present and only ``downloads``, so
    a day missing its country rollup (``?by=country`` would answer nothing for it) or with a wrong
    CI count passed it."""
    from pepy_pipeline.warehouse.day_checks import rollups_match_facts as check
    from pepy_pipeline.warehouse.loader import stage_day

    with stage_day(client, DATABASE, SAMPLE, DAY) as staged:
        assert check(client, staged).passed
        dimensions = staged.tables["project_dimension_daily"]
        client.command(f"INSERT INTO {staged.tables['project_daily']} (date, project, ci_downloads) "
                       "VALUES ({day:Date}, 'pepy', 1)", parameters={"day": DAY})
        wrong_ci = check(client, staged)
        assert not wrong_ci.passed and wrong_ci.blocking and "project_daily" in wrong_ci.metadata["problems"]
        client.command(f"DELETE FROM {staged.tables['project_daily']} WHERE project = 'pepy' AND downloads = 0",
                       settings={"mutations_sync": 2})
        assert check(client, staged).passed
        client.command(f"ALTER TABLE {dimensions} DELETE WHERE dimension = 'country'", settings={"mutations_sync": 2})
        missing = check(client, staged)
        assert not missing.passed and missing.metadata["problems"] == "dimensions missing: country"
