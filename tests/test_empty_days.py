"""A day upstream lost for good (no rows at all) can be accepted as empty, on purpose only: it is
then no hole (no_gaps, the recent sums, the complete history and the schedule go past it), while
an empty read never replaces a day that holds downloads nor one upstream counts downloads for."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import AssetKey, DagsterInstance, materialize
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pepy_pipeline.assets.downloads import ACCEPT_EMPTY_TAG, pypi_downloads
from pepy_pipeline.assets.publishing import newest_publish
from pepy_pipeline.reload_policy import LATE_ROWS, LOOKBACK_DAYS, days_to_load
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.warehouse.commit import ReloadShrinks, commit_day
from pepy_pipeline.warehouse import empty_days
from pepy_pipeline.warehouse.day_checks import CheckOutcome
from pepy_pipeline.warehouse.day_load import DayFailed, load_day
from pepy_pipeline.warehouse.publish import PublishRefused, publish
from pepy_pipeline.warehouse.loader import stage_day
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
from pepy_warehouse.connection import connected
from tests.conftest import DATABASE, fact_sums
from tests.support.checks import run_checks
from tests.support.sources import RowsSource

DAYS = [dt.date(2026, 10, 1) + dt.timedelta(days=k) for k in range(6)]
LOST = DAYS[2]       # upstream has no rows for it, and counts none
SHORT = DAYS[5]      # the read has no rows, but upstream counts some: a read cut short
ROWS = {day: [{"project": "pepy", "version": "1.0", "downloads": 10 + k},
              {"project": "requests", "version": "2.32.3", "downloads": 100 + k}]
        for k, day in enumerate(DAYS) if day not in (LOST, SHORT)}


class CountingRowsSource(RowsSource):
    """Hand-made rows, and an upstream COUNT(*) of each day like BigQuery's (``counts`` overrides)."""

    def __init__(self, rows_by_day, counts: dict[dt.date, int] | None = None) -> None:
        super().__init__(rows_by_day)
        self.counts = counts or {}

    def upstream_downloads(self, day: dt.date) -> int:
        return self.counts.get(day, sum(row["downloads"] for row in self.rows_by_day.get(day, [])))

    def day_fingerprints(self, days: list[dt.date]) -> dict[dt.date, str]:
        """Like BigQuery's partition metadata: rows@modified, and no entry for a day without rows."""
        return {day: f"{len(self.rows_by_day[day])}@t" for day in days if self.rows_by_day.get(day)}


class LostDaySource(DownloadSourceResource):
    """ROWS, whatever ``vanished`` lists now read as empty upstream (``short``: counted as 7;
    ``counts``: False for a source that cannot count upstream nor fingerprint it)."""

    vanished: list[str] = []
    short: bool = True
    counts: bool = True

    def build(self):
        rows = {day: rows for day, rows in ROWS.items() if day.isoformat() not in self.vanished}
        return CountingRowsSource(rows, {SHORT: 7} if self.short else {}) if self.counts else RowsSource(rows)


def run(dsn, instance, first, last, accept_empty=False, source=None):
    return materialize(
        [pypi_downloads], instance=instance, raise_on_error=False,
        resources={"warehouse": ClickHouseWarehouse(dsn=dsn), "source": source or LostDaySource()},
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
              **({ACCEPT_EMPTY_TAG: "true"} if accept_empty else {})})


def failure_text(result) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    return error.message + (error.cause.message if error.cause else "")


def check(result, name):
    return next(e for e in run_checks(result) if e.check_name == name)


def committed(client) -> dict[dt.date, int]:
    return dict(client.query(f"SELECT date, source_rows FROM {DATABASE}.load_log FINAL "
                             "WHERE state = 'committed' ORDER BY date").result_rows)


