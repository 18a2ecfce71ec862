"""What closed months kept by year (docs/benchmarks.md, tenth pass: "tiers with a watermark") save a
question, measured on copies of the served tables. The design was built, measured with this, and
not committed: see the eleventh pass.

    .venv/bin/python benchmarks/bench_tiers.py --warehouse /work/bench-data/real [--rounds 4]

In an engine of the experiment's own (``<warehouse>/exp-tiers``, copies kept between runs) with the
current generation attached as ``gen``, builds copies of ``project_daily`` and the month-grain
rollups up to the end of the last closed month (the watermark W), partitioned by year and merged
to one part a year, and a one-table variant of ``project_daily`` holding every month (``closed =
0``) and the closed months again by year (``closed = 1``). Then asks the API's questions about the
20 largest and 60 Zipf-drawn projects, every variant of a question back to back in random order
with the API's settings, answers checked equal:

* ``served``: the generation's monthly table (one part per month);
* ``union``: the copy up to W ``UNION ALL`` the monthly table after it (the design's reader SQL);
* ``union of served``: the monthly table read twice the same way (what the second read costs);
* ``copy only``: the copy up to W alone (what the copy's parts cost, without the newest month);
* ``one table``: the one-table variant read with one filter (``closed = 1 AND date <= W OR
  closed = 0 AND date > W``): the tiers without a second read.

The copies are built once and kept: after new days are loaded, delete ``<warehouse>/exp-tiers``
(a stale copy is refused before anything is timed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import percentile  # noqa: E402
from benchmarks.copies import attach_current, build_once, sample_projects  # noqa: E402
from pepy_api.store import queries  # noqa: E402
from pepy_api.store.reader import QUERY_SETTINGS  # noqa: E402
from pepy_pipeline.warehouse.compaction import CLOSED_AFTER_DAYS  # noqa: E402

COPIES = {"project_daily": "date", "project_version_monthly": "month", "project_dimension_monthly": "month"}
MEASURES = "downloads, downloads_without_mirrors, ci_downloads, pypistats_downloads, pypistats_without_mirrors"
DAYS = "project = {p:String} AND date BETWEEN {s:Date} AND {e:Date}"
DAILY = {
    "served": f"SELECT date, sum(downloads) FROM gen.project_daily WHERE {DAYS} GROUP BY date ORDER BY date",
    "union": "SELECT date, sum(n) FROM (SELECT date, downloads AS n FROM exp.project_daily_closed WHERE "
             f"{DAYS} AND date <= {{w:Date}} UNION ALL SELECT date, downloads AS n FROM gen.project_daily WHERE "
             f"{DAYS} AND date > {{w:Date}}) GROUP BY date ORDER BY date",
    "union of served": "SELECT date, sum(n) FROM (SELECT date, downloads AS n FROM gen.project_daily WHERE "
                       f"{DAYS} AND date <= {{w:Date}} UNION ALL SELECT date, downloads AS n FROM gen.project_daily "
                       f"WHERE {DAYS} AND date > {{w:Date}}) GROUP BY date ORDER BY date",
    "one table": f"SELECT date, sum(downloads) FROM exp.project_daily_flagged WHERE {DAYS} AND "
                 "((closed = 1 AND date <= {w:Date}) OR (closed = 0 AND date > {w:Date})) GROUP BY date ORDER BY date",
}
#: Not the same answer as the others (the newest month left out): timed, not compared.
COPY_ONLY = (f"SELECT date, sum(downloads) FROM exp.project_daily_closed WHERE {DAYS} AND date <= {{w:Date}} "
             "GROUP BY date ORDER BY date")


def replaced(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced, refusing if it is not there (a DDL formatted otherwise)."""
    if old not in text:
        raise ValueError(f"{old!r} not found in {text!r}")
    return text.replace(old, new, 1)


def build_copies(client, through: dt.date) -> None:
    """Each table's rows up to ``through``, partitioned by year."""
    for table, column in COPIES.items():
        served = client.query(f"SHOW CREATE TABLE gen.{table}").result_rows[0][0]
        ddl = replaced(replaced(served.split("SETTINGS")[0], f"gen.{table}", "{build}"),
                       f"PARTITION BY toYYYYMM({column})", f"PARTITION BY toYear({column})")
        build_once(client, f"exp.{table}_closed", [ddl, f"INSERT INTO {{build}} SELECT * FROM gen.{table} "
                                               f"WHERE {column} <= '{through}'"])


def build_one_table(client) -> None:
    """``project_daily`` with every month (``closed = 0``) and the copy's years (``closed = 1``).
    ``closed`` is not a key column, so the table would sum it if two rows of one (project, date)
    folded: none do, each tier's rows are unique and the tiers are in different partitions."""
    columns = f"date, project, {MEASURES}"
    build_once(client, "exp.project_daily_flagged", [
        "CREATE TABLE {build} (date Date CODEC(Delta(2), ZSTD(3)), project String CODEC(ZSTD(3)), closed UInt8, "
        + ", ".join(f"{m} Int64 CODEC(T64, ZSTD(3))" for m in MEASURES.split(", "))
        + ") ENGINE = SummingMergeTree PARTITION BY if(closed = 1, toYear(date), toYYYYMM(date)) ORDER BY (project, date)",
        f"INSERT INTO {{build}} ({columns}, closed) SELECT {columns}, 0 FROM gen.project_daily",
        f"INSERT INTO {{build}} ({columns}, closed) SELECT {columns}, 1 FROM exp.project_daily_closed"])


