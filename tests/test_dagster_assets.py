"""The Dagster code location, executed for real (in-process runs on an ephemeral instance)."""

import datetime as dt

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, RunsFilter, materialize
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pepy_pipeline.assets.downloads import ACCEPT_EMPTY_TAG, pypi_downloads
from pepy_pipeline.definitions import defs
from pepy_pipeline.partitions import daily_partitions
from pepy_pipeline.sources.resource import DownloadSourceResource
from pepy_pipeline.warehouse.compaction import open_month_max_parts
from pepy_warehouse.connection import WarehouseUnavailable, connected
from pepy_pipeline.warehouse.resource import ClickHouseWarehouse
from pepy_warehouse.generation import current_manifest as current_generation
from tests.conftest import DATABASE, fact_sums, month_parts
from tests.support.checks import day_checks, run_checks
from tests.support.processes import run_cli, unused_pid
from tests.support.sources import FailsOn

FIRST, LAST = dt.date(2026, 10, 1), dt.date(2026, 10, 4)
SMALL = DownloadSourceResource(name="sample", sample_projects=60, sample_rows_per_day=3000)


def failure_text(result) -> str:
    """The failed step's error with its causes (Dagster wraps the user exception)."""
    error = result.get_step_failure_events()[0].step_failure_data.error
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def run_range(dsn, first, last, source=SMALL, instance=None, tags=None, warehouse=None):
    return materialize(
        [pypi_downloads],
        resources={"warehouse": warehouse or ClickHouseWarehouse(dsn=dsn), "source": source},
        instance=instance or DagsterInstance.ephemeral(),
        tags={ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
              **(tags or {})},
        raise_on_error=False,
    )


def test_a_range_run_loads_every_day_passes_checks_and_publishes(dsn, warehouse_dir):
    instance = DagsterInstance.ephemeral()
    result = run_range(dsn, FIRST, LAST, instance=instance)
    assert result.success
    evaluations = run_checks(result)
    assert {e.check_name for e in evaluations} >= {
        "volume_within_bands", "totals_match_source", "values_plausible", "no_gaps", "rollups_match_facts"}
    load_checks = [e for e in evaluations if e.check_name != "serves_yesterday"]
    assert all(e.passed for e in load_checks), [(e.check_name, e.metadata) for e in load_checks if not e.passed]
    # The run's own publish is checked too: it serves up to LAST, long before yesterday.
    (served,) = [e for e in evaluations if e.check_name == "serves_yesterday"]
    assert served.asset_key == AssetKey("serving_tables") and not served.passed
    assert served.metadata["served_last_day"].value == LAST.isoformat()
    # Each day's partition has its own result of each check (found by a newcomer: the UI showed
    # every day's checks as skipped); the sample source cannot count upstream, and no_gaps is the
    # whole history's, so those two are left to the run's result.
    evaluated = {"totals_match_source", "volume_within_bands", "rollups_match_facts", "values_plausible"}
    for index in range(4):
        day = FIRST + dt.timedelta(days=index)
        assert set(day_checks(result, day)) == evaluated and all(e.passed for e in day_checks(result, day).values())
        assert day_checks(result, day)["volume_within_bands"].metadata["day"].value == day.isoformat()
    for name in evaluated:
        key = AssetCheckKey(AssetKey("download_rollups" if name == "rollups_match_facts" else "pypi_downloads"), name)
        history = instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
        assert sorted((record.partition, record.status.value) for record in history if record.partition) == [
            ((FIRST + dt.timedelta(days=index)).isoformat(), "SUCCEEDED") for index in range(4)]
    events = result.get_asset_materialization_events()
    facts = [e.materialization for e in events if e.asset_key == AssetKey("pypi_downloads")]
    # One materialization per day, each for its own partition, as each day commits.
    assert [m.partition for m in facts] == [(FIRST + dt.timedelta(days=i)).isoformat() for i in range(4)]
    assert {"downloads", "bytes_on_disk", "stage_seconds", "rows_per_second", "upstream_fingerprint"} <= set(
        facts[0].metadata)
    assert facts[0].metadata["source"].value == SMALL.build().describe()  # which source was read
    published = [e.materialization for e in events if e.asset_key == AssetKey("serving_tables")]
    # At the run's end, after compaction: October is open and holds a part per day, more than the
    # tables that keep their open month in one part may keep (the dimensions may keep these 4).
    assert published and (LAST - FIRST).days + 1 <= open_month_max_parts("project_dimension_daily")
    # [] if the run's engine merged them first (merges are not held here: test_compaction checks
    # the per-table limits themselves).
    assert published[0].metadata["compacted_months"].value in ([], ["202610"])
    with connected(dsn) as client:
        rows, _ = fact_sums(client)
        assert rows == sum(m.metadata["dagster/row_count"].value for m in facts)
        october = month_parts(client, "202610")  # 4 days: merged where more than a table may keep
        assert all(n <= open_month_max_parts(table) for table, n in october.items()), october
        days = [r[0] for r in client.query(f"SELECT DISTINCT date FROM {DATABASE}.downloads_daily ORDER BY date").result_rows]
    assert days == [FIRST + dt.timedelta(days=i) for i in range(4)]
    manifest = current_generation(warehouse_dir)
    assert manifest["last_complete_day"] == LAST.isoformat()