def test_a_lost_day_is_refused_until_accepted_as_empty_and_then_is_no_hole(dsn):
    instance = DagsterInstance.ephemeral()
    first = run(dsn, instance, DAYS[0], DAYS[4])
    assert not first.success
    assert "no rows for 2026-10-03" in failure_text(first) and "--accept-empty" in failure_text(first)
    with connected(dsn) as client:
        assert LOST not in committed(client)
        before = fact_sums(client)
    assert newest_publish(instance)[1] == (LOST,)  # a hole in the recent sums' window

    accepted = run(dsn, instance, LOST, LOST, accept_empty=True)
    assert accepted.success, failure_text(accepted)
    volume = check(accepted, "volume_within_bands")
    assert volume.passed and volume.metadata["accepted_empty"].value is True
    assert "upstream counts none" in volume.metadata["verdict"].value
    assert check(accepted, "no_gaps").passed
    (facts,) = [e.materialization for e in accepted.get_asset_materialization_events()
                if e.asset_key == AssetKey("pypi_downloads")]
    assert facts.partition == LOST.isoformat() and facts.metadata["dagster/row_count"].value == 0
    assert facts.metadata["accepted_empty"].value is True
    with connected(dsn) as client:
        assert committed(client) == {**{day: 2 for day in ROWS if day < SHORT}, LOST: 0}
        assert fact_sums(client) == before  # nothing else moved
        assert client.query(f"SELECT count() FROM {DATABASE}.downloads_daily WHERE date = {{d:Date}}",
                            parameters={"d": LOST}).result_rows[0][0] == 0
    # The publish after it has no hole, and its complete history runs through the empty day.
    assert newest_publish(instance) == (DAYS[4], ())
    # The schedule no longer retries it: it is materialized, not failed; until upstream fills it
    # (its fingerprint was recorded as 0 rows, and now counts some).
    today = DAYS[4] + dt.timedelta(days=1)
    assert facts.metadata["upstream_fingerprint"].value == "0"
    assert LOST not in days_to_load(instance, LostDaySource().build(), today)
    refilled = CountingRowsSource({**ROWS, LOST: ROWS[DAYS[0]]})
    assert "changed upstream: 0 -> 2@t" in days_to_load(instance, refilled, today)[LOST].text
    # ... past the look-back too, by the sweep of older days whose rows grew.
    later = days_to_load(instance, refilled, LOST + dt.timedelta(days=LOOKBACK_DAYS + 2))
    assert later[LOST].text.startswith(LATE_ROWS)
    # A load of it without the tag (a range, the schedule's blind reload) reads it empty again:
    # committed as before, not failed back into a hole.
    again = run(dsn, instance, DAYS[0], DAYS[4])
    assert again.success, failure_text(again)
    assert newest_publish(instance) == (DAYS[4], ())
    with connected(dsn) as client:
        assert fact_sums(client) == before


def test_an_empty_read_never_replaces_a_day_with_downloads_nor_one_upstream_counts(dsn):
    instance = DagsterInstance.ephemeral()
    assert run(dsn, instance, DAYS[0], DAYS[1]).success
    with connected(dsn) as client:
        before = fact_sums(client)
    # Upstream now reads empty for a day we hold: accepting "empty" there would wipe it.
    wiped = run(dsn, instance, DAYS[1], DAYS[1], accept_empty=True,
                source=LostDaySource(vanished=[DAYS[1].isoformat()]))
    assert not wiped.success
    assert "holds 112 downloads" in failure_text(wiped)
    # The read has no rows but upstream's own count has 7: the read fell short, not upstream.
    short = run(dsn, instance, SHORT, SHORT, accept_empty=True)
    assert not short.success
    assert "upstream counts 7 downloads" in failure_text(short)
    assert not check(short, "matches_upstream_count").passed
    with connected(dsn) as client:
        assert fact_sums(client) == before
        assert set(committed(client)) == {DAYS[0], DAYS[1]}
    # A source that cannot count upstream: the empty day is taken as asked, and said so.
    uncounted = run(dsn, instance, SHORT, SHORT, accept_empty=True, source=LostDaySource(counts=False))
    assert uncounted.success, failure_text(uncounted)
    assert "(it cannot count upstream)" in check(uncounted, "volume_within_bands").metadata["verdict"].value
    (facts,) = [e.materialization for e in uncounted.get_asset_materialization_events()
                if e.asset_key == AssetKey("pypi_downloads")]
    assert facts.metadata["upstream_fingerprint"].value == ""  # no fingerprints: none recorded
    # A day with rows loads as ever under the tag: it only lets an empty day through.
    assert run(dsn, instance, DAYS[3], DAYS[3], accept_empty=True).success
    with connected(dsn) as client:
        assert committed(client) == {DAYS[0]: 2, DAYS[1]: 2, DAYS[3]: 2, SHORT: 0}


