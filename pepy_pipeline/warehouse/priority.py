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


AUTOGROUP = Path("/proc/self/autogroup")


def lower_session_priority(nice: int) -> str:
    """Put this writer in a session of its own and run that session's autogroup at ``nice``;
    returns what was done, for the log.

    With the kernel's autogroups on (the default of desktop and many server kernels, on here),
    CPU is shared between sessions first, and nice values count only within a session: a
    publisher at nice 10 in another session than the API still took a third of both cores and cut
    the API's throughput by ~30% for the length of the publish (measured at real size, ninth
    pass). A process that has a terminal keeps it (Ctrl-C must still reach a CLI), as does one
    that leads a process group (it cannot start a session)."""
    if nice <= 0 or not AUTOGROUP.exists():
        return "no autogroup"
    if os.getsid(0) != os.getpid():
        if _has_terminal():
            return "kept the terminal's session"
        try:
            os.setsid()
        except PermissionError:
            return "leads a process group: session kept"
    try:
        current = int(AUTOGROUP.read_text().split("nice")[1])
        if current < nice:
            AUTOGROUP.write_text(str(nice))
    except (OSError, ValueError, IndexError) as error:
        return f"session of its own, autogroup unchanged: {error}"
    return f"session of its own at autogroup nice {max(current, nice)}"


def _has_terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY))
    except OSError:
        return False
    return True
