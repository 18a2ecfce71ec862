"""The server-side mutex that keeps a day's commit, a publish and a migration apart: who may break it.

A holder on this host is checked by its pid and start time; only one on another host is judged by age.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from pepy_warehouse.locks import LockTimeout, holder_tag, warehouse_mutex
from tests.conftest import DATABASE


def leave_mutex(client, name: str, holder: str) -> None:
    """A mutex as a holder that never released it leaves it (killed mid-commit)."""
    client.command(f"CREATE TABLE {DATABASE}._mutex_{name} (holder String) ENGINE = Memory COMMENT '{holder}'")


def ended_process_tag() -> str:
    """The holder tag of a process that has ended, as it named itself while it ran."""
    child = subprocess.run([sys.executable, "-c", "from pepy_warehouse.locks import holder_tag; print(holder_tag())"],
                           capture_output=True, text=True, check=True)
    return child.stdout.strip()  # run() returned: the child has exited


def test_a_dead_holder_on_this_host_is_broken_at_once(client):
    leave_mutex(client, "commit", ended_process_tag())
    said = []
    started = time.monotonic()
    with warehouse_mutex(client, DATABASE, "commit", timeout=10, report=said.append):
        pass
    assert time.monotonic() - started < 5
    assert said and "has ended" in said[0]


def test_a_reused_pid_does_not_keep_a_dead_holder_alive(client):
    """A restarted container counts pids from 1 again: a new process may carry the dead holder's pid."""
    pid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        leave_mutex(client, "commit", f"{pid.pid}@{socket.gethostname()}#1")  # that pid, another start
        said = []
        with warehouse_mutex(client, DATABASE, "commit", timeout=10, report=said.append):
            pass
        assert said and "has ended" in said[0]
    finally:
        pid.kill()
        pid.wait()


def test_a_live_holder_on_this_host_is_waited_for_however_old(client):
    """Found in review: a holder past ``stale_after_seconds`` was broken even when it was alive
    (a real-size migration holds the commit mutex for minutes, and a future one may for longer)."""
    said = []
    with warehouse_mutex(client, DATABASE, "commit"):
        with pytest.raises(LockTimeout):
            with warehouse_mutex(client, DATABASE, "commit", stale_after_seconds=0, timeout=1.5, report=said.append):
                pytest.fail("took a mutex its live holder still held")
        assert said and "held by" in said[0] and holder_tag() in said[0]
    assert not client.query(f"EXISTS TABLE {DATABASE}._mutex_commit").result_rows[0][0]


def test_a_holder_on_another_host_is_broken_only_past_its_age(client):
    leave_mutex(client, "publish", "12345@some-other-host#999")
    with pytest.raises(LockTimeout):
        with warehouse_mutex(client, DATABASE, "publish", stale_after_seconds=3600, timeout=1.0):
            pytest.fail("broke a mutex held for less than its age by a host it cannot check")
    said = []
    with warehouse_mutex(client, DATABASE, "publish", stale_after_seconds=0, timeout=10, report=said.append):
        pass
    assert said and "another host" in said[0]
