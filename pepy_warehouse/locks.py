"""One writer at a time, enforced by the warehouse layer itself (not only by Dagster's pool).

* Embedded (chDB): a second process cannot open the directory at all, so every writer first takes
  an exclusive ``flock`` on ``<dir>.writer.lock`` and, if another writer has it, WAITS, saying who
  it waits for. The kernel releases the lock when its process dies (SIGKILL, OOM): a killed load
  never blocks the next one.
* Server (and threads sharing one engine): sections that must not interleave (a day's commit, a
  publish) take a named mutex made of ``CREATE TABLE`` on the server: the DDL either creates the
  table or fails because it exists, atomically, on one server. A mutex older than its timeout is a
  dead holder's and is broken.
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


def _holder_is_dead(holder: str) -> bool:
    """True when the holder ran on this host and its process no longer exists."""
    pid, _, host = holder.partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextlib.contextmanager
def warehouse_mutex(client, database: str, name: str, stale_after_seconds: int = 3600,
                    timeout: float = 3600.0, report: Callable[[str], None] | None = None) -> Iterator[None]:
    """A mutex named ``name`` held as the table ``<database>._mutex_<name>`` on the warehouse.

    Waits while another holder has it; breaks it when it is older than ``stale_after_seconds`` by
    the SERVER's clock (a holder that died). Works the same on a server and in chDB.
    """
    if not _NAME.match(name):
        raise ValueError(f"not a mutex name: {name!r}")
    report = report or log.warning
    table = f"{identifier(database)}._mutex_{name}"
    started = time.monotonic()
    reported = 0.0
    while True:
        try:
            client.command(f"CREATE TABLE {table} (holder String) ENGINE = Memory "
                           f"COMMENT '{os.getpid()}@{socket.gethostname()}'")
            break
        except Exception as error:  # noqa: BLE001 - the server's "already exists"
            if "exist" not in str(error).lower():
                raise
            found = client.query(
                "SELECT dateDiff('second', metadata_modification_time, now()), comment FROM system.tables "
                "WHERE database = {db:String} AND name = {t:String}",
                parameters={"db": database, "t": f"_mutex_{name}"},
            ).result_rows
            if found and (found[0][0] >= stale_after_seconds or _holder_is_dead(found[0][1])):
                report(f"breaking the mutex {name}: its holder {found[0][1]} is gone ({found[0][0]} s old)")
                client.command(f"DROP TABLE IF EXISTS {table}")
                continue
            waited = time.monotonic() - started
            if waited >= timeout:
                raise LockTimeout(f"the mutex {name} is still held after {waited:.0f} s") from error
            if reported == 0.0 or waited - reported >= WAIT_REPORT_SECONDS:
                report(f"waiting for the mutex {name} (another writer holds it)")
                reported = max(waited, 1e-9)
            time.sleep(0.1)
    try:
        yield
    finally:
        client.command(f"DROP TABLE IF EXISTS {table}")
