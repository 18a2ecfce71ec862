"""Starting and stopping the real servers tests talk to (uvicorn, dagster), by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _restore_signals() -> None:
    # Background shells here may hand children ignored SIGINT/SIGTERM; servers must stop on them.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setsid()


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = open(log, "wb")
    return subprocess.Popen(args, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                            cwd=ROOT, preexec_fn=_restore_signals)


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(5)


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout}s:\n{log.read_text()[-3000:]}")


def start_api(home: Path, log: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {"PEPY_HOME": str(home), "PEPY_REFRESH_SECONDS": "0.5", **(extra_env or {})}
    process = start([str(VENV_BIN / "python"), "-m", "pepy_api", "--port", str(port), "--log-level", "warning"],
                    env, log)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/health-check", process, log)
    return process, base


def run_cli(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "python"), "-m", "pepy_pipeline", *args], env={**os.environ, **env},
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def unused_pid() -> int:
    """A pid no process can have (above the kernel's ``pid_max``): a process that has just exited
    would do too, but its pid may be reused at once."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
