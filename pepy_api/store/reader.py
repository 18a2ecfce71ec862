"""Readers that keep a current :class:`Snapshot` and run queries against it.

* :class:`FrozenGenerationReader` (embedded chDB): the pipeline's directory belongs to whichever
  run writes it, so this process runs its own chDB engine and attaches the frozen generation the
  pipeline published (``pepy_warehouse.generation``), read-only. A new generation is attached
  BESIDE the served one, validated against its manifest, its marks and indexes loaded, its totals
  read, and only then swapped in by replacing one reference; the old one is detached after a
  grace period. A generation that fails validation is refused and the previous one stays.
* :class:`ServerReader` (ClickHouse server): notices a new publish by polling ``publish_log`` and
  reads the copy of the served tables that publish made on the server, checked against the row
  counts it recorded (``pepy_warehouse.server_generation``): days committed since are not shown.

Queries take a client from a small pool: reads never serialise on one lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import re
import shutil
import threading
import time
from pathlib import Path

import clickhouse_connect
import pyarrow as pa

from pepy_api.store.memory import release_unused_memory
from pepy_api.store.snapshot import Snapshot, build_snapshot, names_array
from pepy_api.store.warmup import warm_up_generation
from pepy_warehouse.connection import embedded_path, is_embedded, open_client
from pepy_warehouse.generation import (
    GenerationError,
    attach_generation,
    current_manifest,
    detach_generation,
    hold_generation,
    pointer_path,
    read_totals,
    validate_attached,
)
from pepy_warehouse.identifiers import database_name, identifier
from pepy_warehouse.publish_log import recent_publishes
from pepy_warehouse.server_generation import manifest_of, validate_copy
from pepy_warehouse.totals import query_totals
from pepy_api.engine_dirs import new_engine_dir

log = logging.getLogger("pepy_api")
EMPTY = Snapshot(token="empty", database=None, last_complete_day=None)
#: Clients in the query pool (concurrent engine reads).
POOL_SIZE = 8
#: A replaced generation stays attached this long for requests that started on it.
RETIRE_AFTER_SECONDS = 30.0
#: How often freed memory is given back to the system (and after every swap and detach).
RELEASE_MEMORY_EVERY_SECONDS = 30.0
#: The embedded engine attaches and warms up a new generation (and reads its totals, for a
#: generation without a totals file) on one thread at nice 10 (the engine sets it only where it may
#: restore it: with CAP_SYS_NICE), leaving the cores to requests. An attach so run took 1.6x as
#: long, and the requests beside it 22-29% less time at p50 and p90 than beside a plain one
#: (docs/benchmarks.md, fourteenth pass).
BACKGROUND_SETTINGS = {"max_threads": 1, "os_thread_priority": 10}
#: The embedded engine runs every API query interpreted. It compiles an expression it has seen a
#: few times (JIT, LLVM); an API query takes milliseconds, and the compile it triggers now and then
#: took 50-60 ms (measured at real size: a 180-day dimension query's max 155 -> 34 ms, daily sums'
#: 67 -> 14 ms, medians unchanged). Not sent to a server, whose read-only user may not change
#: settings: set them in that user's profile there.
#: ``use_statistics`` off too: our tables define no column statistics, yet the planner looked for
#: them in every part of the table on every query (2.7-4.2 ms of a 180-day dimension query at real
#: size; p50 14.7 -> 12.5 ms, measured interleaved).
#: ``query_plan_enable_optimizations`` off: the planner's optimisation passes cost more than they
#: save on questions this small (one project, a granule or two per part; the same parts and marks
#: are selected without them, a few more bytes are read without PREWHERE): p50 4-12% lower on every
#: question measured at real size, answers equal (benchmarks/bench_query_settings.py, ninth pass).
QUERY_SETTINGS = {"compile_expressions": 0, "compile_aggregate_expressions": 0, "compile_sort_description": 0,
                  "use_statistics": 0, "query_plan_enable_optimizations": 0}


class NoDataError(RuntimeError):
    """Nothing has been published yet: the API answers 503 until the first load."""


class Reader:
    """Shared behaviour: a client pool, periodic refresh, query helpers."""

    #: Settings of the totals read (a background read while requests are served).
    totals_settings: dict = {}
    #: Settings of every request's query.
    query_settings: dict = {}

    def __init__(self, refresh_seconds: float) -> None:
        self._refresh_seconds = refresh_seconds
        self._snapshot = EMPTY
        self._pool: queue.Queue = queue.Queue()
        self._clients: list = []
        self._refresh_lock = threading.Lock()
        self._refresher: threading.Thread | None = None
        self._stopping = threading.Event()

    def _fill_pool(self, make_client) -> None:
        for _ in range(POOL_SIZE):
            client = make_client()
            self._clients.append(client)
            self._pool.put(client)

    @contextlib.contextmanager
    def client(self):
        client = self._pool.get()
        try:
            yield client
        finally:
            self._pool.put(client)

    def snapshot(self) -> Snapshot:
        """The current snapshot (a background thread swaps in new data)."""
        return self._snapshot

    def start_refreshing(self) -> None:
        """Look for new data every ``refresh_seconds`` in a daemon thread, off the event loop."""
        if self._refresher is None:
            self._refresher = threading.Thread(target=self._refresh_loop, name="pepy-refresh", daemon=True)
            self._refresher.start()

    def _refresh_loop(self) -> None:
        released = time.monotonic()
        while not self._stopping.wait(self._refresh_seconds):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - keep serving the previous data
                log.exception("could not refresh the served data; keeping the previous version")
            if time.monotonic() - released >= RELEASE_MEMORY_EVERY_SECONDS:
                self.release_memory()
                released = time.monotonic()

    def release_memory(self) -> None:
        """Give back what the allocators kept after large reads (the embedded engine's too)."""
        release_unused_memory()

    def query(self, sql: str, parameters: dict | None = None, snapshot: Snapshot | None = None) -> list[tuple]:
        """Run ``sql`` with ``__DB__`` naming the database of ``snapshot`` (default: the current one)."""
        snap = snapshot or self._snapshot
        if snap.database is None:
            raise NoDataError("no data has been loaded yet")
        with self.client() as client:
            return client.query(sql.replace("__DB__", snap.database), parameters=parameters or {},
                                settings=self.query_settings).result_rows

    def refresh(self) -> None:
        with self._refresh_lock:
            self._refresh()

    def _refresh(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stopping.set()
        for client in self._clients:
            client.close()
        self._clients.clear()

    def _read_snapshot(self, token: str, database: str, first, last, published_at=None,
                       totals: pa.Table | None = None, first_loaded=None) -> Snapshot:
        """The snapshot of ``database``, from ``totals`` (the generation's own copy) if given,
        else from the totals query. A publish that did not record its first loaded day (from
        before it was recorded) gets it from the daily table: without it the all-history default
        left out the days before a gap (an upgrade probe), and each summary asked a sum more."""
        if totals is None or (first_loaded is None and last is not None):
            with self.client() as client:
                if totals is None:
                    totals = query_totals(client, database, self.totals_settings)
                if first_loaded is None and last is not None:
                    first_loaded = client.query(f"SELECT min(date) FROM {identifier(database)}.project_daily",
                                                settings=self.totals_settings).result_rows[0][0]
        columns = totals_columns(totals)
        return build_snapshot(token, database, columns, first, last, published_at, first_loaded)


def totals_columns(table: pa.Table) -> dict:
    """The totals query's Arrow result as the snapshot's columns: the names stay one Arrow array
    (no Python str per project: see pepy_api/store/snapshot.py), counts become int64 arrays. A
    server user that may not set clickhouse-connect's Arrow string setting receives the names as
    binary; they are decoded here rather than breaking every lookup."""
    return {"project": names_array(table.column(0)),
            **{f"c{i}": table.column(i).to_numpy() for i in range(1, table.num_columns)}}


def _day(value) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


class FrozenGenerationReader(Reader):
    """Attaches the pipeline's frozen generations into a private chDB engine."""

    totals_settings = BACKGROUND_SETTINGS
    query_settings = QUERY_SETTINGS

    def __init__(self, warehouse_dir: Path, refresh_seconds: float = 1.0, warm_up: bool = True) -> None:
        super().__init__(refresh_seconds)
        self._warehouse_dir = warehouse_dir
        #: Load each new generation's marks and primary indexes before serving it (off only to
        #: measure what it saves: benchmarks/bench_attach.py).
        self.warm_up = warm_up
        self._pointer = pointer_path(warehouse_dir)
        self._pointer_seen: tuple | None = None
        self._engine_dir = new_engine_dir()  # removes dead processes' leftover engine directories
        config = self._engine_dir / "config.xml"
        # The engine may read disks under its own directory, where each attached table's
        # directory is a symlink to the frozen parts in the warehouse.
        config.write_text("<clickhouse><custom_local_disks_base_directory>"
                          f"{self._engine_dir}/</custom_local_disks_base_directory></clickhouse>")
        self._fill_pool(lambda: clickhouse_connect.get_client(
            interface="chdb", path=str(self._engine_dir / "data"), chdb_options={"config-file": str(config)}))
        self._retiring: list[tuple[float, str]] = []
        #: Each attached generation's claim (hold_generation), released when it is detached: the
        #: pipeline never removes a generation this process still reads.
        self._holds: dict[str, object] = {}
        #: Generations refused, with when (monotonic) each may be tried again while it is the
        #: current one; and how many times each was refused.
        self.refused: dict[str, float] = {}
        self._refusals: dict[str, int] = {}
        self.refresh()

    #: A refused generation is validated again after this long, doubling at each refusal up to
    #: ``RETRY_REFUSED_MAX_SECONDS``: a transient error (a file not readable for a moment) must not
    #: leave the API a day behind, unalerted (found by a probe), and a generation broken for good
    #: must not cost an attach every minute all day (found in review).
    RETRY_REFUSED_SECONDS = 60.0
    RETRY_REFUSED_MAX_SECONDS = 1800.0

    def _refresh(self) -> None:
        self._detach_retired()
        try:
            stat = self._pointer.stat()
        except FileNotFoundError:
            return
        seen = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        now = time.monotonic()
        retry_due = any(now >= due for due in self.refused.values())
        if seen == self._pointer_seen and not retry_due:
            return
        manifest = current_manifest(self._warehouse_dir)
        name = manifest["generation"] if manifest is not None else None
        if name is None or name == self._snapshot.token or now < self.refused.get(name, -1e18):
            self._pointer_seen = seen
            if name is not None and retry_due and name not in self.refused:
                self.refused.clear()  # refused ones no longer current: never retried
            return
        self._attach(manifest)
        self._pointer_seen = seen

    def _attach(self, manifest: dict) -> None:
        name = manifest["generation"]
        database = "gen_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
        started = time.perf_counter()
        phases = {}  # milliseconds per step, for the log line an operator reads after a swap

        def lap(phase: str) -> None:
            phases[phase] = (time.perf_counter() - started) * 1000 - sum(phases.values())

        try:
            self._holds[database] = hold_generation(self._warehouse_dir, name)
            with self.client() as client:
                attach_generation(client, manifest, database, self._engine_dir / "links" / name,
                                  BACKGROUND_SETTINGS)
                validate_attached(client, manifest, database)
                lap("attach")
                if self.warm_up:
                    self._warm(client, name, database, manifest["tables"])
                lap("warm-up")
            snapshot = self._read_snapshot(name, database, _day(manifest.get("first_complete_day")),
                                           _day(manifest.get("last_complete_day")),
                                           dt.datetime.fromisoformat(manifest["created_at"]).timestamp(),
                                           totals=read_totals(manifest),
                                           first_loaded=_day(manifest.get("first_loaded_day")))
            lap("totals")
        except Exception as error:  # noqa: BLE001 - any failure: keep serving the previous generation
            refusals = self._refusals[name] = self._refusals.get(name, 0) + 1
            wait = min(self.RETRY_REFUSED_SECONDS * 2 ** (refusals - 1), self.RETRY_REFUSED_MAX_SECONDS)
            self.refused[name] = time.monotonic() + wait
            log.error("refused generation %s, still serving %s (tried again in %.0f s): %s", name,
                      self._snapshot.token, wait, error)
            with contextlib.suppress(Exception), self.client() as client:
                detach_generation(client, database)
            shutil.rmtree(self._engine_dir / "links" / name, ignore_errors=True)  # each try links it afresh
            self._release(database)
            if isinstance(error, GenerationError):
                return
            raise
        self.refused.pop(name, None)
        self._refusals.pop(name, None)
        previous = self._snapshot.database
        self._snapshot = snapshot
        if previous:
            self._retiring.append((time.monotonic(), previous))
        self.release_memory()  # the attach's working memory (and the totals query's, without a totals file)
        lap("release")
        log.info("serving generation %s (data to %s) after %.0f ms (%s)", name, snapshot.last_complete_day,
                 (time.perf_counter() - started) * 1000, ", ".join(f"{k} {v:.0f}" for k, v in phases.items()))

    def _warm(self, client, name: str, database: str, tables) -> None:
        """Load the generation's marks and indexes; on any failure serve it cold (the first
        requests load them), never refuse it: only reads gain from a warm-up."""
        try:
            warm_up_generation(client, database, tables, self.totals_settings)
        except Exception as error:  # noqa: BLE001
            log.warning("generation %s served without a warm-up: %s", name, error)

    def release_memory(self) -> None:
        releasing = time.perf_counter()
        with self.client() as client:
            release_unused_memory(client)
        log.debug("memory released in %.0f ms", (time.perf_counter() - releasing) * 1000)

    def _detach_retired(self, older_than: float = RETIRE_AFTER_SECONDS) -> None:
        now = time.monotonic()
        keep = []
        for retired_at, database in self._retiring:
            if now - retired_at < older_than:
                keep.append((retired_at, database))
                continue
            detaching = time.perf_counter()
            with self.client() as client:
                detach_generation(client, database)
            log.info("detached %s in %.0f ms", database, (time.perf_counter() - detaching) * 1000)
            shutil.rmtree(self._engine_dir / "links" / database.removeprefix("gen_"), ignore_errors=True)
            self._release(database)
        if len(keep) < len(self._retiring):
            self.release_memory()
        self._retiring = keep

    def _release(self, database: str) -> None:
        hold = self._holds.pop(database, None)
        if hold is not None:
            hold.close()

    def close(self) -> None:
        self._stopping.set()
        # An attach in progress finishes first (its hold is then released below), up to a bound.
        locked = self._refresh_lock.acquire(timeout=60)
        try:
            super().close()
            for database in list(self._holds):
                self._release(database)
        finally:
            if locked:
                self._refresh_lock.release()
        shutil.rmtree(self._engine_dir, ignore_errors=True)


class ServerReader(Reader):
    """Reads a ClickHouse server: the newest published copy of the served tables
    (``pepy_warehouse.server_generation``) whose row counts match what its publish recorded. A copy
    that does not match (or cannot be checked) is refused, checked again after
    ``RETRY_REFUSED_SECONDS``, and the newest earlier one that matches is read, or the current one
    kept; if the current one is gone and none matches, nothing is served (503) rather than errors.
    Publishes from before copies existed name none: the live tables are read then, but never in
    place of a refused copy."""

    #: Publishes looked back over for one whose copy validates.
    LOOK_BACK = 5
    #: A refused copy is validated again after this long (a transient error must not last a day).
    RETRY_REFUSED_SECONDS = 60.0

    def __init__(self, dsn: str, database: str, refresh_seconds: float = 5.0) -> None:
        super().__init__(refresh_seconds)
        self._database = database_name(database)
        self._refused: dict[str, float] = {}
        self._fill_pool(lambda: open_client(dsn, autogenerate_session_id=False))
        self.refresh()

    def _refresh(self) -> None:
        with self.client() as client:
            # Empty before the pipeline created its tables: no data (503) until it publishes.
            rows = recent_publishes(client, self._database, self.LOOK_BACK)
            copies = any(row[5] for row in rows)
            for token, first, last, published_at, generation, database, counts, first_loaded in rows:
                current = token == self._snapshot.token
                if current and (not database or self._exists(client, database)):
                    return  # nothing newer can be read
                if copies and not database:
                    continue  # live tables, in place of a copy: what copies exist to prevent
                if time.monotonic() - self._refused.get(token, -1e9) < self.RETRY_REFUSED_SECONDS:
                    continue
                if database:
                    try:
                        validate_copy(client, database, manifest_of(generation, counts))
                    except Exception as error:  # noqa: BLE001 - any failure to check refuses the copy
                        self._refused[token] = time.monotonic()
                        log.error("refused the copy published at %s (trying an earlier one): %s", token, error)
                        continue
                self._refused.pop(token, None)
                break
            else:
                served = self._snapshot.database
                if served not in (None, self._database) and not self._exists(client, served):
                    log.error("the served copy %s is gone and no published copy can be read: serving nothing", served)
                    self._snapshot = EMPTY
                return
        self._snapshot = self._read_snapshot(token, database or self._database, first, last, float(published_at),
                                             first_loaded=first_loaded)

    @staticmethod
    def _exists(client, database: str) -> bool:
        return bool(client.query("SELECT count() FROM system.databases WHERE name = {db:String}",
                                 parameters={"db": database}).result_rows[0][0])


def open_reader(dsn: str, database: str, refresh_seconds: float) -> Reader:
    if is_embedded(dsn):
        return FrozenGenerationReader(embedded_path(dsn), refresh_seconds)
    return ServerReader(dsn, database, max(refresh_seconds, 5.0))
