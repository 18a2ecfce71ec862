"""Which process runs a run: recorded as tags so a run whose process died can be found."""

from __future__ import annotations

import os
import socket

from pepy_warehouse.locks import pid_alive

PID_TAG, HOST_TAG = "pepy/pid", "pepy/host"


def process_tags() -> dict[str, str]:
    """This process, as run tags: given at creation to a run executed in this process (the CLI's),
    so a kill before its first step records it is still found."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def record_run_process(context) -> None:
    """Tag the run with this process, for ``sensors.dead_runs``."""
    context.instance.add_run_tags(context.run.run_id, process_tags())


def process_alive(tags) -> bool | None:
    """Whether the process a run's ``tags`` record is alive: None when they record none on this
    host (another host's cannot be asked)."""
    pid = tags.get(PID_TAG, "")
    if tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit():
        return None
    return pid_alive(int(pid))
