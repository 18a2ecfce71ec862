"""One writer at a time, enforced by the warehouse layer itself (not only by Dagster's pool).

* Embedded (chDB): a second process cannot open the directory at all, so every writer first takes
  an exclusive ``flock`` on ``<dir>.writer.lock`` and, if another writer has it, WAITS, saying who
  it waits for. The kernel releases the lock when its process dies (SIGKILL, OOM): a killed load
  never blocks the next one.
* Server (and threads sharing one engine): sections that must not interleave (a day's commit, a
  publish, a migration) take a named mutex made of ``CREATE TABLE`` on the server: the DDL either
  creates the table or fails because it exists, atomically, on one server. The table's comment
  names its holder (pid, host, the process's start time and pid namespace). A waiter on the
  holder's host and namespace checks it: a live holder is never broken (the waiter gives up after
  its timeout instead), an ended one, a zombie or a reused pid (another start time) is broken at
  once. A holder it cannot check (another host) is broken once older than its age limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import socket
import threading
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
PROC = Path("/proc")
BREAK_GUARD_STALE_SECONDS = 60
_HELD: set[str] = set()  # the tags of the mutexes this process holds now (any thread)
_HELD_LOCK = threading.Lock()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (another user's counts: it cannot be signalled,
    but it is there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _process(pid: int) -> tuple[str, str] | None:
    """(start time in clock ticks since boot, state letter) of process ``pid``; None when it is gone.

    With the pid, the start time identifies a process: a pid reused after its holder died (a
    restarted container counts pids from 1 again) has another. "" when it cannot be read (no
    ``/proc`` as on macOS, or ``/proc`` hiding other users' processes): then only whether the pid
    exists is known, by ``kill(pid, 0)``."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return ("", "") if pid_alive(pid) else None
    fields = stat.rsplit(")", 1)[1].split()  # the name before ")" may hold spaces
    return fields[19], fields[0]  # stat(5) fields 22 and 3


def _pid_namespace() -> str:
    try:
        return re.sub(r"\D", "", os.readlink(PROC / "self" / "ns" / "pid"))
    except OSError:
        return ""


def holder_tag() -> str:
    """A new holder name for this process: ``pid@host#start#pid-namespace#nonce``."""
    me = _process(os.getpid()) or ("", "")
    return f"{os.getpid()}@{socket.gethostname()}#{me[0]}#{_pid_namespace()}#{secrets.token_hex(4)}"


def _holder_state(holder: str) -> str:
    """What a waiter can tell of a holder: ``alive``, ``dead``, ``leaked`` (this process's own, not
    held by any of its threads: a release that failed) or ``unknown`` (another host or pid
    namespace, or a name without the start time: judged by age)."""
    pid, _, rest = holder.partition("@")
    host, _, rest = rest.partition("#")
    started, namespace, nonce = (rest.split("#") + ["", "", ""])[:3]
    mine = _pid_namespace()
    if host != socket.gethostname() or not pid.isdigit() or (namespace and mine and namespace != mine):
        return "unknown"  # another machine, or a container sharing its host name (host networking)
    process = _process(int(pid))
    if process is None or process[1] in ("Z", "X"):
        return "dead"  # ended (a zombie's parent has not collected it yet)
    if not started or not process[0]:
        return "unknown"  # the pid exists, but is it the holder? (no start time to compare)
    if started != process[0]:
        return "dead"  # the pid was reused by another process
    if int(pid) == os.getpid() and nonce:
        with _HELD_LOCK:
            return "alive" if holder in _HELD else "leaked"
    return "alive"


def _table_age_and_comment(client, database: str, table: str) -> tuple[int, str] | None:
    rows = client.query(
        "SELECT dateDiff('second', metadata_modification_time, now()), comment FROM system.tables "
        "WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": database, "t": table},
    ).result_rows
    return (int(rows[0][0]), rows[0][1]) if rows else None


def _create(client, table: str, comment: str = "") -> bool:
    """Create the Memory table ``table``: True, or False when it exists (someone else has it)."""
    try:
        client.command(f"CREATE TABLE {table} (holder String) ENGINE = Memory COMMENT '{comment}'")
        return True
    except Exception as error:  # noqa: BLE001 - the server's "already exists"
        if "exist" not in str(error).lower():
            raise
        return False