def test_days_committed_before_the_warehouse_fails_stay_materialized(dsn):
    """A run that dies of a warehouse error keeps the materializations of the days it committed
    before (else the schedule would read them as holes, a BigQuery read each, and no sensor would
    publish them). A review's stand-in asset lost events it logged with ``log_event`` before such
    an error; this asset did not (why was not found), and now yields them as each day commits."""
    class DiesOnTheSecondDay(type(SMALL)):
        def build(self):
            # MemoryError: the run takes it for the warehouse's own failure and ends at once.
            return FailsOn(super().build(), FIRST + dt.timedelta(days=1), MemoryError("the engine ran out of memory"))

    instance = DagsterInstance.ephemeral()
    result = run_range(dsn, FIRST, LAST, instance=instance,
                       source=DiesOnTheSecondDay(name="sample", sample_projects=60, sample_rows_per_day=3000))
    assert not result.success and "MemoryError" in failure_text(result)
    for asset in ("pypi_downloads", "download_rollups"):
        records = instance.fetch_materializations(AssetKey(asset), limit=10).records
        assert [r.partition_key for r in records] == [FIRST.isoformat()], asset
    with connected(dsn) as client:
        assert fact_sums(client, FIRST)[0] > 0 and fact_sums(client)[0] == fact_sums(client, FIRST)[0]


def test_rerunning_a_partition_does_not_double_count(dsn):
    assert run_range(dsn, FIRST, LAST).success
    with connected(dsn) as client:
        before = fact_sums(client)
    assert run_range(dsn, FIRST + dt.timedelta(days=1), FIRST + dt.timedelta(days=2)).success
    with connected(dsn) as client:
        assert fact_sums(client) == before


def test_a_gap_is_reported_by_the_non_blocking_check(dsn):
    assert run_range(dsn, FIRST, FIRST).success
    result = run_range(dsn, LAST, LAST)
    assert result.success
    gaps = next(e for e in run_checks(result) if e.check_name == "no_gaps")
    assert not gaps.passed
    assert "2026-10-02" in gaps.metadata["missing_days"].value


def test_a_run_whose_every_day_fails_still_reports_the_gap_and_passes_no_check_it_did_not_run(dsn):
    """Found by a guard audit: a hole's catch-up run that failed reported every check it had not
    evaluated as passed, no_gaps among them, and the UI showed the hole green."""
    instance = DagsterInstance.ephemeral()
    assert run_range(dsn, FIRST, FIRST, instance=instance).success
    assert run_range(dsn, LAST, LAST, instance=instance).success  # 10-02 and 10-03 are holes
    hole = FIRST + dt.timedelta(days=1)

    class Failing(type(SMALL)):
        def build(self):
            return FailsOn(super().build(), hole)

    result = run_range(dsn, hole, hole, instance=instance, source=Failing(name="sample", sample_projects=60,
                                                                          sample_rows_per_day=3000))
    assert not result.success
    reported = {e.check_name: e for e in run_checks(result)}
    assert not reported["no_gaps"].passed and hole.isoformat() in reported["no_gaps"].metadata["missing_days"].value
    assert all(not e.passed for e in reported.values()), {n: e.metadata for n, e in reported.items() if e.passed}
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [AssetCheckKey(AssetKey("pypi_downloads"), "no_gaps")])
    assert not latest[AssetCheckKey(AssetKey("pypi_downloads"), "no_gaps")].event.dagster_event.event_specific_data.passed


