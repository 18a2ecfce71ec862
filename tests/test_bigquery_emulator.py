"""The BigQuery source with the real google-cloud-bigquery client and the real Storage Read path,
against a local emulator holding a table under the production name with the production schema.
Expected aggregates are computed independently in Python (tests/support/pypi_rows.py)."""

import datetime as dt
import logging
import os

import pytest
from dagster import DagsterInstance, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from google.cloud import bigquery

from pepy_pipeline.assets.downloads import pypi_downloads
from pepy_pipeline.sources.bigquery.clients import BigQueryConnection
from pepy_pipeline.sources.bigquery.cost import BALANCE_CAP_SETTING, CostCapExceeded
from pepy_pipeline.sources.bigquery.source import PRODUCTION_TABLE, BigQuerySource, BigQuerySourceError
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_warehouse.connection import connected
from pepy_pipeline.warehouse.day_load import load_day
from pepy_pipeline.warehouse.migrations import migrate
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
from tests.support.checks import run_checks
from tests.support.emulator import Emulator, EmulatorUnavailable
from tests.support.processes import free_port, run_cli
from tests.support.pypi_rows import (
    PRODUCTION_SCHEMA, aggregate_of_batches, expected_aggregate, outside_rows, raw_rows,
)
from tests.test_bigquery_costs import query_job

pytestmark = [pytest.mark.slow, pytest.mark.emulator]
D1, D2 = dt.date(2026, 10, 5), dt.date(2026, 10, 6)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    try:
        running = Emulator(tmp_path_factory.mktemp("emulator"))
    except EmulatorUnavailable as missing:
        if os.environ.get("PEPY_REQUIRE_EMULATOR"):
            pytest.fail(f"PEPY_REQUIRE_EMULATOR is set but: {missing}")
        pytest.skip(str(missing))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def upstream(emulator):
    """The production table in the emulator with two days of rows (+ boundary rows)."""
    connection = BigQueryConnection(project="pepy-test", api_endpoint=emulator.api_endpoint, anonymous=True)
    client = connection.bigquery_client()
    client.create_dataset(bigquery.Dataset("bigquery-public-data.pypi"), exists_ok=True)
    table = bigquery.Table(PRODUCTION_TABLE, schema=PRODUCTION_SCHEMA)
    table.time_partitioning = bigquery.TimePartitioning(field="timestamp")
    client.create_table(table, exists_ok=True)
    rows = raw_rows(D1, 400, seed=1) + raw_rows(D2, 300, seed=2) + outside_rows(D1) + outside_rows(D2)
    for start in range(0, len(rows), 250):
        assert client.insert_rows_json(PRODUCTION_TABLE, rows[start:start + 250]) == []
    return {D1: expected_aggregate(D1, rows), D2: expected_aggregate(D2, rows)}


def make_source(emulator, **overrides) -> BigQuerySource:
    connection = BigQueryConnection(project="pepy-test", api_endpoint=emulator.api_endpoint,
                                    storage_endpoint=overrides.pop("storage_endpoint", emulator.storage_endpoint),
                                    anonymous=True)
    return BigQuerySource(connection, overrides.pop("cap", 10**12), **overrides)


def test_a_day_streams_through_the_storage_read_api_and_matches_the_reference(emulator, upstream):
    source = make_source(emulator)
    batches = list(source.read_day(D1))
    assert aggregate_of_batches(batches) == upstream[D1]
    keys = set(upstream[D1])
    assert any(k[5] == "invalid" for k in keys) and any(k[5] is None for k in keys)  # kept, not dropped
    assert any(k[4] is None for k in keys) and any(k[1] == "" for k in keys)
    stats = source.day_metadata(D1)
    assert stats["read_path"] == "storage" and stats["job_id"]
    assert {"bytes_estimated", "bytes_billed", "bytes_processed", "slot_ms"} <= set(stats)
    # 400 rows of D1, plus the row 1 µs before D2 (the last microsecond of D1)
    assert source.upstream_downloads(D1) == sum(upstream[D1].values()) == 401


