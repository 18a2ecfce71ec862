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
import time
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
AUTOGROUP_ENABLED = Path("/proc/sys/kernel/sched_autogroup_enabled")
AUTOGROUP_TRIES = 20


def lower_session_priority(nice: int) -> str:
    """Put this writer in a session of its own and run that session's autogroup at ``nice``;
    returns what was done, for the log.

    With the kernel's autogroups on (the default of desktop and many server kernels, on here),
    CPU is shared between sessions first, and nice values count only within a session: a
    publisher at nice 10 in another session than the API still took a third of both cores and cut
    the API's throughput by ~30% for the length of the publish (measured at real size, ninth
    pass). A process that has a terminal keeps it (Ctrl-C must still reach a CLI), as does one
    that leads a process group (it cannot start a session). Once moved, a kill of the starter's
    process group no longer reaches the writer (signal its pid, as Dagster does). Inside a CPU
    cgroup of its own (a container) autogroups do not apply: give the writer's cgroup a low CPU
    weight there instead."""
    if nice <= 0:
        return "writer nice 0: left alone"
    if not AUTOGROUP.exists() or AUTOGROUP_ENABLED.read_text().strip() != "1":
        return "the kernel does not group by session"
    if os.getsid(0) != os.getpid():
        if _has_terminal():
            return "kept the terminal's session"
        try:
            os.setsid()
        except PermissionError:
            return "leads a process group: session kept"
    for _ in range(AUTOGROUP_TRIES):
        try:
            current = int(AUTOGROUP.read_text().split("nice")[1])
            if current < nice:
                AUTOGROUP.write_text(str(nice))
            return f"session of its own at autogroup nice {max(current, nice)}"
        except BlockingIOError:  # an unprivileged change is allowed once per 100 ms machine-wide
            time.sleep(0.1)
        except (OSError, ValueError, IndexError) as error:
            log.warning("writer's session autogroup left at its nice: %s", error)
            return f"session of its own, autogroup unchanged: {error}"
    log.warning("writer's session autogroup left at its nice: the kernel refused %d times", AUTOGROUP_TRIES)
    return "session of its own, autogroup unchanged (busy)"


def _has_terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY))
    except OSError:
        return False
    return True
