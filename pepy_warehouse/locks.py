"""One writer at a time, enforced by the warehouse layer itself (not only by Dagster's pool).

* Embedded (chDB): a second process cannot open the directory at all, so every writer first takes
  an exclusive ``flock`` on ``<dir>.writer.lock`` and, if another writer has it, WAITS, saying who
  it waits for. The kernel releases the lock when its process dies (SIGKILL, OOM): a killed load
  never blocks the next one.
* Server (and threads sharing one engine): sections that must not interleave (a day's commit, a
  publish) take a named mutex made of ``CREATE TABLE`` on the server: the DDL either creates the
  table or fails because it exists, atomically, on one server. The table's comment names its
  holder (pid, host, the process's start time). A holder on this host is checked: a live one is
  waited for however long it holds (a real-size migration can run past an hour), a
  dead one (or a reused pid: the start time differs) is broken at once. A holder on another host
  cannot be checked, so its mutex is broken once older than its timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pepy_warehouse.identifiers import identifier

log = logging.getLogger("pepy_warehouse")
WAIT_REPORT_SECONDS = 30.0


class LockTimeout(RuntimeError):
    """A lock could not be taken in the time allowed."""


def _holder_text(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another writer"
    return f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('what', '?')}) since {holder.get('since', '?')}"


@contextlib.contextmanager
def embedded_writer_lock(data_dir: Path, what: str, timeout: float | None = None,
                         report: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the writer lock of the chDB directory ``data_dir``; wait for it if taken."""
    report = report or log.warning
    path = data_dir.parent / f"{data_dir.name}.writer.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        started = time.monotonic()
        reported = 0.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise LockTimeout(f"the warehouse {data_dir} is still held by {_holder_text(path)} "
                                      f"after {waited:.0f} s") from None
                if reported == 0.0 or waited - reported >= WAIT_REPORT_SECONDS:
                    report(f"waiting for the warehouse {data_dir}: it is being written by {_holder_text(path)}; "
                           "this writer continues when that one finishes")
                    reported = max(waited, 1e-9)
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the flock


_NAME = re.compile(r"^[a-z0-9_]+$")


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot), None when it does not exist.

    With the pid it identifies a process: a pid reused after its holder died (a restarted
    container starts counting pids again) has another start time. Without ``/proc`` (macOS) the
    start time is unknown (""), and only whether the pid exists is checked."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    except OSError:
        return ""  # exists but unreadable: alive, start time unknown
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of stat(5); the name may hold spaces


def holder_tag() -> str:
    """How this process names itself as a mutex holder: ``pid@host#start``."""
    return f"{os.getpid()}@{socket.gethostname()}#{_start_time(os.getpid()) or ''}"


def _holder_state(holder: str) -> str:
    """``alive`` or ``dead`` for a holder on this host; ``unknown`` for one elsewhere."""
    pid, _, rest = holder.partition("@")
    host, _, started = rest.partition("#")
    if host != socket.gethostname() or not pid.isdigit():
        return "unknown"
    now_started = _start_time(int(pid))
    if now_started is None:
        return "dead"
    if started and now_started and started != now_started:
        return "dead"  # the pid was reused by another process
    return "alive"


@contextlib.contextmanager
def warehouse_mutex(client, database: str, name: str, stale_after_seconds: int = 3600,
                    timeout: float = 3600.0, report: Callable[[str], None] | None = None) -> Iterator[None]:
    """A mutex named ``name`` held as the table ``<database>._mutex_<name>`` on the warehouse.

    Waits while another holder has it. Breaks it when its holder ran on this host and is gone, or,
    for a holder on another host (which cannot be checked), once it is older than
    ``stale_after_seconds`` by the SERVER's clock. Works the same on a server and in chDB.
    """
    if not _NAME.match(name):
        raise ValueError(f"not a mutex name: {name!r}")
    report = report or log.warning
    table = f"{identifier(database)}._mutex_{name}"
    started = time.monotonic()
    reported = 0.0
    while True:
        try:
            holder = holder_tag().replace("\\", "").replace("'", "")  # a host name has neither
            client.command(f"CREATE TABLE {table} (holder String) ENGINE = Memory COMMENT '{holder}'")
            break
        except Exception as error:  # noqa: BLE001 - the server's "already exists"
            if "exist" not in str(error).lower():
                raise
            found = client.query(
                "SELECT dateDiff('second', metadata_modification_time, now()), comment FROM system.tables "
                "WHERE database = {db:String} AND name = {t:String}",
                parameters={"db": database, "t": f"_mutex_{name}"},
            ).result_rows
            state = _holder_state(found[0][1]) if found else "alive"
            if state == "dead" or (state == "unknown" and found[0][0] >= stale_after_seconds):
                why = ("has ended" if state == "dead" else
                       f"is on another host and has held it {found[0][0]} s, past the {stale_after_seconds} s allowed")
                report(f"breaking the mutex {name}: its holder {found[0][1]} {why}")
                client.command(f"DROP TABLE IF EXISTS {table}")
                continue
            waited = time.monotonic() - started
            if waited >= timeout:
                raise LockTimeout(f"the mutex {name} is still held after {waited:.0f} s") from error
            if reported == 0.0 or waited - reported >= WAIT_REPORT_SECONDS:
                holder = found[0][1] if found else "another writer"
                report(f"waiting for the mutex {name}: held by {holder}")
                reported = max(waited, 1e-9)
            time.sleep(0.1)
    try:
        yield
    finally:
        client.command(f"DROP TABLE IF EXISTS {table}")