def test_without_the_storage_api_it_falls_back_to_rest_and_says_so(emulator, upstream, caplog):
    source = make_source(emulator, storage_endpoint=f"127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="pepy_pipeline.bigquery"):
        batches = list(source.read_day(D2))
    assert aggregate_of_batches(batches) == upstream[D2]
    assert source.day_metadata(D2)["read_path"] == "rest"
    assert "falling back to REST paging" in caplog.text


def test_days_materialise_through_dagster_from_the_emulator_into_chdb(emulator, upstream, tmp_path):
    dsn = f"chdb://{tmp_path / 'warehouse'}"
    resource = DownloadSourceResource(name="bigquery", bigquery_project="pepy-test", bigquery_anonymous=True,
                                      bigquery_api_endpoint=emulator.api_endpoint,
                                      bigquery_storage_endpoint=emulator.storage_endpoint)
    result = materialize(
        [pypi_downloads], resources={"warehouse": ClickHouseWarehouse(dsn=dsn), "source": resource},
        instance=DagsterInstance.ephemeral(),
        tags={ASSET_PARTITION_RANGE_START_TAG: D1.isoformat(), ASSET_PARTITION_RANGE_END_TAG: D2.isoformat()},
    )
    assert result.success
    # serves_yesterday is about the clock (D1..D2 are long past), not about the source.
    checks = {e.check_name: e for e in run_checks(result) if e.check_name != "serves_yesterday"}
    assert all(e.passed for e in checks.values()), {n: e.metadata for n, e in checks.items() if not e.passed}
    assert checks["matches_upstream_count"].metadata["days_checked"].value == 2
    assert checks["matches_upstream_count"].metadata["count_bytes_billed"].value == 0  # what the count billed
    facts = next(m for m in result.get_asset_materialization_events()
                 if m.asset_key.path == ["pypi_downloads"]).materialization.metadata
    assert {"bytes_estimated", "bytes_billed", "bytes_processed", "slot_ms", "job_id"} <= set(facts)
    with connected(dsn) as client:
        per_day = dict(client.query("SELECT date, sum(downloads) FROM pepy.downloads_daily GROUP BY date").result_rows)
        nulls = client.query("SELECT countIf(python_minor IS NULL), countIf(python_minor = 'invalid') "
                             "FROM pepy.downloads_daily").result_rows[0]
    assert per_day == {D1: sum(upstream[D1].values()), D2: sum(upstream[D2].values())}
    assert all(nulls)


def record_jobs(source: BigQuerySource) -> list:
    """The configuration of every job ``source`` sends from now on, in order (each still sent)."""
    sent = []
    send = source.client.query

    def recording(sql, job_config=None, **kwargs):
        sent.append(job_config)
        return send(sql, job_config=job_config, **kwargs)

    source.client.query = recording
    return sent


def test_every_query_the_source_runs_is_capped(emulator, upstream):
    """Found by an audit: the fingerprint query ran without ``maximum_bytes_billed``, though the
    README says the cap is always set. Every job the source sends is recorded on its way to the
    emulator (the fingerprint query fails there: the emulator's INFORMATION_SCHEMA lacks
    ``last_modified_time``; it is sent all the same)."""
    source = make_source(emulator, cap=123 * 10**9)
    sent = record_jobs(source)
    list(source.read_day(D1))
    source.upstream_downloads(D1)
    with pytest.raises(BigQuerySourceError, match="last_modified_time"):
        source.day_fingerprints([D1])
    list(source.opening_balance(D2, 456 * 10**9))
    jobs = [config.maximum_bytes_billed for config in sent if not config.dry_run]
    assert jobs == [123 * 10**9] * 3 + [456 * 10**9]


def test_a_read_that_fails_after_its_query_is_retried_from_the_querys_result(emulator, upstream, tmp_path):
    """Found by an audit: a day's retry after a dropped stream ran the day's query again, a second
    scan (~0.4 TB at real size) of what the finished query still held."""

    class DropsItsFirstStream(BigQuerySource):
        dropped = False

        def _storage_batches(self, rows, day):
            batches = super()._storage_batches(rows, day)
            if not DropsItsFirstStream.dropped:
                DropsItsFirstStream.dropped = True
                raise ConnectionError("the stream was reset")
            return batches

    source = make_source(emulator)
    source.__class__ = DropsItsFirstStream
    sent = record_jobs(source)
    with connected(f"chdb://{tmp_path / 'w'}") as client:
        migrate(client, "pepy")
        load_day(client, "pepy", source, D1, backoff_seconds=0)
        loaded = client.query("SELECT sum(downloads) FROM pepy.downloads_daily").result_rows[0][0]
    assert DropsItsFirstStream.dropped and loaded == sum(upstream[D1].values())
    day_queries = [config for config in sent if not config.dry_run and "day" in
                   {p.name for p in config.query_parameters}]
    assert len(day_queries) == 2  # the day's query once, then upstream's COUNT(*)


def test_an_estimate_over_the_cap_fails_the_day_and_loads_nothing(emulator, upstream, tmp_path):
    class Expensive(BigQuerySource):
        """The emulator's dry runs report 0 bytes: return a real job with a controlled estimate."""

        def _dry_run(self, sql, day):
            super()._dry_run(sql, day)  # the real dry run still has to succeed
            return query_job(350 * 10**9)

    source = make_source(emulator, cap=300 * 10**9)
    source.__class__ = Expensive
    with connected(f"chdb://{tmp_path / 'w'}") as client:
        migrate(client, "pepy")
        with pytest.raises(CostCapExceeded, match="350.0 GB .* over the cap maximum_bytes_billed = 300.0 GB"):
            load_day(client, "pepy", source, D1)
        assert client.query("SELECT count() FROM pepy.downloads_daily").result_rows == [(0,)]


def test_an_opening_balance_over_its_cap_is_refused_naming_its_own_setting(emulator, upstream):
    class Expensive(BigQuerySource):
        """The emulator's dry runs report 0 bytes: return a real job with a controlled estimate."""

        def _balance_dry_run(self, stops_before):
            super()._balance_dry_run(stops_before)  # the real dry run still has to succeed
            return query_job(120 * 10**12)

    source = make_source(emulator)
    source.__class__ = Expensive
    with pytest.raises(CostCapExceeded, match=f"over the cap .* Raise {BALANCE_CAP_SETTING} "):
        next(source.opening_balance(D1, 100 * 10**12))


def test_a_day_not_over_in_utc_is_refused(emulator, upstream):
    """Found by a failure-mode probe: only the partitions and the CLI refused today; the warehouse
    layer called directly read and committed a partial day."""
    today = dt.datetime.now(dt.timezone.utc).date()
    for day in (today, today + dt.timedelta(days=1)):
        with pytest.raises(BigQuerySourceError, match="not over in UTC"):
            next(make_source(emulator).read_day(day))
    # Nor counted into an opening balance (found in review): it would be counted for good, partial.
    for stops_before in (today, today - dt.timedelta(days=2)):  # yesterday; the day before, still changing
        with pytest.raises(BigQuerySourceError, match="not over in UTC or still receiving late rows"):
            next(make_source(emulator).opening_balance(stops_before, 10**12))


def test_a_permanent_error_fails_with_bigquerys_message(emulator, upstream):
    source = make_source(emulator, table="pepy-test.nowhere.missing_table")
    with pytest.raises(BigQuerySourceError, match="BigQuery refused the extract of 2026-10-05"):
        list(source.read_day(D1))


def test_the_estimate_command_previews_a_backfill(emulator, upstream, tmp_path):
    env = {"PEPY_HOME": str(tmp_path), "PEPY_SOURCE": "bigquery", "PEPY_BIGQUERY_PROJECT": "pepy-test",
           "PEPY_BIGQUERY_ANONYMOUS": "true", "PEPY_BIGQUERY_API_ENDPOINT": emulator.api_endpoint,
           "PEPY_START_DATE": "2026-10-01"}
    done = run_cli(["estimate", D1.isoformat(), D2.isoformat()], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert D1.isoformat() in done.stdout and D2.isoformat() in done.stdout and "total" in done.stdout
    assert "days over the cap: 0" in done.stdout


def test_the_opening_balance_command_reports_what_the_query_cost(emulator, upstream, tmp_path):
    env = {"PEPY_HOME": str(tmp_path), "PEPY_SOURCE": "bigquery", "PEPY_BIGQUERY_PROJECT": "pepy-test",
           "PEPY_BIGQUERY_ANONYMOUS": "true", "PEPY_BIGQUERY_API_ENDPOINT": emulator.api_endpoint,
           "PEPY_START_DATE": "2026-10-01"}
    done = run_cli(["opening-balance", "--stops-before", (D2 + dt.timedelta(days=1)).isoformat()], env)
    assert done.returncode == 0, done.stderr[-2000:]
    # D1 and D2, and the row 1 µs before D1; not the one at the midnight the balance stops before
    assert f"{sum(upstream[D1].values()) + sum(upstream[D2].values()) + 1:,} downloads" in done.stdout, done.stdout
    assert "BigQuery job " in done.stdout and "billed 0 B" in done.stdout  # the emulator bills nothing
