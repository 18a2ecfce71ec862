"""The serving generation: the contract between the pipeline (which freezes and publishes one)
and the API (which attaches it read-only into its own chDB engine). Embedded mode; a server's
generation is a copy of the served tables on the server (``pepy_warehouse.server_generation``).

A generation is ``ALTER TABLE ... FREEZE WITH NAME`` of every served table (hard links to
immutable parts under ``<warehouse>/shadow/<generation>/store/<uuid[:3]>/<uuid>/``), a JSON
manifest (tables, columns, engines, UUIDs and ROW COUNTS), and a ``CURRENT`` pointer file
replaced atomically. The writer may keep inserting and merging; a frozen generation never changes.

The reader attaches each table under a fresh UUID through a symlink to its frozen directory, so
a new generation is attached beside the one being served (no shared UUIDs), validated against the
manifest's row counts, and only then swapped in; the old one is detached afterwards.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pepy_warehouse.identifiers import identifier
from pepy_warehouse.totals import TOTALS_FILE, TOTALS_VERSION, query_totals

#: What readers need: the rollups (daily and month-grain), the all-time sums, the opening balance,
#: recent sums, version days.
SERVED_TABLES = ("project_daily", "project_version_daily", "project_dimension_daily", "project_version_monthly",
                 "project_dimension_monthly", "project_alltime", "opening_balance", "project_recent",
                 "project_version_days")
POINTER_NAME = "CURRENT"
MANIFEST_DIR = "serving"
#: A part's directory: partition, first and last block, level (and a mutation, unused here).
_PART_NAME = re.compile(r"^([^_]+)_(\d+)_(\d+)_(\d+)(?:_\d+)?$")
#: Generations superseded longer ago than this, other than the current and previous one, are removed.
GRACE_SECONDS = 600


class GenerationError(RuntimeError):
    """A generation is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True)
class Generation:
    name: str
    manifest_path: Path
    manifest: dict


def new_generation_name() -> str:
    """A generation's name: the UTC second it was made (names order by it) and a random suffix."""
    return f"g{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{uuid.uuid4().hex[:6]}"


def freeze_generation(client, database: str, warehouse_dir: Path, facts: dict) -> Generation:
    """Freeze the served tables, write the manifest (with ``facts`` such as the complete days),
    then point ``CURRENT`` at it. A generation without a manifest is a killed publish's leftover."""
    db = identifier(database)
    name = new_generation_name()
    tables = {}
    for table in SERVED_TABLES:
        client.command(f"ALTER TABLE {db}.{table} FREEZE WITH NAME '{name}'")
        table_uuid, engine_full = client.query(
            "SELECT toString(uuid), engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": db, "t": table},
        ).result_rows[0]
        columns = client.query(
            "SELECT name, type, default_kind, default_expression FROM system.columns "
            "WHERE database = {db:String} AND table = {t:String} ORDER BY position",
            parameters={"db": db, "t": table},
        ).result_rows
        frozen = warehouse_dir / "shadow" / name / "store" / table_uuid[:3] / table_uuid
        _complete_table_skeleton(frozen, warehouse_dir / "store" / table_uuid[:3] / table_uuid)
        rows = frozen_rows(frozen)
        tables[table] = {"uuid": table_uuid, "engine": engine_full, "columns": [list(c) for c in columns],
                         "rows": rows}
    shadow = warehouse_dir / "shadow" / name
    manifest = {
        "generation": name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "shadow_path": str(shadow) + "/",
        "tables": tables,
        "totals": {"file": TOTALS_FILE, "rows": write_totals(client, db, shadow / TOTALS_FILE),
                   "query": TOTALS_VERSION},
        **facts,
    }
    directory = warehouse_dir / MANIFEST_DIR
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / f"{name}.json"
    _write_atomically(manifest_path, json.dumps(manifest, indent=2, default=str))
    point_at(warehouse_dir, name)
    remove_old_generations(warehouse_dir)
    return Generation(name, manifest_path, manifest)


def write_totals(client, database: str, path: Path) -> int:
    """Every project's totals over ``database`` as an Arrow file. The caller holds the ``publish``
    and ``commit`` mutexes, under which no writer changes the tables just frozen (merges keep
    their sums). Returns the rows written."""
    table = query_totals(client, database)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # Uncompressed: the API maps it and reads the arrays in place (file-backed pages, no copy).
    # LZ4 (30 MB instead of 67 at 720 k projects) cost the API a 67 MB copy and ~25 ms per swap,
    # and its swap rounds and RSS after them came out worse (docs/benchmarks.md, ninth pass).
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)
    return table.num_rows