def _break(client, database: str, name: str, holder: str) -> bool:
    """Drop the mutex ``name`` if ``holder`` still holds it. Breakers take a guard first, so two
    waiters that saw the same dead holder cannot both break: the second would drop the first's
    new, live mutex."""
    db = identifier(database)
    guard = f"_mutex_{name}_breaking"
    if not _create(client, f"{db}.{guard}"):
        found = _table_age_and_comment(client, database, guard)
        if found and found[0] >= BREAK_GUARD_STALE_SECONDS:  # a breaker died between its two statements
            client.command(f"DROP TABLE IF EXISTS {db}.{guard}")
        return False
    try:
        found = _table_age_and_comment(client, database, f"_mutex_{name}")
        if found is None or found[1] != holder:
            return False
        client.command(f"DROP TABLE IF EXISTS {db}._mutex_{name}")
        return True
    finally:
        client.command(f"DROP TABLE IF EXISTS {db}.{guard}")


def _release(client, database: str, name: str, tag: str, report: Callable[[str], None]) -> None:
    """Drop the mutex if it is still ours (retried: a mutex left behind blocks every writer).

    The tag stays among this process's held ones until the drop is done: a waiter of this
    process that saw it gone from them earlier took the mutex for a leaked one and broke it,
    another waiter created its own, and this release's drop, checked before, then dropped that
    one: two holders at once (found when CI ran two suites on two cores)."""
    try:
        for attempt in range(3):
            try:
                found = _table_age_and_comment(client, database, f"_mutex_{name}")
                if found is not None and found[1] != tag:
                    report(f"the mutex {name} was broken while this process held it (now held by {found[1]})")
                    return
                client.command(f"DROP TABLE IF EXISTS {identifier(database)}._mutex_{name}")
                return
            except Exception as error:  # noqa: BLE001 - any failure: try again, then leave it to be broken
                if attempt == 2:
                    report(f"the mutex {name} could not be released ({error}); the next waiter breaks it")
                    return
                time.sleep(1.0 * (attempt + 1))
    finally:
        with _HELD_LOCK:
            _HELD.discard(tag)  # from now on this process's own waiters may break it if the drop failed


@contextlib.contextmanager
def warehouse_mutex(client, database: str, name: str, stale_after_seconds: int = 3600,
                    timeout: float = 3600.0, report: Callable[[str], None] | None = None) -> Iterator[None]:
    """A mutex named ``name`` held as the table ``<database>._mutex_<name>`` on the warehouse.

    Waits while another holder has it, at most ``timeout`` seconds (then :class:`LockTimeout`).
    Breaks it when its holder ran on this host and has ended (or is this process and released it
    in vain); a holder it cannot check (another host, or no start time in its name) once it is
    older than ``stale_after_seconds`` by the SERVER's clock. Works the same on a server and in chDB.
    """
    if not _NAME.match(name):
        raise ValueError(f"not a mutex name: {name!r}")
    report = report or log.warning
    table = f"{identifier(database)}._mutex_{name}"
    tag = holder_tag().replace("\\", "").replace("'", "")  # a host name has neither
    started = time.monotonic()
    reported = 0.0
    while True:
        with _HELD_LOCK:  # held before it is visible: this process's other threads see it alive
            _HELD.add(tag)
        if _create(client, table, tag):
            break
        with _HELD_LOCK:
            _HELD.discard(tag)
        found = _table_age_and_comment(client, database, f"_mutex_{name}")
        if found is None:
            continue  # released in between
        age, holder = found
        state = _holder_state(holder)
        if state in ("dead", "leaked") or (state == "unknown" and age >= stale_after_seconds):
            why = {"dead": "has ended", "leaked": "is this process, which failed to release it"}.get(
                state, f"cannot be checked from here and has held it {age} s, past the {stale_after_seconds} s allowed")
            if _break(client, database, name, holder):
                report(f"broke the mutex {name}: its holder {holder} {why}")
            continue
        waited = time.monotonic() - started
        if waited >= timeout:
            raise LockTimeout(f"the mutex {name} is still held by {holder} after {waited:.0f} s")
        if reported == 0.0 or waited - reported >= WAIT_REPORT_SECONDS:
            report(f"waiting for the mutex {name}: held by {holder}")
            reported = max(waited, 1e-9)
        time.sleep(0.1)
    try:
        yield
    finally:
        _release(client, database, name, tag, report)
