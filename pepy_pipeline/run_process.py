"""Which process runs a run: recorded as tags so a run whose process died can be found."""

from __future__ import annotations

import os
import socket

PID_TAG, HOST_TAG = "pepy/pid", "pepy/host"


def record_run_process(context) -> None:
    """Tag the run with this process, for ``sensors.dead_runs``."""
    context.instance.add_run_tags(context.run.run_id, {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()})
