"""Experiment: does a part's format make it cheaper to open? (Compact parts and small granules
save ~7-8% of a 180-day question; not built: docs/benchmarks.md, tenth pass.)

    .venv/bin/python benchmarks/bench_part_format.py --warehouse /work/bench-data/real \
        [--tables project_daily,project_dimension_daily] [--formats served,wide,compact,g1024b8k] \
        [--since 2026-06-01] [--rounds 3] [--engine DIR]

Each part a question opens costs ~0.5-0.65 ms whatever it holds (fifth and tenth passes), and
smaller granules alone did not lower it (``bench_granules.py``). This copies the served tables'
rows since ``--since``, with the served codecs, into one table per format in an engine of its own
(kept: a re-run reuses the copies), every partition merged to one part like compaction leaves a
closed month: ``wide`` (as served), ``compact`` (every column in one file:
``min_bytes_for_wide_part`` / ``min_rows_for_wide_part`` out of reach), ``g1024b8k`` (1,024-row
granules, 8-64 KiB compression blocks); ``served`` asks the generation's table itself. Then it
asks the API's 30- and 180-day questions about the 20 largest and 60 Zipf-drawn projects, the
variants back to back in random order with the API's query settings, answers checked equal.
Prints p50/p90/p99 per variant, the engine's counters for one question, and each copy's size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.copies import QUESTIONS, attach_current, copy_table, sample_projects, time_copies  # noqa: E402
from pepy_api.store.reader import QUERY_SETTINGS  # noqa: E402

#: Variant name -> table settings added ("served": the generation's own table, for reference).
FORMATS = {
    "served": "",
    "wide": "",
    "compact": ", min_bytes_for_wide_part = 1000000000000000, min_rows_for_wide_part = 1000000000000000",
    "g1024b8k": ", index_granularity = 1024, min_compress_block_size = 8192, max_compress_block_size = 65536",
}
#: The served tables' codecs by column type (migration 005). An attached generation's DDL names
#: none (each compressed block records its own), and a copy without them would be LZ4.
CODECS = {" Date": " Date CODEC(Delta, ZSTD(3))", " Int64": " Int64 CODEC(T64, ZSTD(3))",
          " String": " String CODEC(ZSTD(3))"}


def with_served_codecs(ddl: str) -> str:
    lines = []
    for line in ddl.splitlines():
        stripped = line.rstrip(",")
        for kind, coded in CODECS.items():
            if line.lstrip().startswith("`") and stripped.endswith(kind):
                line = stripped.removesuffix(kind) + coded + ("," if line.endswith(",") else "")
                break
        lines.append(line)
    return "\n".join(lines)
COUNTERS = ("SelectedParts", "SelectedMarks", "SelectedRows", "FileOpen", "ReadBufferFromFileDescriptorReadBytes",
            "CompressedReadBufferBlocks", "OpenedFileCacheMisses", "OpenedFileCacheHits")


def build(client, table: str, part_format: str, since: dt.date) -> str:
    """exp.<table>_<format>: the generation's rows of ``table`` since ``since`` with the served
    codecs, built once (``served``: the generation's table itself)."""
    if part_format == "served":
        return f"gen.{table}"
    # The engine takes the last of a repeated setting: a variant's granule size wins.
    return copy_table(client, table, f"exp.{table}_{part_format}", "index_granularity = 8192" + FORMATS[part_format],
                      since, with_served_codecs)


def events(client) -> dict:
    rows = client.query("SELECT event, value FROM system.events WHERE event IN {names:Array(String)}",
                        parameters={"names": list(COUNTERS)}).result_rows
    return dict(rows)


def counters(client, question: str, parameters: dict) -> dict:
    """The engine's counters for one question: system.events before and after (no query log here)."""
    before = events(client)
    client.query(question, parameters=parameters, settings=QUERY_SETTINGS)
    after = events(client)
    return {name: after.get(name, 0) - before.get(name, 0) for name in COUNTERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--tables", default="project_daily,project_dimension_daily")
    parser.add_argument("--since", type=dt.date.fromisoformat, default=dt.date(2026, 6, 1))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", type=Path, help="the experiment's engine (default: <warehouse>/exp-format)")
    args = parser.parse_args()
    client = attach_current(args.engine or args.warehouse / "exp-format", args.warehouse)
    tables = {table: [build(client, table, f, args.since) for f in args.formats.split(",")]
              for table in args.tables.split(",")}
    projects, last = sample_projects(client, args.seed)
    for days in (30, 180):
        time_copies(client, tables, projects, last, days, args.rounds)
        # What the engine did for one mid-sized project's question, per variant.
        parameters = {"project": projects[30], "s": last - dt.timedelta(days=days - 1), "e": last}
        for table, copies in tables.items():
            for name in copies:
                print(f"{days:3d} days {name:40s} "
                      f"{counters(client, QUESTIONS[table].format(table=name), parameters)}", flush=True)
    for table, copies in tables.items():
        for name in copies:
            database, _, short = name.partition(".")
            size = client.query(
                "SELECT count(), sum(rows), formatReadableSize(sum(bytes_on_disk)), any(part_type) "
                "FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active "
                "AND (database = 'exp' OR partition >= {since:String})",
                parameters={"d": database, "t": short, "since": args.since.strftime("%Y%m")}).result_rows[0]
            print(f"{name}: {size[0]} parts, {size[1]:,} rows, {size[2]} on disk, {size[3]} parts")


if __name__ == "__main__":
    main()
