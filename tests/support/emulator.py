"""The local BigQuery emulator (local-bigquery on DuckDB), installed reproducibly into its own
Python 3.13 virtual environment from tests/emulator/requirements.lock and run as a subprocess."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.processes import ROOT, free_port, start, stop, wait_http

LOCK = ROOT / "tests/emulator/requirements.lock"
VENV = ROOT / ".pepy/emulator-venv"
EXTENSIONS = ("ducklake", "icu", "spatial")


class EmulatorUnavailable(RuntimeError):
    """Says exactly what is missing for the emulator tier."""


def find_python313() -> str:
    candidates = [os.environ.get("PEPY_EMULATOR_PYTHON", ""), shutil.which("python3.13") or "",
                  str(Path.home() / ".pyenv/versions/3.13.0/bin/python3.13")]
    candidates += [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            probe = subprocess.run([candidate, "-c", "import sys, venv; print(sys.version_info[:2])"],
                                   capture_output=True, text=True)
            if probe.returncode == 0 and "(3, 13)" in probe.stdout:
                return candidate
    raise EmulatorUnavailable(
        "the BigQuery emulator tier needs Python 3.13 (local-bigquery 0.3.2 requires it): none found as "
        "python3.13, in ~/.pyenv/versions/3.13*, or in $PEPY_EMULATOR_PYTHON"
    )


def ensure_installed() -> Path:
    """The emulator venv's python, installing it from the lock file when the lock changed."""
    python = VENV / "bin/python"
    stamp = VENV / ".lock-sha256"
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    base = find_python313()
    shutil.rmtree(VENV, ignore_errors=True)
    steps = [
        [base, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes",
         "-r", str(LOCK)],
        # Load each extension once from its PyPI package, so DuckDB never downloads it.
        [str(python), "-c", "import duckdb_extensions as d; [d.import_extension(n) for n in %r]" % (EXTENSIONS,)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            raise EmulatorUnavailable(f"installing the BigQuery emulator failed at {' '.join(step[:4])}: "
                                      f"{(done.stderr or done.stdout)[-1500:]}")
    stamp.write_text(digest)
    return python


class Emulator:
    """A running emulator: REST on ``api_endpoint``, Storage Read gRPC on ``storage_endpoint``."""

    def __init__(self, workdir: Path) -> None:
        python = ensure_installed()
        rest, grpc = free_port(), free_port()
        log = workdir / "emulator.log"
        self.process = start([str(python.parent / "local-bigquery"), "serve", "--host", "127.0.0.1",
                              "--port", str(rest), "--grpc-port", str(grpc), "--project", "pepy-test",
                              "--data-dir", str(workdir / "emulator-data")], {}, log)
        self.api_endpoint = f"http://127.0.0.1:{rest}"
        self.storage_endpoint = f"127.0.0.1:{grpc}"
        self.log = log
        try:
            wait_http(f"{self.api_endpoint}/bigquery/v2/projects/pepy-test/datasets", self.process, log, timeout=60)
        except Exception:
            stop(self.process)
            raise

    def stop(self) -> None:
        stop(self.process)
