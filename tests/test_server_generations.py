"""Server mode: the API reads what was published, never days committed since. The pipeline's
server-side publish (a copy of the served tables per publish) and the API's ``ServerReader``, run
against chDB in this process: the same SQL a ClickHouse server runs."""

import datetime as dt
import logging

import pytest
from fastapi.testclient import TestClient

from pepy_api.main import create_app
from pepy_api.settings import ApiSettings
from pepy_api.store.reader import ServerReader
from pepy_pipeline.sources.sample import SampleSource
from pepy_pipeline.warehouse.day_load import load_day
from pepy_pipeline.warehouse.publish import publish
from pepy_warehouse.generation import SERVED_TABLES
from pepy_warehouse.server_generation import drop_old_copies
from tests.conftest import DATABASE

MONDAY = dt.date(2026, 10, 19)
SOURCE = SampleSource(projects=40, rows_per_day=2000)


def served_days(reader) -> list[dt.date]:
    return [row[0] for row in reader.query("SELECT DISTINCT date FROM __DB__.project_daily ORDER BY date")]


def copies(client) -> set[str]:
    return {row[0] for row in client.query(
        "SELECT name FROM system.databases WHERE startsWith(name, 'pepy_g')").result_rows}


@pytest.fixture
def reader(client, dsn):
    for day in (MONDAY, MONDAY + dt.timedelta(days=1)):
        load_day(client, DATABASE, SOURCE, day)
    publish(client, DATABASE, None)
    reader = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    yield reader
    reader.close()


def test_days_committed_after_a_publish_stay_unseen_until_the_next(client, reader):
    first = reader.snapshot()
    assert first.database.startswith("pepy_g") and first.last_complete_day == MONDAY + dt.timedelta(days=1)
    assert first.first_loaded_day == first.first_complete_day == MONDAY  # no gap: no sum to ask
    totals_before = reader.query("SELECT sum(downloads) FROM __DB__.project_alltime")

    tuesday = MONDAY + dt.timedelta(days=2)
    load_day(client, DATABASE, SOURCE, tuesday)  # committed into the live tables, not published
    reader.refresh()
    assert reader.snapshot() is first
    assert served_days(reader) == [MONDAY, MONDAY + dt.timedelta(days=1)]
    assert reader.query("SELECT sum(downloads) FROM __DB__.project_alltime") == totals_before
    live = client.query(f"SELECT max(date) FROM {DATABASE}.project_daily").result_rows[0][0]
    assert live == tuesday  # the day is there, only not served

    published = publish(client, DATABASE, None)
    reader.refresh()
    second = reader.snapshot()
    assert second.database == published.serving_database != first.database
    assert second.last_complete_day == tuesday and served_days(reader)[-1] == tuesday
    # A request that started on the previous copy still reads it (grace before it is dropped).
    assert served_days_of(reader, first) == [MONDAY, MONDAY + dt.timedelta(days=1)]


def served_days_of(reader, snapshot) -> list[dt.date]:
    return [row[0] for row in reader.query("SELECT DISTINCT date FROM __DB__.project_daily ORDER BY date",
                                           snapshot=snapshot)]


