"""Readers that keep a current :class:`Snapshot` and run queries against it.

* :class:`FrozenGenerationReader` (embedded chDB): the pipeline's directory is locked by whichever
  Dagster run writes it, so this process runs its own chDB engine and attaches the frozen
  generation the pipeline published, read-only; a new generation is swapped in without a restart.
* :class:`ServerReader` (ClickHouse server): queries the live tables, which the pipeline changes
  atomically, and notices new data by polling a cheap fingerprint.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from pathlib import Path

import clickhouse_connect

from pepy_api.engine_dirs import new_engine_dir
from pepy_api.store.snapshot import TOTALS_COLUMNS, Snapshot, build_snapshot
from pepy_pipeline.warehouse.connection import embedded_path, is_embedded, open_client
from pepy_pipeline.warehouse.serving import MANIFEST_DIR, POINTER_NAME, current_generation
from pepy_pipeline.warehouse.sql_files import identifier

log = logging.getLogger("pepy_api")
EMPTY = Snapshot(token="empty", database=None, last_complete_day=None)


class NoDataError(RuntimeError):
    """Nothing has been published yet: the API answers 503 until the first load."""


class Reader:
    """Shared behaviour: a lock around the engine, periodic refresh, query helpers."""

    def __init__(self, refresh_seconds: float) -> None:
        self._lock = threading.RLock()
        self._refresh_seconds = refresh_seconds
        self._snapshot = EMPTY
        self._client = None
        self._refresher: threading.Thread | None = None
        self._stopping = threading.Event()

    def snapshot(self) -> Snapshot:
        """The current snapshot (a background thread swaps in new data)."""
        return self._snapshot

    def start_refreshing(self) -> None:
        """Look for new data every ``refresh_seconds`` in a daemon thread, off the event loop."""
        if self._refresher is None:
            self._refresher = threading.Thread(target=self._refresh_loop, name="pepy-refresh", daemon=True)
            self._refresher.start()

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(self._refresh_seconds):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - keep serving the previous data
                log.exception("could not refresh the served data; keeping the previous version")

    def query(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        """Run ``sql`` with ``__DB__`` naming the database of the data being served now.

        Resolved under the lock, so a query never reaches a generation that was just detached.
        """
        with self._lock:
            if self._snapshot.database is None:
                raise NoDataError("no data has been loaded yet")
            sql = sql.replace("__DB__", self._snapshot.database)
            return self._client.query(sql, parameters=parameters or {}).result_rows

    def refresh(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stopping.set()
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _load_totals(self, token: str, database: str) -> Snapshot:
        rows = self._client.query(f"SELECT {TOTALS_COLUMNS} FROM {identifier(database)}.project_totals").result_rows
        return build_snapshot(token, database, rows)


class FrozenGenerationReader(Reader):
    """Attaches the pipeline's frozen generations into a private chDB engine."""

    def __init__(self, warehouse_dir: Path, refresh_seconds: float = 1.0) -> None:
        super().__init__(refresh_seconds)
        self._warehouse_dir = warehouse_dir
        self._pointer = warehouse_dir / MANIFEST_DIR / POINTER_NAME
        self._pointer_seen: tuple | None = None
        self._engine_dir = new_engine_dir()  # removes dead processes' leftover engine directories
        config = self._engine_dir / "config.xml"
        # The engine may read disks under the warehouse directory (where frozen parts live).
        config.write_text(
            "<clickhouse><custom_local_disks_base_directory>"
            f"{warehouse_dir}/</custom_local_disks_base_directory></clickhouse>"
        )
        self._client = clickhouse_connect.get_client(
            interface="chdb", path=str(self._engine_dir / "data"), chdb_options={"config-file": str(config)}
        )
        self._attached: str | None = None
        self.refresh()

    def refresh(self) -> None:
        try:
            stat = self._pointer.stat()
        except FileNotFoundError:
            return
        seen = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        if seen == self._pointer_seen:
            return
        manifest = current_generation(self._warehouse_dir)
        if manifest is None or manifest["generation"] == self._snapshot.token:
            self._pointer_seen = seen
            return
        with self._lock:
            self._swap(manifest)
        self._pointer_seen = seen

    def _swap(self, manifest: dict) -> None:
        """Detach the old generation and attach the new one, under the query lock.

        Generations share table UUIDs, so the old one must go first; requests wait for the
        lock (tens of milliseconds) instead of failing.
        """
        name = manifest["generation"]
        database = "gen_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
        started = time.perf_counter()
        if self._attached:
            self._client.command(f"DROP DATABASE IF EXISTS {self._attached} SYNC")
            self._attached = None
        self._client.command(f"CREATE DATABASE {database}")
        shadow = manifest["shadow_path"]
        for table, info in manifest["tables"].items():
            columns = ", ".join(f"`{col}` {typ}" for col, typ in info["columns"])
            engine = info["engine"]
            disk = f"disk = disk(readonly = true, type = 'local', path = '{shadow}')"
            settings = f"{engine}, {disk}" if " SETTINGS " in engine else f"{engine} SETTINGS {disk}"
            self._client.command(
                f"ATTACH TABLE {database}.{identifier(table)} UUID '{info['uuid']}' ({columns}) ENGINE = {settings}"
            )
        self._attached = database
        self._snapshot = self._load_totals(name, database)
        log.info("serving generation %s (data to %s) after %.0f ms", name,
                 self._snapshot.last_complete_day, (time.perf_counter() - started) * 1000)

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._engine_dir, ignore_errors=True)


class ServerReader(Reader):
    """Reads the live serving tables of a ClickHouse server."""

    def __init__(self, dsn: str, database: str, refresh_seconds: float = 5.0) -> None:
        super().__init__(refresh_seconds)
        self._database = identifier(database)
        self._client = open_client(dsn, autogenerate_session_id=False)
        self.refresh()

    def refresh(self) -> None:
        with self._lock:
            rows = self._client.query(
                f"SELECT toString(max(as_of)), count(), sum(total_downloads) FROM {self._database}.project_totals"
            ).result_rows
            token = "-".join(str(v) for v in rows[0])
            if token != self._snapshot.token and rows[0][1]:
                self._snapshot = self._load_totals(token, self._database)


def open_reader(dsn: str, database: str, refresh_seconds: float) -> Reader:
    if is_embedded(dsn):
        return FrozenGenerationReader(embedded_path(dsn), refresh_seconds)
    return ServerReader(dsn, database, max(refresh_seconds, 5.0))
