"""Embedded mode runs the writer and the API on the same cores: the writer yields to the API.

A load or a publish is batch work measured in minutes; an API request is interactive and measured
in milliseconds. On Linux the nice value is per thread and new threads inherit their creator's,
so every thread of the writer's process is lowered (chDB's pools included, which start threads
from the threads that submit work). Lowering is one-way for an unprivileged process: this is for
processes that are writers (a Dagster run, the CLI), never for the API.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def lower_cpu_priority(nice: int) -> int:
    """Bring every thread of this process to at least ``nice``; returns how many were lowered."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return 0
    lowered = 0
    tasks = Path("/proc/self/task")
    tids = [int(p.name) for p in tasks.iterdir()] if tasks.exists() else [0]
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                lowered += 1
        except (ProcessLookupError, PermissionError) as error:  # a thread that ended meanwhile
            log.debug("thread %s not lowered: %s", tid, error)
    return lowered