def refuse_stale_copies(client, through: dt.date) -> None:
    """Kept copies must hold the current generation's rows up to ``through``: a copy built before
    new days were loaded would time other data. Compared by rows, downloads and newest day, each
    read with FINAL."""
    def shape(table: str, column: str, where: str) -> tuple:
        return tuple(client.query(f"SELECT count(), sum(downloads), max({column}) FROM {table} FINAL "
                                  f"WHERE {where}").result_rows[0])

    for table, column in COPIES.items():
        if shape(f"exp.{table}_closed", column, "1") != shape(f"gen.{table}", column, f"{column} <= '{through}'"):
            raise SystemExit(f"exp.{table}_closed is stale: delete exp-tiers and run again")


def refuse_stale_one_table(client) -> None:
    """The one-table variant must hold every served month and the copy's rows: compared by
    downloads and days, which merges do not change. Not with FINAL: it folds a day's row of one
    tier into the other's (same sort key, other partition) and would double it."""
    for closed, source in ((0, "gen.project_daily"), (1, "exp.project_daily_closed")):
        question = "SELECT sum(downloads), min(date), max(date) FROM {} WHERE {}"
        ours = client.query(question.format("exp.project_daily_flagged", f"closed = {closed}")).result_rows[0]
        if ours != client.query(question.format(source, "1")).result_rows[0]:
            raise SystemExit("exp.project_daily_flagged is stale: delete exp-tiers and run again")


def tiered(sql: str) -> str:
    """An API month-grain question rewritten to read each copied table as copy-then-monthly;
    refuses a question it finds no copied table in (it would time the served SQL twice)."""
    rewritten = sql
    for table, column in COPIES.items():
        marker = f"FROM __DB__.{table} "
        if marker not in rewritten:
            continue
        head, tail = rewritten.split(marker, 1)
        where, rest = tail.split(" GROUP BY", 1)
        select = head[head.rindex("SELECT") + len("SELECT"):]
        source = (f"(SELECT * FROM exp.{table}_closed {where} AND {column} <= {{closed_through:Date}} "
                  f"UNION ALL SELECT * FROM __DB__.{table} {where} AND {column} > {{closed_through:Date}}) ")
        rewritten = head[:head.rindex("SELECT")] + "SELECT" + select + "FROM " + source + "GROUP BY" + rest
    if rewritten == sql:
        raise ValueError(f"no copied table in {sql!r}")
    return rewritten


class TieredReader:
    """``pepy_api.store.queries`` over ``gen``, as served or through the copies."""

    def __init__(self, client, through: dt.date, tier: bool) -> None:
        self.client, self.through, self.tier = client, through, tier

    def query(self, sql: str, parameters: dict | None = None) -> list[tuple]:
        sql = (tiered(sql) if self.tier else sql).replace("__DB__", "gen")
        return self.client.query(sql, parameters={**(parameters or {}), "closed_through": self.through},
                                 settings=QUERY_SETTINGS).result_rows


def report(times: dict) -> None:
    for (question, name), values in sorted(times.items()):
        print(f"{question:28s} {name:16s} p50 {statistics.median(values):6.2f}  p90 {percentile(values, 90):6.2f}  "
              f"p99 {percentile(values, 99):6.2f} ms  (n={len(values)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    client = attach_current(args.warehouse / "exp-tiers", args.warehouse)
    projects, last = sample_projects(client, args.seed)
    first = client.query("SELECT min(date) FROM gen.project_daily").result_rows[0][0]
    through = (last - dt.timedelta(days=CLOSED_AFTER_DAYS)).replace(day=1) - dt.timedelta(days=1)
    print(f"history {first}..{last}; copies through {through}", flush=True)
    build_copies(client, through)
    refuse_stale_copies(client, through)
    build_one_table(client)
    refuse_stale_one_table(client)
    rng = random.Random(args.seed)
    times: dict[tuple[str, str], list[float]] = {}

    def timed(key, run):
        started = time.perf_counter()
        answer = run()
        times.setdefault(key, []).append((time.perf_counter() - started) * 1000)
        return answer

    # project_daily: the daily sums over 30 and 180 days and all history, five ways.
    ranges = {"daily sums, 30 days": last - dt.timedelta(days=29), "daily sums, 180 days": last - dt.timedelta(days=179),
              "daily sums, all history": first}
    # The month-grain questions over all history, as served and through the copies (union).
    months = {
        "versions by month (all)": lambda r, p: queries.version_breakdown(r, p, first, last, "all", "month"),
        "installer by month (all)": lambda r, p: queries.dimension_downloads(r, p, "installer", first, last, "all",
                                                                             "month"),
    }
    readers = {"served": TieredReader(client, through, False), "union": TieredReader(client, through, True)}
    for round_ in range(args.rounds + 1):
        if round_ == 1:
            times.clear()  # the first round warms the caches
        for project in projects:
            for question, start in rng.sample(list(ranges.items()), len(ranges)):
                parameters = {"p": project, "s": start, "e": last, "w": through}
                answers = {}
                for name in rng.sample([*DAILY, "copy only"], len(DAILY) + 1):
                    sql = COPY_ONLY if name == "copy only" else DAILY[name]
                    answer = timed((question, name), lambda: client.query(sql, parameters=parameters,
                                                                          settings=QUERY_SETTINGS).result_rows)
                    if name != "copy only":
                        answers[name] = answer
                assert all(answer == answers["served"] for answer in answers.values()), (question, project)
            for question in rng.sample(list(months), len(months)):
                answers = {name: timed((question, name), lambda r=reader: months[question](r, project))
                           for name, reader in rng.sample(list(readers.items()), len(readers))}
                assert answers["served"] == answers["union"], (question, project)
    report(times)


if __name__ == "__main__":
    main()