def test_an_unknown_source_fails_clearly_and_loads_nothing(dsn):
    result = run_range(dsn, FIRST, FIRST, source=DownloadSourceResource(name="nosuch"))
    assert not result.success
    assert "unknown source 'nosuch': choose one of sample, bigquery" in failure_text(result)
    with connected(dsn) as client:
        assert client.query("SELECT count() FROM system.tables WHERE database = 'pepy'").result_rows == [(0,)]


def test_an_unreachable_warehouse_is_a_clear_error():
    resource = ClickHouseWarehouse(dsn="http://default:secret@127.0.0.1:9/pepy")
    with pytest.raises(WarehouseUnavailable) as error:
        with resource.connect():
            pass
    assert "cannot open the warehouse at http://default:***@127.0.0.1:9/pepy" in str(error.value)
    assert "secret" not in str(error.value)
    result = run_range("http://127.0.0.1:9", FIRST, FIRST)
    assert not result.success
    assert "cannot open the warehouse" in failure_text(result)




def test_the_code_location_is_safe_for_an_embedded_warehouse():
    job = defs.resolve_job_def("load_downloads")
    assert job.executor_def.name == "in_process"
    graph = defs.resolve_asset_graph()
    for key in (AssetKey("pypi_downloads"), AssetKey("download_rollups"), AssetKey("serving_tables")):
        node = graph.get(key)
        assert node.pools == {"warehouse"} or getattr(node, "pool", None) == "warehouse"
    for key in (AssetKey("pypi_downloads"), AssetKey("download_rollups")):
        node = graph.get(key)
        assert node.backfill_policy is not None and node.backfill_policy.max_partitions_per_run >= 1
    assert defs.resolve_schedule_def("daily_downloads_schedule").cron_schedule == "30 4 * * *"


@pytest.mark.slow  # the longest single tests (15-90 s each): CI runs them
def test_the_cli_loads_a_range_and_rejects_days_outside_the_partitions(tmp_path):
    # As the README writes it: no DAGSTER_HOME set (it defaults to $PEPY_HOME/dagster).
    env = {"PEPY_HOME": str(tmp_path / "home"), "DAGSTER_HOME": "",
           "PEPY_SAMPLE_PROJECTS": "40", "PEPY_SAMPLE_ROWS_PER_DAY": "1500"}
    done = run_cli(["load", "2026-10-01", "2026-10-03", "--days-per-run", "2"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count(" ok") == 3  # two load runs, then one publish
    assert (tmp_path / "home/dagster/dagster.yaml").exists()
    manifest = current_generation(tmp_path / "home/warehouse")
    assert manifest["last_complete_day"] == "2026-10-03"
    by_setting = run_cli(["load", "2026-10-04", "2026-10-05", "--accept-empty"],
                         {**env, "PEPY_BACKFILL_DAYS_PER_RUN": "1"})
    assert by_setting.returncode == 0, by_setting.stderr[-2000:]
    assert by_setting.stdout.count(" ok") == 3  # the default batch size comes from the setting
    # --accept-empty tags the load runs (days with rows load as ever: tests/test_empty_days.py).
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "home/dagster"))) as instance:
        tagged = instance.get_runs(filters=RunsFilter(tags={ACCEPT_EMPTY_TAG: "true"}))
        assert sorted(run.tags[ASSET_PARTITION_RANGE_START_TAG] for run in tagged) == ["2026-10-04", "2026-10-05"]
    outside = run_cli(["load", "2019-01-01"], env)
    assert outside.returncode == 2
    assert "outside the partitions" in outside.stderr
    future = run_cli(["load", (dt.date.today() + dt.timedelta(days=3)).isoformat()], env)
    assert future.returncode == 2 and "outside the partitions" in future.stderr


