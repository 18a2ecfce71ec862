"""Load runs as Dagster records them once started, without executing them: what the dead-run
sensor and the command line judge."""

from __future__ import annotations

from dagster import DagsterEvent, DagsterEventType
from dagster._core.events import EngineEventData

from pepy_pipeline.definitions import defs
from pepy_pipeline.run_process import PID_TAG, process_tags


def started_load_run(instance, tags: dict | None = None, worker_pid: int | None = None,
                     process_pid: int | None = None) -> str:
    """A ``load_downloads`` run STARTED on ``instance`` (id returned), with ``tags``; with
    ``worker_pid``, the engine event Dagster's default launcher logs for its worker first; with
    ``process_pid``, the process its tags record as its own (a command line's, or its step's)."""
    job = defs.resolve_job_def("load_downloads")
    run = instance.create_run_for_job(job_def=job, tags=tags or {})
    if process_pid is not None:
        instance.add_run_tags(run.run_id, {**process_tags(run.run_id), PID_TAG: str(process_pid)})
    if worker_pid is not None:
        instance.report_dagster_event(DagsterEvent(
            DagsterEventType.ENGINE_EVENT.value, job_name=job.name,
            event_specific_data=EngineEventData.in_process(worker_pid)), run.run_id)
    instance.report_dagster_event(DagsterEvent(DagsterEventType.RUN_START.value, job_name=job.name), run.run_id)
    return run.run_id
