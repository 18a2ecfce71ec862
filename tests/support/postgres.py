"""A throw-away local PostgreSQL server (Debian's package; trust auth, 127.0.0.1 only): the
Dagster instance docker-compose runs on, in the tests, and pypistats' design, in the benchmark."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port


def postgres_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (``PEPY_PG_BIN``, else the newest Debian
    install, else the PATH's); None when PostgreSQL is not installed."""
    if os.environ.get("PEPY_PG_BIN"):
        return Path(os.environ["PEPY_PG_BIN"])
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    found = debian[-1] if debian else shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def scratch_directory() -> Path:
    """A new directory the server's user can reach (removed by the caller)."""
    path = Path(tempfile.mkdtemp(prefix="pepy-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres")
    return path


class Postgres:
    """A server over ``pgdata`` (created on first use, reused after), on a free port; ``options``
    are the server's ``-c`` settings. Run as root, the server runs as the ``postgres`` user, which
    must be able to reach ``pgdata`` (not under pytest's root-only ``tmp_path``: see
    :func:`scratch_directory`)."""

    def __init__(self, pgdata: Path, options: str = "") -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql), or set PEPY_PG_BIN")
        self.pgdata = pgdata
        self.options = options
        self.port = free_port()
        self.socket_dir = pgdata.parent / f"{pgdata.name}-socket"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses root
        done = subprocess.run([*prefix, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")

    def __enter__(self) -> Postgres:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.pgdata, "postgres")
            self._run(str(self.bin / "initdb"), "-D", str(self.pgdata), "--auth=trust", "-U", "postgres", "-E", "UTF8")
        if os.geteuid() == 0:
            shutil.chown(self.socket_dir, "postgres")
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 {self.options}"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-o", options, "-w", "-t", "120",
                  "-l", str(self.socket_dir / "postgres.log"), "start")
        return self

    def __exit__(self, *exc) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop")

    def connect(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True)