def test_the_commit_never_lets_an_empty_day_replace_data_whatever_the_reload_guard(client):
    """The check before the commit is asked again under the commit mutex: a load of the day that
    committed meanwhile must not be wiped, even with the reload guard turned off; nor facts a torn
    commit left without their rollups."""
    load_day(client, DATABASE, RowsSource(ROWS), DAYS[0])
    before = fact_sums(client, DAYS[0])
    with stage_day(client, DATABASE, RowsSource({}), DAYS[0], allow_empty=True) as staged:
        with pytest.raises(ReloadShrinks, match="holds data"):
            commit_day(client, staged, "rows", reload_fail_below=0)
    assert fact_sums(client, DAYS[0]) == before == (2, 110)
    client.command(f"INSERT INTO {DATABASE}.downloads_daily (date, project, version, downloads) "
                   "VALUES ({day:Date}, 'pepy', '1.0', 9)", parameters={"day": DAYS[1]})
    with stage_day(client, DATABASE, RowsSource({}), DAYS[1], allow_empty=True) as staged:
        with pytest.raises(ReloadShrinks, match="1 fact rows"):
            commit_day(client, staged, "rows", reload_fail_below=0)
    assert fact_sums(client, DAYS[1]) == (1, 9)


def test_a_day_upstream_may_still_be_delivering_is_never_accepted_as_empty(client):
    now = dt.datetime.now(dt.timezone.utc)
    yesterday = now.date() - dt.timedelta(days=1)  # ended 0-24 hours ago
    with pytest.raises(DayFailed, match="upstream may still be delivering it"):
        load_day(client, DATABASE, RowsSource({}), yesterday, accept_empty=True)
    assert committed(client) == {}
    older = yesterday - dt.timedelta(days=2)  # ended 48-72 hours ago
    load_day(client, DATABASE, RowsSource({}), older, accept_empty=True)
    assert committed(client) == {older: 0}
    # The rule counts hours from the day's end, not calendar days.
    volume = CheckOutcome("volume_within_bands", True, True, {})
    ended = dt.datetime.combine(older + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    assert empty_days.refusal(older, volume, [], ended + dt.timedelta(hours=29))
    assert empty_days.refusal(older, volume, [], ended + dt.timedelta(hours=30)) is None


def test_a_torn_empty_commit_is_repaired_by_a_load_without_the_tag(client, warehouse_dir):
    """Found by a probe: an empty day's commit killed between its swap statements left a day no
    load without the tag could repair, and no publish happens while a commit is torn."""
    load_day(client, DATABASE, RowsSource(ROWS), DAYS[1])
    load_day(client, DATABASE, RowsSource({}), LOST, accept_empty=True)
    client.command(f"INSERT INTO {DATABASE}.load_log (date, source, source_rows, state, loaded_at) "
                   "VALUES ({d:Date}, 'rows', 0, 'committing', now64(3))", parameters={"d": LOST})
    with pytest.raises(PublishRefused):
        publish(client, DATABASE, warehouse_dir)
    load_day(client, DATABASE, RowsSource(ROWS), LOST)  # upstream still has no rows for it
    assert publish(client, DATABASE, warehouse_dir).last_complete_day == LOST
    assert committed(client) == {DAYS[1]: 2, LOST: 0}