def read_totals(manifest: dict) -> pa.Table | None:
    """The generation's totals, memory-mapped (None for a generation published before they were
    written, or by another version of the query: the reader then runs the query). Raises
    :class:`GenerationError` unless the file holds the rows its manifest says."""
    totals = manifest.get("totals")
    if totals is None or totals.get("query") != TOTALS_VERSION:  # before the file, or another query's
        return None
    path = Path(manifest["shadow_path"]) / totals["file"]
    try:
        with pa.memory_map(str(path)) as source:  # one thread: a swap is background work
            table = pa.ipc.open_file(source, options=pa.ipc.IpcReadOptions(use_threads=False)).read_all()
    except (OSError, pa.ArrowInvalid) as error:
        raise GenerationError(f"generation {manifest['generation']}: totals unreadable at {path}: {error}") from None
    if table.num_rows != totals["rows"]:
        raise GenerationError(f"generation {manifest['generation']} does not match its manifest: totals: "
                              f"{table.num_rows} rows in {path.name}, manifest says {totals['rows']}")
    return table


def _complete_table_skeleton(frozen: Path, live: Path) -> None:
    """Give a frozen table directory what an engine creates when it loads a table (``detached/``,
    ``format_version.txt``), so attaching it writes nothing into the generation."""
    if not frozen.is_dir():
        return  # an empty table froze nothing: the reader attaches it empty
    (frozen / "detached").mkdir(exist_ok=True)
    version = live / "format_version.txt"
    if version.exists() and not (frozen / version.name).exists():
        shutil.copyfile(version, frozen / version.name)


def frozen_rows(table_dir: Path) -> int:
    """Rows a reader attaching ``table_dir`` will see: each frozen part's ``count.txt``, except
    parts covered by another frozen part. A merge finishing during FREEZE leaves both its source
    parts and its result in the shadow (measured in the demo); attaching keeps only the result, so
    counting ``system.parts`` instead made the manifest disagree and the reader refuse it."""
    parts = {}
    for path in table_dir.glob("*/count.txt"):
        found = _PART_NAME.match(path.parent.name)
        if found:
            partition, first, last, level = found.groups()
            parts[path.parent.name] = (partition, int(first), int(last), int(level), int(path.read_text()))

    def covered(name, part) -> bool:
        return any(other[0] == part[0] and other[1] <= part[1] and part[2] <= other[2] and other[3] >= part[3]
                   and other[1:4] != part[1:4] for other in parts.values())

    return sum(part[4] for name, part in parts.items() if not covered(name, part))


def current_manifest(warehouse_dir: Path) -> dict | None:
    """The manifest ``CURRENT`` points at, or None before the first publish."""
    pointer = warehouse_dir / MANIFEST_DIR / POINTER_NAME
    try:
        name = pointer.read_text().strip()
        return json.loads((warehouse_dir / MANIFEST_DIR / f"{name}.json").read_text())
    except FileNotFoundError:
        return None


def pointer_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / MANIFEST_DIR / POINTER_NAME


def point_at(warehouse_dir: Path, name: str) -> None:
    """Point ``CURRENT`` at generation ``name`` in one rename: a reader sees the old or the new."""
    _write_atomically(pointer_path(warehouse_dir), name)


def attach_generation(client, manifest: dict, database: str, link_root: Path, settings: dict | None = None) -> None:
    """Attach every table of ``manifest`` read-only into ``database`` (created here), each under a
    fresh UUID whose directory under ``link_root`` is a symlink to the frozen one. ``settings``: the
    engine settings of each statement (a reader attaching beside requests lowers its priority)."""
    db = identifier(database)
    client.command(f"CREATE DATABASE {db}", settings=settings)
    shadow = Path(manifest["shadow_path"])
    for table, info in manifest["tables"].items():
        frozen = shadow / "store" / info["uuid"][:3] / info["uuid"]
        fresh = str(uuid.uuid4())
        link = link_root / "store" / fresh[:3] / fresh
        link.parent.mkdir(parents=True, exist_ok=True)
        if frozen.is_dir():
            os.symlink(frozen, link)
        elif info.get("rows") == 0:
            link.mkdir()  # an empty table freezes no part: attach it empty
        else:
            raise GenerationError(f"generation {manifest['generation']}: table {table} has no frozen data at {frozen}")
        columns = ", ".join(column_definition(*column) for column in info["columns"])
        engine = info["engine"]
        # table_readonly: no merges, mutations or part cleanup. A read-only disk alone did not
        # stop them: at real size this engine merged the attached parts (both cores busy while
        # idle) and wrote the result into the frozen generation.
        disk = f"disk = disk(readonly = true, type = 'local', path = '{link_root}/'), table_readonly = 1"
        engine_settings = f"{engine}, {disk}" if " SETTINGS " in engine else f"{engine} SETTINGS {disk}"
        client.command(f"ATTACH TABLE {db}.{identifier(table)} UUID '{fresh}' ({columns}) ENGINE = {engine_settings}",
                       settings=settings)