def test_the_api_answers_from_the_published_copy(client, reader, tmp_path):
    app = create_app(ApiSettings(home=tmp_path), reader=reader)
    with TestClient(app) as http:
        before = http.get("/api/v2/projects/requests")
        assert before.status_code == 200, before.text
        load_day(client, DATABASE, SOURCE, MONDAY + dt.timedelta(days=2))
        reader.refresh()
        after = http.get("/api/v2/projects/requests", headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 304  # nothing published: the same data, the same ETag
        explicit = http.get("/api/packages/requests/overall",
                            params={"start_date": MONDAY.isoformat(), "end_date": (MONDAY + dt.timedelta(days=5)).isoformat()})
        assert explicit.status_code == 200, explicit.text
        shown = {row["date"] for row in explicit.json()["data"]}
        assert (MONDAY + dt.timedelta(days=2)).isoformat() not in shown


def test_a_copy_that_does_not_match_its_publish_is_refused(client, reader, caplog):
    first = reader.snapshot()
    load_day(client, DATABASE, SOURCE, MONDAY + dt.timedelta(days=2))
    published = publish(client, DATABASE, None)
    client.command(f"INSERT INTO {published.serving_database}.project_daily (date, project, downloads) "
                   "VALUES ('2026-10-21', 'requests', 5)")
    with caplog.at_level(logging.ERROR, logger="pepy_api"):
        reader.refresh()
        assert reader.snapshot() is first
        assert "does not match" in caplog.text and "project_daily" in caplog.text
        reader.refresh()  # refused: not validated again on every poll
        assert reader.snapshot() is first and caplog.text.count("refused the copy") == 1
        reader.RETRY_REFUSED_SECONDS = 0  # but again after a while (a transient error)
        reader.refresh()
        assert reader.snapshot() is first and caplog.text.count("refused the copy") == 2

    publish(client, DATABASE, None)
    reader.refresh()
    assert reader.snapshot() is not first and reader.snapshot().last_complete_day == MONDAY + dt.timedelta(days=2)


def test_an_api_started_after_a_bad_or_dropped_copy_reads_the_newest_good_one(client, reader, dsn):
    good = reader.snapshot().database
    load_day(client, DATABASE, SOURCE, MONDAY + dt.timedelta(days=2))
    bad = publish(client, DATABASE, None).serving_database
    client.command(f"DROP TABLE {bad}.opening_balance SYNC")
    fresh = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    try:
        assert fresh.snapshot().database == good  # not 503: the earlier publish's copy
        client.command(f"DROP DATABASE {good} SYNC")  # dropped under it (e.g. a long outage)
        newest = publish(client, DATABASE, None).serving_database
        fresh.refresh()
        assert fresh.snapshot().database == newest
        assert served_days(fresh)[-1] == MONDAY + dt.timedelta(days=2)
    finally:
        fresh.close()


def test_when_no_copy_can_be_read_the_api_serves_nothing_never_live_tables(client, reader, dsn):
    good = reader.snapshot().database
    load_day(client, DATABASE, SOURCE, MONDAY + dt.timedelta(days=2))
    bad = publish(client, DATABASE, None).serving_database
    client.command(f"DROP TABLE {bad}.opening_balance SYNC")
    client.command(f"DROP DATABASE {good} SYNC")  # the copy served, dropped under it
    reader.refresh()
    assert reader.snapshot().database is None  # 503, not errors from a dropped database

    # A publish from before copies (live tables) is never read in place of a refused copy.
    client.command(f"INSERT INTO {DATABASE}.publish_log (published_at, first_complete_day, last_complete_day, "
                   "generation, seconds) VALUES (now64(3) - 3600, '2026-10-19', '2026-10-19', '', 0.1)")
    fresh = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    try:
        assert fresh.snapshot().database is None
    finally:
        fresh.close()


def test_a_copy_never_merges_so_its_counts_stay_what_was_published(client, reader, dsn):
    for k in (2, 3, 4):  # a part per commit in every rollup's partition
        load_day(client, DATABASE, SOURCE, MONDAY + dt.timedelta(days=k))
    copy = publish(client, DATABASE, None).serving_database
    before = client.query(f"SELECT count() FROM {copy}.project_alltime").result_rows[0][0]
    parts = client.query("SELECT count() FROM system.parts WHERE database = {db:String} AND "
                         "table = 'project_alltime' AND active", parameters={"db": copy}).result_rows[0][0]
    assert parts > 1
    for table in SERVED_TABLES:
        client.command(f"OPTIMIZE TABLE {copy}.{table}")  # what a background merge would do
    assert client.query(f"SELECT count() FROM {copy}.project_alltime").result_rows[0][0] == before
    fresh = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    try:
        assert fresh.snapshot().database == copy
    finally:
        fresh.close()


def test_old_copies_are_dropped_after_their_grace_and_a_killed_publishs_at_once(client, reader):
    orphan = "pepy_g20260101T000000_abcdef"
    client.command(f"CREATE DATABASE {orphan}")
    client.command(f"CREATE TABLE {orphan}.project_daily AS {DATABASE}.project_daily")
    made = [publish(client, DATABASE, None).serving_database for _ in range(3)]
    assert orphan not in copies(client)
    first = reader.snapshot().database
    assert {first, *made} <= copies(client)  # superseded less than the grace ago: kept
    dropped = drop_old_copies(client, DATABASE, grace_seconds=0)
    assert set(dropped) == {first, *made[:2]} and copies(client) == {made[-1]}
    for table in ("project_daily", "project_alltime"):  # the live tables keep their data (hard links)
        assert client.query(f"SELECT sum(downloads) FROM {DATABASE}.{table}").result_rows == \
            client.query(f"SELECT sum(downloads) FROM {made[-1]}.{table}").result_rows


def test_days_loaded_before_a_gap_count_before_the_first_complete_day_on_a_server(client, dsn, tmp_path):
    """The publish log records the first loaded day, as an embedded generation's manifest does:
    without it the server's summary asked the engine one more sum at every request, gap or not."""
    for day in (MONDAY, MONDAY + dt.timedelta(days=2), MONDAY + dt.timedelta(days=3)):  # a gap on Tuesday
        load_day(client, DATABASE, SOURCE, day)
    publish(client, DATABASE, None)
    on_monday = client.query(f"SELECT sum(downloads) FROM {DATABASE}.downloads_daily "
                             "WHERE project = 'requests' AND date = {day:Date}", parameters={"day": MONDAY}).result_rows[0][0]
    reader = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    try:
        snapshot = reader.snapshot()
        assert (snapshot.first_loaded_day, snapshot.first_complete_day) == (MONDAY, MONDAY + dt.timedelta(days=2))
        with TestClient(create_app(ApiSettings(home=tmp_path), reader=reader)) as http:
            summary = http.get("/v1/projects/requests").json()
            series = http.get("/v1/projects/requests/downloads",
                              params={"start_date": (MONDAY + dt.timedelta(days=2)).isoformat()}).json()
            every_day = http.get("/v1/projects/requests/downloads").json()  # from the first loaded day
    finally:
        reader.close()
    assert on_monday > 0 and summary["downloads_before_first_complete_day"] == on_monday
    assert summary["total_downloads"] == on_monday + sum(row["downloads"] for row in series["data"])
    assert summary["total_downloads"] == sum(row["downloads"] for row in every_day["data"])
    # A publish from before the first loaded day was recorded (an API upgraded before the
    # pipeline): read from the daily table, so the default still starts before the gap (an
    # upgrade probe: it started at the first complete day).
    client.command(f"ALTER TABLE {DATABASE}.publish_log DROP COLUMN first_loaded_day")
    reader = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    try:
        assert reader.snapshot().first_loaded_day == MONDAY
        with TestClient(create_app(ApiSettings(home=tmp_path), reader=reader)) as http:
            assert http.get("/v1/projects/requests/downloads").json()["start_date"] == MONDAY.isoformat()
    finally:
        reader.close()


def test_a_publish_from_before_copies_reads_the_live_tables(client, dsn):
    load_day(client, DATABASE, SOURCE, MONDAY)
    client.command(f"INSERT INTO {DATABASE}.publish_log (published_at, first_complete_day, last_complete_day, "
                   "generation, seconds) VALUES (now64(3), '2026-10-19', '2026-10-19', '', 0.1)")
    reader = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    try:
        assert reader.snapshot().database == DATABASE and served_days(reader) == [MONDAY]
    finally:
        reader.close()


def test_before_the_pipeline_made_its_tables_the_api_answers_503_then_serves(tmp_path):
    """A fresh server (``docker compose up``): the API starts before the pipeline has created its
    tables. It used to fail to start (UNKNOWN_DATABASE); it now waits, answering 503."""
    from pepy_pipeline.warehouse.migrations import migrate
    from pepy_warehouse.connection import connected

    dsn = f"chdb://{tmp_path / 'fresh'}"
    reader = ServerReader(dsn, DATABASE, refresh_seconds=3600)
    try:
        with TestClient(create_app(ApiSettings(home=tmp_path), reader=reader)) as http:
            assert http.get("/api/v2/projects/requests").status_code == 503
            with connected(dsn) as client:
                migrate(client, DATABASE)
                client.command(f"ALTER TABLE {DATABASE}.publish_log DROP COLUMN serving_database")
                client.command(f"ALTER TABLE {DATABASE}.publish_log DROP COLUMN serving_rows")
                client.command(f"ALTER TABLE {DATABASE}.publish_log DROP COLUMN first_loaded_day")  # 011
                reader.refresh()  # tables made, nothing published; a publish_log from before 010
                assert http.get("/api/v2/projects/requests").status_code == 503
                load_day(client, DATABASE, SOURCE, MONDAY)
                client.command(f"INSERT INTO {DATABASE}.publish_log VALUES "
                               "(now64(3), '2026-10-19', '2026-10-19', '', 0.1)")
                reader.refresh()
                assert reader.snapshot().database == DATABASE and reader.snapshot().first_loaded_day == MONDAY
                assert http.get("/api/v2/projects/requests").status_code == 200
                assert http.get("/v1/projects/requests").status_code == 200  # the summary asks the engine
    finally:
        reader.close()
