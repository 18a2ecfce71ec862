"""Sensors that keep the warehouse moving without a person: publish after backfills, and fail
runs whose process died (so their ``warehouse`` pool slot is freed). Neither opens the warehouse:
chDB allows one process per directory, and sensors run in the code server."""

from __future__ import annotations

import time

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from dagster._core.launcher import DefaultRunLauncher

from pepy_pipeline.alerts import alert_on_command_line_run
from pepy_pipeline.assets.downloads import NO_PUBLISH_TAG
from pepy_pipeline.assets.keys import ROLLUPS, SERVING
from pepy_pipeline.load_runs import backfills_in_progress, loads_in_flight
from pepy_pipeline.run_process import PID_TAG, process_alive, records_its_process
from pepy_warehouse.locks import pid_alive

publish_job = define_asset_job("publish", selection=[SERVING],
                               description="Publish committed days to the API (once after a backfill).")
#: On the sensor's publish runs: the latest rollup commit they publish (how its tries are counted).
PUBLISH_AFTER_TAG = "pepy/publish-after"
#: A failed publish (a server blip, the warehouse held past the lock's timeout) is asked for again
#: this many times, each at least this long after the last one failed: its run key named only the
#: commit, and Dagster never launches a run key twice, so a backfill's days stayed unpublished
#: until some later load committed a day (found by a guard audit). Its failure alerts either way.
PUBLISH_RETRIES = 3
PUBLISH_RETRY_AFTER_SECONDS = 300.0


def _latest_storage_id(instance, key: AssetKey) -> int:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0].storage_id if records else 0


def _committed_by_a_live_command_line(instance) -> bool:
    """The newest commit is a command-line load's (its runs do not publish: the command publishes
    once after its last run) whose process is alive. Between its runs, and before its publish
    had recorded, the sensor saw days committed and no load in flight, and published too: a
    second publish for every command-line load (found by a newcomer; minutes at real size)."""
    records = instance.fetch_materializations(ROLLUPS, limit=1).records
    run = instance.get_run_by_id(records[0].run_id) if records else None
    return run is not None and run.tags.get(NO_PUBLISH_TAG) == "true" and process_alive(run) is True


def publish_needed(instance) -> tuple[bool, str, int]:
    """(needed, why, latest rollup storage id): days committed since the last publish, and no load
    queued or running (a backfill publishes once, at its end)."""
    committed, published = _latest_storage_id(instance, ROLLUPS), _latest_storage_id(instance, SERVING)
    if committed <= published:
        return False, "every committed day is published", committed
    if _committed_by_a_live_command_line(instance):
        return False, "the command line that committed them publishes them", committed
    if loads_in_flight(instance):
        return False, "loads are still queued or running", committed
    if backfills_in_progress(instance, limit=1):
        return False, "a backfill is still in progress", committed
    return True, "days were committed since the last publish", committed


@sensor(job=publish_job, minimum_interval_seconds=15, default_status=DefaultSensorStatus.RUNNING,
        description="Publishes once every load has finished, when days were committed without a publish "
                    "(backfills, runs that failed after committing some days).")
def publish_sensor(context: SensorEvaluationContext):
    needed, why, committed = publish_needed(context.instance)
    if not needed:
        return SkipReason(why)
    failed = failed_publishes(context.instance, committed)
    if len(failed) > PUBLISH_RETRIES:
        return SkipReason(f"the publish of the days committed up to {committed} failed {len(failed)} times: "
                          "not asked again until a load commits another day; see the failed publish runs")
    if failed:
        failed_at, failed_run = failed[0]
        wait = failed_at + PUBLISH_RETRY_AFTER_SECONDS - time.time()
        if wait > 0:
            return SkipReason(f"the last publish failed: asked again in {wait:.0f} s (try {len(failed) + 1})")
        # Named after the run it retries: a key made of the count of failures would repeat one
        # already used once a failed run is deleted, and Dagster would skip it for good.
        return RunRequest(run_key=f"publish-after-{committed}-retry-of-{failed_run}",
                          tags={PUBLISH_AFTER_TAG: str(committed)})
    return RunRequest(run_key=f"publish-after-{committed}", tags={PUBLISH_AFTER_TAG: str(committed)})


