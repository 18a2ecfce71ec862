"""The disk that superseded serving copies (server mode) and frozen generations (embedded) hold
beyond the live tables, through one day as the pipeline runs it.

    .venv/bin/python benchmarks/bench_kept_copy_disk.py --warehouse /work/bench-data/real --day 2026-12-09

A copy or a generation is hard links to the live parts it was made from. Once the live tables
merge those parts away (every commit's open-month rewrite, a month's compaction), the links keep
the old parts on disk until the copy is dropped (``drop_old_copies``: superseded more than 10
minutes ago, at a publish) or the generation removed. This script publishes a server copy (A),
loads ``--day`` at the real scale as a run does (commit, publish copy B1, compact, publish copy
B2), then counts, for every copy and every frozen generation, the bytes of the files only it holds:
inodes that no active part of the live tables and no newer copy links. That is what dropping it
would free. Leaves the warehouse with the day loaded and only the newest copy; embedded
generations as the pipeline left them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pepy_pipeline.sources.sample import SampleSource  # noqa: E402
from pepy_pipeline.warehouse.compaction import compact_months  # noqa: E402
from pepy_pipeline.warehouse.day_load import load_day  # noqa: E402
from pepy_pipeline.warehouse.migrations import migrate  # noqa: E402
from pepy_pipeline.warehouse.publish import publish  # noqa: E402
from pepy_warehouse.connection import connected  # noqa: E402
from pepy_warehouse.generation import SERVED_TABLES  # noqa: E402
from pepy_warehouse.identifiers import identifier  # noqa: E402
from pepy_warehouse.server_generation import drop_old_copies  # noqa: E402


def part_dirs(client, database: str) -> list[Path]:
    return [Path(path) for (path,) in client.query(
        "SELECT path FROM system.parts WHERE database = {db:String} AND active AND table IN {t:Array(String)}",
        parameters={"db": database, "t": list(SERVED_TABLES)}).result_rows]


def inodes(directories) -> dict[int, int]:
    """inode -> size of every file under ``directories``."""
    found = {}
    for directory in directories:
        for root, _, files in os.walk(directory):
            for name in files:
                stat = os.stat(os.path.join(root, name))
                found[stat.st_ino] = stat.st_size
    return found


def copies(client, database: str) -> list[str]:
    return [name for (name,) in client.query(
        f"SELECT serving_database FROM {identifier(database)}.publish_log WHERE serving_database != '' "
        "AND serving_database IN (SELECT name FROM system.databases) ORDER BY published_at").result_rows]


def report(client, database: str, data: Path, label: str) -> None:
    live = inodes(part_dirs(client, database))
    held = copies(client, database)
    newest = inodes(part_dirs(client, held[-1])) if held else {}
    print(f"\n{label}: live served tables {sum(live.values()) / 2**30:.2f} GiB")
    print("| holder | files | GiB linked | GiB only it holds (beyond live tables and newest copy) |")
    print("| --- | ---: | ---: | ---: |")
    beyond: dict[int, int] = {}  # every file a kept copy or generation holds beyond the live tables
    for name in held:
        files = inodes(part_dirs(client, name))
        only = {inode: size for inode, size in files.items()
                if inode not in live and (name == held[-1] or inode not in newest)}
        beyond.update(only)
        print(f"| copy {name}{' (newest)' if name == held[-1] else ''} | {len(files):,} | "
              f"{sum(files.values()) / 2**30:.2f} | {sum(only.values()) / 2**30:.3f} |")
    shadow = data / "shadow"
    for generation in sorted(p for p in shadow.iterdir() if p.is_dir()) if shadow.exists() else []:
        files = inodes([generation])
        only = {inode: size for inode, size in files.items() if inode not in live}
        beyond.update(only)
        print(f"| generation {generation.name} | {len(files):,} | {sum(files.values()) / 2**30:.2f} | "
              f"{sum(only.values()) / 2**30:.3f} |")
    print(f"| **all of them together** (each file once) | {len(beyond):,} | | **{sum(beyond.values()) / 2**30:.3f}** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--day", required=True, help="a day to load (not loaded yet)")
    parser.add_argument("--scale", default="real", help="the sample source's scale (small: a quick try)")
    args = parser.parse_args()
    data, db, day = args.warehouse / "warehouse", args.database, dt.date.fromisoformat(args.day)
    with connected(f"chdb://{data}") as client:
        migrate(client, db)
        started = time.perf_counter()
        publish(client, db, None)
        print(f"copy A published in {time.perf_counter() - started:.1f} s")
        report(client, db, data, "before the day")
        started = time.perf_counter()
        loaded = load_day(client, db, SampleSource(scale=args.scale), day, run_id="bench-kept-copy-disk")
        print(f"\n{day}: {loaded.rows:,} fact rows committed in {time.perf_counter() - started:.1f} s")
        steps = []
        for name, action in (("publish (copy B1)", lambda: publish(client, db, None)),
                             ("compaction", lambda: compact_months(client, db)),
                             ("publish (copy B2)", lambda: publish(client, db, None))):
            started = time.perf_counter()
            result = action()
            steps.append(f"{name} {time.perf_counter() - started:.1f} s")
            if name == "compaction":
                steps[-1] += " (" + ", ".join(f"{c.table} {c.month}: {c.parts_before} parts" for c in result) + ")"
        print("; ".join(steps))
        report(client, db, data, "after the day's run (copies superseded less than 10 minutes ago are kept)")
        dropped = drop_old_copies(client, db, grace_seconds=0)
        print(f"\ndropped {len(dropped)} superseded copies")
        report(client, db, data, "after dropping them")


if __name__ == "__main__":
    main()