def column_definition(name: str, type_: str, kind: str = "", expression: str = "") -> str:
    """A column as written when attaching, its MATERIALIZED/DEFAULT/ALIAS expression included: a
    part frozen before a column was added has no file for it and computes it on read from that
    expression (attached as a plain column it would read as empty)."""
    return f"`{name}` {type_} {kind} {expression}" if kind and expression else f"`{name}` {type_}"


def validate_attached(client, manifest: dict, database: str) -> None:
    """Raise :class:`GenerationError` unless every attached table has the manifest's row count."""
    db = identifier(database)
    wrong = []
    for table, info in manifest["tables"].items():
        rows = int(client.query(f"SELECT count() FROM {db}.{identifier(table)}").result_rows[0][0])
        if "rows" not in info or rows != info["rows"]:
            wrong.append(f"{table}: {rows} rows attached, manifest says {info.get('rows')}")
    if wrong:
        raise GenerationError(f"generation {manifest['generation']} does not match its manifest: " + "; ".join(wrong))


def detach_generation(client, database: str) -> None:
    """Detach (never drop: the frozen files belong to the pipeline) and forget ``database``."""
    db = identifier(database)
    for (table,) in client.query("SELECT name FROM system.tables WHERE database = {db:String}",
                                 parameters={"db": db}).result_rows:
        client.command(f"DETACH TABLE {db}.{identifier(table)} SYNC")
    client.command(f"DROP DATABASE IF EXISTS {db} SYNC")


def hold_generation(warehouse_dir: Path, name: str):
    """A reader's claim on generation ``name``: a shared ``flock`` on its manifest, kept (the
    returned file open) for as long as the reader has it attached. :func:`remove_old_generations`
    never removes a generation someone holds, and the kernel drops the claim when the reader's
    process dies, so a crashed API never pins a generation for good. Raises
    :class:`GenerationError` if the generation is gone or being removed."""
    try:
        handle = open(warehouse_dir / MANIFEST_DIR / f"{name}.json", "rb")
    except FileNotFoundError:
        raise GenerationError(f"generation {name} was removed") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        if os.fstat(handle.fileno()).st_nlink == 0:  # removed between the open and the lock
            raise GenerationError(f"generation {name} was removed")
    except BlockingIOError:
        handle.close()
        raise GenerationError(f"generation {name} is being removed") from None
    except OSError as error:  # a filesystem without flock: refuse rather than read unprotected
        handle.close()
        raise GenerationError(f"generation {name} cannot be held: {error}") from None
    except GenerationError:
        handle.close()
        raise
    return handle


def _remove_unless_held(warehouse_dir: Path, manifest: Path) -> bool:
    """Remove one generation (frozen parts, then manifest) unless a reader holds it."""
    try:
        handle = open(manifest, "rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a reader has it attached: see hold_generation
        except OSError:  # no flock here: keep it (disk) rather than risk a reader's (answers)
            return False
        shutil.rmtree(warehouse_dir / "shadow" / manifest.stem, ignore_errors=True)
        manifest.unlink(missing_ok=True)
    return True


def remove_old_generations(warehouse_dir: Path, grace_seconds: float = GRACE_SECONDS) -> list[str]:
    """Delete generations that are neither current nor previous and were superseded more than the
    grace period ago, and frozen directories without a manifest (a killed publish) past the same
    grace.

    The grace counts from when a generation stopped being the newest (the next one's manifest was
    written), not from its creation: an API reads it a while after that (until it has attached
    the next one, then 30 s for requests in flight). Counted from creation, a generation served
    for hours was deleted by the second of two quick publishes while the API still read it (at
    real size: 684 requests failed with a missing part file in one round of three publishes,
    docs/benchmarks.md, eighth pass).

    Nor is a generation a reader holds (:func:`hold_generation`) ever removed: an API that refused
    the newer generations (validation failed) keeps serving an older one, however long ago it was
    superseded.

    Deleting ``shadow/<generation>`` is safe for the live tables: frozen parts are hard links.
    """
    directory = warehouse_dir / MANIFEST_DIR
    # Names embed the UTC second they were made: they order equal modification times.
    manifests = sorted(directory.glob("g*.json"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    keep = {p.stem for p in manifests[-2:]}
    pointer = directory / POINTER_NAME
    if pointer.exists():
        keep.add(pointer.read_text().strip())
    removed = []
    now = time.time()
    for path, successor in zip(manifests, manifests[1:]):
        if path.stem in keep or now - successor.stat().st_mtime < grace_seconds:
            continue
        if _remove_unless_held(warehouse_dir, path):
            removed.append(path.stem)
    known = {p.stem for p in directory.glob("g*.json")}
    shadow = warehouse_dir / "shadow"
    for frozen in shadow.glob("g*") if shadow.is_dir() else ():
        if frozen.name not in known and now - frozen.stat().st_mtime >= grace_seconds:
            shutil.rmtree(frozen, ignore_errors=True)
            removed.append(frozen.name)
    return removed


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
