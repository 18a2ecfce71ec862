"""Sensors that keep the warehouse moving without a person: publish after backfills, and fail
runs whose process died (so their ``warehouse`` pool slot is freed). Neither opens the warehouse:
chDB allows one process per directory, and sensors run in the code server."""

from __future__ import annotations

import os
import socket

from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from pepy_pipeline.assets.downloads import ROLLUPS
from pepy_pipeline.assets.publishing import SERVING
from pepy_pipeline.load_runs import backfills_in_progress, loads_in_flight
from pepy_pipeline.run_process import HOST_TAG, PID_TAG

publish_job = define_asset_job("publish", selection=[SERVING],
                               description="Publish committed days to the API (once after a backfill).")


def _latest_storage_id(instance, key: AssetKey) -> int:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0].storage_id if records else 0


def publish_needed(instance) -> tuple[bool, str, int]:
    """(needed, why, latest rollup storage id): days committed since the last publish, and no load
    queued or running (a backfill publishes once, at its end)."""
    committed, published = _latest_storage_id(instance, ROLLUPS), _latest_storage_id(instance, SERVING)
    if committed <= published:
        return False, "every committed day is published", committed
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


def dead_runs(instance) -> list:
    """STARTED runs that recorded a process on this host which no longer exists."""
    host = socket.gethostname()
    dead = []
    for run in instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        pid = run.tags.get(PID_TAG, "")
        if run.tags.get(HOST_TAG) != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(run)
        except PermissionError:
            pass
    return dead


def fail_dead_runs(instance) -> list[str]:
    failed = []
    for run in dead_runs(instance):
        instance.report_run_failed(run, f"the run's process (pid {run.tags[PID_TAG]}) is gone (killed or out of "
                                        "memory); marked failed so its warehouse slot is freed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed


@sensor(minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Marks runs whose process died as failed and frees their pool slots, so a killed "
                    "load never blocks the queue.")
def dead_run_sensor(context: SensorEvaluationContext):
    failed = fail_dead_runs(context.instance)
    return SkipReason(f"marked failed: {', '.join(failed)}" if failed else "no dead runs")
