"""Which process runs a run: recorded as tags so a run whose process died can be found."""

from __future__ import annotations

import os
import socket

from pepy_warehouse.locks import pid_alive

PID_TAG, HOST_TAG = "pepy/pid", "pepy/host"
#: The run the process tags were recorded for. A re-execution copies its parent's tags: without
#: this, the dead-run sensor read the parent's ended process as the new run's, and could fail it
#: before its step recorded its own (found in review).
RUN_TAG = "pepy/pid-of-run"


def process_tags(run_id: str) -> dict[str, str]:
    """This process, as the tags of run ``run_id``: given at creation to a run executed in this
    process (the CLI's), so a kill before its first step records it is still found."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), RUN_TAG: run_id}


def record_run_process(context) -> None:
    """Tag the run with this process, for ``sensors.dead_runs``."""
    context.instance.add_run_tags(context.run.run_id, process_tags(context.run.run_id))


def records_its_process(run) -> bool:
    """Whether ``run``'s tags record its own process (not a parent's, copied by a re-execution).
    Tags from before ``RUN_TAG`` existed count as its own: a command line killed across the
    upgrade is still found."""
    return PID_TAG in run.tags and run.tags.get(RUN_TAG, run.run_id) == run.run_id


def process_alive(run) -> bool | None:
    """Whether the process ``run``'s tags record for it is alive: None when they record none of
    its own, or one on another host (which cannot be asked)."""
    pid = run.tags.get(PID_TAG, "")
    if not records_its_process(run) or run.tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit():
        return None
    return pid_alive(int(pid))