def failed_publishes(instance, committed: int) -> list[tuple[float, str]]:
    """(when it failed, run id) of each of the sensor's publish runs of the days committed up to
    ``committed`` that failed (its end, or its last update for a run failed without one), newest
    first. A cancelled one is not retried: someone stopped it."""
    records = instance.get_run_records(filters=RunsFilter(
        job_name=publish_job.name, tags={PUBLISH_AFTER_TAG: str(committed)}, statuses=[DagsterRunStatus.FAILURE]))
    failures = sorted(((r.end_time or r.update_timestamp.timestamp(), r.storage_id, r.dagster_run.run_id)
                       for r in records), reverse=True)
    return [(failed_at, run_id) for failed_at, _, run_id in failures]


def worker_pid(instance, run_id: str) -> str | None:
    """The pid Dagster's default run launcher logs for a run's worker when the process starts
    ("Started process for run"), before the run is STARTED and before any step; None for other
    launchers (their workers live elsewhere, and their own health checks watch them)."""
    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return None
    for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=10).records:
        data = record.event_log_entry.dagster_event.event_specific_data
        pid = (getattr(data, "metadata", None) or {}).get("pid")
        if pid is not None:  # the first engine event with a pid is the worker's (steps' come later)
            return str(pid.value)
    return None


def dead_runs(instance, workers: bool = False) -> list[tuple[object, str]]:
    """(run, why) for each STARTED run whose process on this host no longer exists: the one it
    recorded (the CLI's at creation, a daemon run's in its step), or, with ``workers``, the
    worker the default launcher started for it. A daemon run killed before its step recorded its
    process stayed STARTED for good, holding the warehouse pool (Dagster's run monitoring cannot
    tell: the default launcher has no worker health check). The worker's pid names no host: only
    the sensor asks about it, evaluated in the code server that starts the workers; a command
    line in another container would take a live worker for dead. (A run created and never
    launched is failed by Dagster's run monitoring: ``start_timeout_seconds`` covers NOT_STARTED.)"""
    dead = []
    for run in instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        if records_its_process(run):
            if process_alive(run) is False:
                dead.append((run, f"process (pid {run.tags[PID_TAG]}) is gone (killed or out of memory)"))
            continue
        pid = worker_pid(instance, run.run_id) if workers else None
        if pid is not None and pid.isdigit() and not pid_alive(int(pid)):
            dead.append((run, f"worker (pid {pid}) is gone before its step recorded it (killed early)"))
    return dead


def fail_dead_runs(instance, workers: bool = False) -> list[str]:
    """Mark the dead runs (:func:`dead_runs`) failed: a failed run leaves the warehouse pool
    (run-granular), and any op slots it held are freed. A command line's run (no code location)
    is alerted here: Dagster's run-failure sensor sees only its own code location's runs, and a
    killed command line cannot alert (found by a guard audit)."""
    failed = []
    for run, why in dead_runs(instance, workers):
        now = instance.get_run_by_id(run.run_id)
        if now is None or now.status != run.status:
            continue  # it ended or was deleted meanwhile, or another process failed it first (and alerted)
        instance.report_run_failed(run, f"the run's {why}; marked failed so its warehouse slot is freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        if run.remote_job_origin is None:
            alert_on_command_line_run(instance, run.run_id)
        failed.append(run.run_id)
    return failed


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Marks runs whose process died as failed and frees their pool slots, so a killed "
                    "load never blocks the queue.")
def dead_run_sensor(context: SensorEvaluationContext):
    failed = fail_dead_runs(context.instance, workers=True)
    return SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no dead runs")
