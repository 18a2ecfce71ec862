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

from pepy_pipeline.assets.downloads import NO_PUBLISH_TAG, ROLLUPS
from pepy_pipeline.assets.publishing import SERVING
from pepy_pipeline.load_runs import backfills_in_progress, loads_in_flight
from pepy_pipeline.run_process import PID_TAG, process_alive

publish_job = define_asset_job("publish", selection=[SERVING],
                               description="Publish committed days to the API (once after a backfill).")


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
    return run is not None and run.tags.get(NO_PUBLISH_TAG) == "true" and process_alive(run.tags) is True


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
    return RunRequest(run_key=f"publish-after-{committed}")


#: A STARTED run that has neither recorded its process nor started a step after this long died
#: before its first step. A daemon-launched run is given its process by its step (the CLI's runs
#: at creation), so one killed before that stayed STARTED for good, holding the warehouse pool:
#: every later load queued behind it. Steps start seconds after their run (the pools are
#: run-granular: runs wait in the queue, not in STARTED).
SILENT_START_SECONDS = 600


def dead_runs(instance, now: float | None = None) -> list[tuple[object, str]]:
    """(run, why) for each STARTED run whose recorded process on this host no longer exists, or
    that recorded none and started no step ``SILENT_START_SECONDS`` after it started."""
    now = time.time() if now is None else now
    dead = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        run = record.dagster_run
        if PID_TAG not in run.tags:
            if (record.start_time or now) < now - SILENT_START_SECONDS and not instance.get_records_for_run(
                    run.run_id, of_type=DagsterEventType.STEP_START, limit=1).records:
                dead.append((run, f"started {int(now - record.start_time)} s ago without starting a step or "
                                  "recording its process (killed before its first step)"))
        elif process_alive(run.tags) is False:
            dead.append((run, f"its process (pid {run.tags[PID_TAG]}) is gone (killed or out of memory)"))
    return dead


def fail_dead_runs(instance, now: float | None = None) -> list[str]:
    failed = []
    for run, why in dead_runs(instance, now):
        instance.report_run_failed(run, f"the run's {why}; marked failed so its warehouse slot is freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Marks runs whose process died as failed and frees their pool slots, so a killed "
                    "load never blocks the queue.")
def dead_run_sensor(context: SensorEvaluationContext):
    failed = fail_dead_runs(context.instance)
    return SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no dead runs")
