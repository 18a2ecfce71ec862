"""The server-side mutex that keeps a day's commit, a publish and a migration apart: who may break it.

A holder on this host is checked by its pid, start time and state; only one that cannot be checked
(another host, or a name without a start time) is judged by age.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pepy_warehouse import locks
from pepy_warehouse.connection import connected
from pepy_warehouse.locks import LockTimeout, holder_tag, warehouse_mutex
from tests.conftest import DATABASE

PRINT_TAG_AND_SLEEP = "from pepy_warehouse.locks import holder_tag; print(holder_tag(), flush=True); import time; time.sleep(60)"


def leave_mutex(client, name: str, holder: str) -> None:
    """A mutex as a holder that never released it leaves it (killed mid-commit)."""
    client.command(f"CREATE TABLE {DATABASE}._mutex_{name} (holder String) ENGINE = Memory COMMENT '{holder}'")


def mutex_exists(client, name: str) -> bool:
    return bool(client.query(f"EXISTS TABLE {DATABASE}._mutex_{name}").result_rows[0][0])


@pytest.fixture
def other_process():
    """A live Python process on this host and the holder tag it gave itself."""
    child = subprocess.Popen([sys.executable, "-c", PRINT_TAG_AND_SLEEP], stdout=subprocess.PIPE, text=True)
    tag = child.stdout.readline().strip()
    yield child, tag
    child.kill()
    child.wait()


def test_a_dead_holder_on_this_host_is_broken_at_once(client):
    child = subprocess.run([sys.executable, "-c", "from pepy_warehouse.locks import holder_tag; print(holder_tag())"],
                           capture_output=True, text=True, check=True)  # returned: the child has ended
    leave_mutex(client, "commit", child.stdout.strip())
    said = []
    started = time.monotonic()
    with warehouse_mutex(client, DATABASE, "commit", timeout=10, report=said.append):
        assert time.monotonic() - started < 5
    assert said and "has ended" in said[0]
    assert not mutex_exists(client, "commit")


def test_a_zombie_holder_is_broken_at_once(client, other_process):
    """A run worker whose parent (the code server, PID 1 of its container) never collects it."""
    child, tag = other_process
    zombie = subprocess.Popen([sys.executable, "-c", "from pepy_warehouse.locks import holder_tag; print(holder_tag())"],
                              stdout=subprocess.PIPE, text=True)
    try:
        zombie_tag = zombie.stdout.readline().strip()
        stat = Path(f"/proc/{zombie.pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not become a zombie"
            time.sleep(0.05)
        leave_mutex(client, "commit", zombie_tag)
        said = []
        with warehouse_mutex(client, DATABASE, "commit", timeout=10, report=said.append):
            pass
        assert said and "has ended" in said[0]
    finally:
        zombie.wait()


def test_a_reused_pid_does_not_keep_a_dead_holder_alive(client, other_process):
    """A restarted container counts pids from 1 again: a new process may carry the dead holder's pid."""
    child, tag = other_process
    pid, _, rest = tag.partition("@")
    host, started, namespace, nonce = rest.split("#")
    leave_mutex(client, "commit", f"{pid}@{host}#{int(started) - 1}#{namespace}#{nonce}")  # that pid, earlier start
    said = []
    with warehouse_mutex(client, DATABASE, "commit", timeout=10, report=said.append):
        pass
    assert said and "has ended" in said[0]


@pytest.mark.parametrize("stale_after_seconds", [0, 3600])
def test_a_live_holder_in_another_process_is_waited_for_however_old(client, other_process, stale_after_seconds):
    """Found in review: a holder past ``stale_after_seconds`` was broken even when it was alive
    (a real-size migration holds the commit mutex for minutes, and a future one may for longer)."""
    child, tag = other_process
    leave_mutex(client, "commit", tag)
    said = []
    with pytest.raises(LockTimeout, match="still held by"):
        with warehouse_mutex(client, DATABASE, "commit", stale_after_seconds=stale_after_seconds, timeout=1.5,
                             report=said.append):
            pytest.fail("took a mutex its live holder still held")
    assert said and "held by" in said[0] and tag in said[0]
    assert mutex_exists(client, "commit")


def test_a_thread_of_this_process_holding_it_is_waited_for(client):
    said = []
    with warehouse_mutex(client, DATABASE, "commit"):
        with pytest.raises(LockTimeout):
            with warehouse_mutex(client, DATABASE, "commit", stale_after_seconds=0, timeout=1.5, report=said.append):
                pytest.fail("took a mutex another holder in this process still held")
    assert said and "held by" in said[0]
    assert not mutex_exists(client, "commit")


