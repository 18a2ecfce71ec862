"""What a server's publish adds by copying the served tables (``pepy_warehouse.server_generation``),
beside the embedded publish's FREEZE of the same parts, measured alternately in one run on one
engine (the ceiling: FREEZE is the hard-link step an embedded publish already pays).

    .venv/bin/python benchmarks/bench_server_copy.py --warehouse /work/bench-data/mid [--rounds 5]

Times, per round and in alternating order: the copy alone (``copy_generation``: CREATE TABLE AS,
background merges off, ATTACH PARTITION ... FROM per partition, rows counted; then dropped), a
FREEZE of every served table, and
a whole publish each way (``publish`` with and without the warehouse directory). Prints the active
parts and files the copy links. Drops its copies and frozen directories afterwards; the warehouse
keeps its data, and its ``CURRENT`` generation is an embedded publish's.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pepy_pipeline.warehouse.migrations import migrate  # noqa: E402
from pepy_pipeline.warehouse.publish import publish  # noqa: E402
from pepy_warehouse.connection import connected  # noqa: E402
from pepy_warehouse.generation import SERVED_TABLES, new_generation_name  # noqa: E402
from pepy_warehouse.server_generation import copy_generation, drop_old_copies  # noqa: E402


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = args.warehouse / "warehouse"
    db = args.database
    with connected(f"chdb://{data}") as client:
        migrate(client, db)
        paths = [path for t in SERVED_TABLES for path in _part_paths(client, db, t)]
        parts, links = len(paths), sum(1 for path in paths for _ in path.iterdir())
        partitions = client.query(
            "SELECT uniqExact(table, partition_id) FROM system.parts WHERE database = {db:String} AND active "
            "AND table IN {tables:Array(String)}", parameters={"db": db, "tables": list(SERVED_TABLES)}).result_rows[0][0]
        print(f"served tables: {partitions} partitions, {parts} active parts, {links} files in them")
        publish(client, db, data)  # warm both paths once
        publish(client, db, None)
        results: dict[str, list[float]] = {"copy": [], "freeze": [], "publish, server": [], "publish, embedded": []}

        def copy() -> None:
            name, _ = copy_generation(client, db, new_generation_name())
            client.command(f"DROP DATABASE {name} SYNC")

        def freeze() -> None:
            name = new_generation_name()
            for table in SERVED_TABLES:
                client.command(f"ALTER TABLE {db}.{table} FREEZE WITH NAME '{name}'")
            shutil.rmtree(data / "shadow" / name)

        steps = [("copy", copy), ("freeze", freeze), ("publish, server", lambda: publish(client, db, None)),
                 ("publish, embedded", lambda: publish(client, db, data))]
        for round_ in range(args.rounds):
            order = steps if round_ % 2 == 0 else steps[::-1]
            for name, action in order:
                results[name].append(timed(action))
        drop_old_copies(client, db, grace_seconds=0)
        publish(client, db, data)
    print("| step | seconds per round | median s |")
    print("| --- | --- | ---: |")
    for name, seconds in results.items():
        print(f"| {name} | {', '.join(f'{s:.2f}' for s in seconds)} | {statistics.median(seconds):.2f} |")


def _part_paths(client, db: str, table: str):
    for (path,) in client.query("SELECT path FROM system.parts WHERE database = {db:String} AND table = {t:String} "
                                "AND active", parameters={"db": db, "t": table}).result_rows:
        yield Path(path)


if __name__ == "__main__":
    main()