@pytest.mark.slow  # the longest single tests (15-90 s each): CI runs them
def test_a_killed_cli_load_leaves_no_run_started_after_the_next_load(tmp_path):
    """SIGKILLed mid-run, a CLI load leaves its run STARTED; without a daemon the next CLI load
    marks it failed (its process is gone) and loads as usual."""
    import os
    import signal
    import subprocess
    import time

    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from tests.support.processes import VENV_BIN, ROOT, _restore_signals

    home = tmp_path / "home"
    env = {**os.environ, "PEPY_HOME": str(home), "DAGSTER_HOME": "",
           "PEPY_SAMPLE_PROJECTS": "40", "PEPY_SAMPLE_ROWS_PER_DAY": "1500"}
    killed = subprocess.Popen([str(VENV_BIN / "python"), "-m", "pepy_pipeline", "load", "2026-10-01", "2026-10-06",
                               "--days-per-run", "1"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=_restore_signals)

    def started_runs():
        if not (home / "dagster" / "dagster.yaml").exists():
            return []
        with DagsterInstance.from_config(str(home / "dagster")) as instance:
            return instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]))

    def started_with_pid() -> bool:  # any STARTED run: its pid is given at creation
        """Read-only while the CLI may still be creating the instance's storage: opening a
        DagsterInstance then raced its schema stamp (two alembic heads) on a loaded machine."""
        import sqlite3
        runs_db = home / "dagster" / "history" / "runs.db"
        if not runs_db.exists():
            return False
        try:
            with sqlite3.connect(f"file:{runs_db}?mode=ro", uri=True, timeout=1) as db:
                bodies = db.execute("SELECT run_body FROM runs WHERE status = 'STARTED'").fetchall()
        except sqlite3.Error:
            return False
        return bool(bodies)

    # Killed as soon as a run is STARTED, before its step's first line may have run: the CLI gives
    # its runs its process at creation (found by a kill there: the run stayed STARTED for good, its
    # process never recorded, so nothing could tell it was dead).
    deadline = time.monotonic() + 120
    while not started_with_pid() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(10)
    from pepy_pipeline.load_runs import days_of
    left = {run.run_id: [day.isoformat() for day in days_of(run)] for run in started_runs()}
    assert left, "the killed load had no run STARTED"
    done = run_cli(["load", "2026-10-08", "2026-10-08"], {k: env[k] for k in ("PEPY_HOME", "DAGSTER_HOME",
                                                                            "PEPY_SAMPLE_PROJECTS", "PEPY_SAMPLE_ROWS_PER_DAY")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(f"run {run_id}: its process is gone" in done.stdout for run_id in left)
    assert started_runs() == []
    # The killed run's day counts as failed, and the schedule retries it (a commit it tore is
    # repaired by that reload), older than its look-back too. (Killed right after it started, the
    # day was not loaded yet; a kill landing after the day was recorded would leave it loaded.)
    from dagster import AssetPartitionStatus

    from pepy_pipeline.reload_policy import days_to_load
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        killed = [day for days in left.values() for day in days]
        status = instance.get_status_by_partition(AssetKey("pypi_downloads"), killed, daily_partitions)
        not_loaded = [day for day in killed if status[day] != AssetPartitionStatus.MATERIALIZED]
        assert not_loaded, status
        wanted = days_to_load(instance, SMALL.build(), dt.date(2026, 10, 10))
        for day in not_loaded:
            assert status[day] == AssetPartitionStatus.FAILED and "failed" in wanted[dt.date.fromisoformat(day)].text, wanted


def test_a_daemon_run_killed_before_its_first_step_is_failed_by_its_worker_pid():
    """A daemon-launched run gets its process recorded by its step; one killed before its first
    step stayed STARTED for good, its warehouse pool slot held: every later load queued behind
    it. The worker's pid, logged by Dagster's default launcher when the process starts, tells."""
    import os

    from dagster import DagsterRunStatus, build_sensor_context, instance_for_test

    from pepy_pipeline.run_process import PID_TAG, process_tags
    from pepy_pipeline.sensors import dead_run_sensor, dead_runs, fail_dead_runs
    from tests.support.runs import started_load_run

    with instance_for_test() as instance:  # the default run launcher, as the daemon's instance has
        killed = started_load_run(instance, worker_pid=unused_pid())
        alive = started_load_run(instance, worker_pid=os.getpid())
        recorded = started_load_run(instance, worker_pid=unused_pid(), process_pid=os.getpid())  # its step's record wins
        # A re-execution copies its parent's tags (found in review): the parent's ended process is
        # not the new run's, whose live worker speaks for it until its step records itself.
        reexecuted = started_load_run(instance, {**process_tags("its-parent"), PID_TAG: str(unused_pid())},
                                      worker_pid=os.getpid())
        assert dead_runs(instance) == []  # the command line's view: a worker's pid names no host
        assert [run.run_id for run, _ in dead_runs(instance, workers=True)] == [killed]
        assert fail_dead_runs(instance) == []
        tick = dead_run_sensor(build_sensor_context(instance=instance))  # the sensor asks about workers
        assert killed in tick.skip_message
        assert instance.get_run_by_id(killed).status == DagsterRunStatus.FAILURE
        assert {instance.get_run_by_id(r).status for r in (alive, recorded, reexecuted)} == {DagsterRunStatus.STARTED}


def test_the_served_day_check_fails_when_a_publish_left_yesterday_out():
    """Found in review: the freshness policy sees when a publish happened, not what it holds, so a
    publish of a reloaded older day at 04:40 met it while yesterday's load had failed."""
    from dagster import AssetMaterialization

    from pepy_pipeline.assets.publishing import SERVING, newest_publish, served_day_result
    from pepy_pipeline.freshness import expected_last_day

    utc = dt.timezone.utc
    assert expected_last_day(dt.datetime(2026, 11, 28, 8, 59, tzinfo=utc)) == dt.date(2026, 11, 26)
    assert expected_last_day(dt.datetime(2026, 11, 28, 9, 0, tzinfo=utc)) == dt.date(2026, 11, 27)
    instance = DagsterInstance.ephemeral()
    assert newest_publish(instance) == (None, ())
    assert not served_day_result(None, dt.datetime(2026, 11, 28, 10, tzinfo=utc)).passed  # nothing published
    instance.report_runless_asset_event(AssetMaterialization(SERVING, metadata={"last_complete_day": "2026-11-26"}))
    assert newest_publish(instance) == (dt.date(2026, 11, 26), ())
    served, _ = newest_publish(instance)
    assert served_day_result(served, dt.datetime(2026, 11, 28, 5, tzinfo=utc)).passed  # yesterday may be loading
    late = served_day_result(served, dt.datetime(2026, 11, 28, 9, 30, tzinfo=utc))
    assert not late.passed and late.metadata["expected_last_day"].value == "2026-11-27"
    # On time, but with a day missing from the recent sums' window.
    instance.report_runless_asset_event(AssetMaterialization(SERVING, metadata={
        "last_complete_day": "2026-11-27", "recent_window_holes": "2026-11-20, 2026-11-21"}))
    served, holes = newest_publish(instance)
    assert holes == (dt.date(2026, 11, 20), dt.date(2026, 11, 21))
    with_holes = served_day_result(served, dt.datetime(2026, 11, 28, 9, 30, tzinfo=utc), holes)
    assert not with_holes.passed and with_holes.metadata["recent_window_holes"].value == "2026-11-20, 2026-11-21"
    assert served_day_result(served, dt.datetime(2026, 11, 28, 9, 30, tzinfo=utc)).passed
    # Through Dagster, as its 09:05 schedule runs it (no warehouse opened), against the real clock.
    job = defs.resolve_job_def("check_served_day")
    assert defs.resolve_schedule_def("served_day_schedule").job_name == "check_served_day"
    for served, passed in ((dt.date.today() - dt.timedelta(days=3), False), (dt.date.today(), True)):
        instance.report_runless_asset_event(AssetMaterialization(SERVING, metadata={"last_complete_day": served.isoformat()}))
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        (evaluation,) = run_checks(result)
        assert result.success and evaluation.passed is passed and evaluation.check_name == "serves_yesterday"
    # ... and after every publish.
    assert AssetCheckKey(SERVING, "serves_yesterday") in defs.resolve_job_def("publish").asset_layer.asset_graph.asset_check_keys