def test_a_mutex_this_process_failed_to_release_is_broken_by_its_next_waiter(client):
    """A release whose DROP failed (the server restarting) must not make this process, still alive,
    wait for itself on every later commit."""
    leave_mutex(client, "commit", holder_tag())  # ours, by pid and start time, but no thread holds it
    said = []
    with warehouse_mutex(client, DATABASE, "commit", timeout=10, report=said.append):
        pass
    assert said and "failed to release" in said[0]


@pytest.mark.parametrize("holder", ["12345@some-other-host#999#1#ab", f"{os.getpid()}@{socket.gethostname()}"],
                         ids=["another host", "a name without a start time"])
def test_a_holder_that_cannot_be_checked_is_broken_only_past_its_age(client, holder):
    leave_mutex(client, "publish", holder)
    with pytest.raises(LockTimeout):
        with warehouse_mutex(client, DATABASE, "publish", stale_after_seconds=3600, timeout=1.0):
            pytest.fail("broke a mutex younger than its age limit whose holder it cannot check")
    said = []
    with warehouse_mutex(client, DATABASE, "publish", stale_after_seconds=0, timeout=10, report=said.append):
        pass
    assert said and "cannot be checked" in said[0]


def test_without_proc_a_pid_is_checked_by_signal(client, other_process, monkeypatch, tmp_path):
    """macOS has no /proc, and ``hidepid`` hides other users' processes: a live holder must not
    read as ended. Its pid exists, its start time is unknown: it is judged by age."""
    child, tag = other_process
    monkeypatch.setattr(locks, "PROC", tmp_path / "no-proc")
    leave_mutex(client, "commit", tag)
    with pytest.raises(LockTimeout):
        with warehouse_mutex(client, DATABASE, "commit", stale_after_seconds=3600, timeout=1.0):
            pytest.fail("broke a live holder's mutex because /proc did not show it")
    child.kill()
    child.wait()
    said = []
    with warehouse_mutex(client, DATABASE, "commit", timeout=10, report=said.append):
        pass
    assert said and "has ended" in said[0]


def test_waiters_on_a_dead_holder_take_the_mutex_one_at_a_time(client, dsn):
    """Two waiters that saw the same dead holder: the second must not break the first's new mutex."""
    child = subprocess.run([sys.executable, "-c", "from pepy_warehouse.locks import holder_tag; print(holder_tag())"],
                           capture_output=True, text=True, check=True)
    leave_mutex(client, "commit", child.stdout.strip())
    spans, errors = [], []

    def take():
        try:
            with connected(dsn) as own:
                for _ in range(3):
                    with warehouse_mutex(own, DATABASE, "commit", timeout=60, report=lambda _: None):
                        entered = time.monotonic()
                        time.sleep(0.3)
                        spans.append((entered, time.monotonic()))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=take) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and len(spans) == 9
    spans.sort()
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), "two holders at once"


class PausesBeforeItsDrop:
    """A holder's client that stops between its release's check and its drop of the mutex table,
    until told to go on: the window in which a waiter of the same process once took the mutex."""

    def __init__(self, client, name: str) -> None:
        self._client = client
        self._drop = f"DROP TABLE IF EXISTS {DATABASE}._mutex_{name}"
        self.paused = threading.Event()
        self.go_on = threading.Event()

    def query(self, *args, **kwargs):
        return self._client.query(*args, **kwargs)

    def command(self, sql: str, *args, **kwargs):
        if sql == self._drop:
            self.paused.set()
            self.go_on.wait(30)
        return self._client.command(sql, *args, **kwargs)


def test_a_waiter_of_the_same_process_waits_for_a_release_until_its_drop_is_done(client, dsn):
    """A release checked the mutex was still its own, then dropped it. A waiter of the same
    process that looked in between took it for one this process had leaked and broke it; another
    holder then created its own, which the release's drop removed: two holders at once."""
    holder = PausesBeforeItsDrop(client, "commit")
    said, entered, released = [], [], []

    def hold():
        with warehouse_mutex(holder, DATABASE, "commit", timeout=10, report=said.append):
            pass
        released.append(time.monotonic())

    def wait():
        with connected(dsn) as own:
            with warehouse_mutex(own, DATABASE, "commit", timeout=30, report=said.append):
                entered.append(time.monotonic())

    releasing = threading.Thread(target=hold)
    releasing.start()
    assert holder.paused.wait(10), "the release never reached its drop"
    waiting = threading.Thread(target=wait)
    waiting.start()
    time.sleep(1.5)  # the waiter looks every 0.1 s: ~15 looks at the mutex while the drop is pending
    in_the_window = list(entered)
    holder.go_on.set()
    releasing.join(30)
    waiting.join(30)
    assert not in_the_window, f"a waiter took the mutex while its holder's release was still to drop it: {said}"
    assert not any("broke" in line or "was broken" in line for line in said), said
    assert entered and released and entered[0] >= released[0] - 0.5
    assert not mutex_exists(client, "commit")
