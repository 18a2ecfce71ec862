"""The yardstick: pypistats.org's design in a local PostgreSQL, fed the same serving rows.

    .venv/bin/python benchmarks/bench_postgres.py --warehouse /work/bench-data/real [--pgdata /work/bench-data/pg]

pypistats.org serves these questions from PostgreSQL: one table per breakdown (``overall``,
``python_major``, ``python_minor``, ``system``; ``recent``), each keyed by a B-tree primary key
(date, package, category) plus an index on package, as in its ``models.py``. This script starts a
PostgreSQL from the Debian package (initdb once into ``--pgdata``, reused between runs; started on
a free port and stopped at the end), loads the rows exported from our ClickHouse rollups with
COPY (skipped when the warehouse has not changed since the last load), asks pypistats' questions
(and pepy's total / last-30-days ones, which pypistats' tables can answer) for Zipf-sampled
projects and the 20 largest, and reports p50/p99 per question and the disk size beside ours.

It is a yardstick, not a target: PostgreSQL times here are a query round trip from Python (no
HTTP, no JSON), ours in bench_api.py are full HTTP requests. ``bench_api.py --postgres`` runs
it in the same run as the API benchmark.
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

from tests.support.postgres import Postgres  # noqa: E402

#: Benchmark settings: durability off (loading speed only; reads are unaffected).
SERVER_OPTIONS = ("-c shared_buffers=512MB -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                  "-c max_wal_size=4GB -c maintenance_work_mem=512MB -c work_mem=64MB")
BREAKDOWNS = ("overall", "python_major", "python_minor", "system")
#: pypistats table -> the SELECT over our rollups giving (date, package, category, downloads).
#: pypistats counts breakdowns without mirrors, with its own rules (warehouse/measures.py: the
#: pypistats_* measures); '' (upstream NULL) is its category 'null'. Rollups are summed: a day's
#: delta rows may not be merged yet.
EXPORTS = {
    "overall": "SELECT date, project, category, d FROM (SELECT date, project, sum(pypistats_downloads) AS w, "
               "sum(pypistats_without_mirrors) AS wo FROM {db}.project_daily WHERE date > {since:Date} "
               "GROUP BY date, project) ARRAY JOIN ['with_mirrors', 'without_mirrors'] AS category, [w, wo] AS d "
               "WHERE d > 0",
    **{table: f"SELECT date, project, if(value = '', 'null', value), d FROM (SELECT date, project, value, "
              f"sum(pypistats_without_mirrors) AS d FROM {{db}}.project_dimension_daily WHERE dimension = '{dimension}' "
              "AND date > {since:Date} GROUP BY date, project, value) WHERE d > 0"
       for table, dimension in (("python_major", "python_major"), ("python_minor", "python_minor"),
                                ("system", "pypistats_system"))},
    "recent": "SELECT project, c, d FROM (SELECT project, sumIf(pypistats_without_mirrors, date = {last:Date}) AS day, "
              "sumIf(pypistats_without_mirrors, date > {last:Date} - 7) AS week, "
              "sum(pypistats_without_mirrors) AS month FROM {db}.project_daily WHERE date > {last:Date} - 30 "
              "GROUP BY project) ARRAY JOIN ['day', 'week', 'month'] AS c, [day, week, month] AS d",
}
#: Tables our API reads for the same questions (disk size beside PostgreSQL's).
OURS = ("project_daily", "project_dimension_daily")


def warehouse_fingerprint(client, db: str) -> str:
    count, last = client.query(f"SELECT count(), toString(max(loaded_at)) FROM {db}.load_log FINAL").result_rows[0]
    return f"{count}:{last}"


def load(client, db: str, pg, last_day: dt.date, days: int) -> dict:
    """Export our rollups (the last ``days`` days) into pypistats' tables, unless already loaded
    from this warehouse state. Rows go through a CSV file written by the engine and read by the
    server's own COPY (streaming them through Python was ~50x slower)."""
    fingerprint = f"{warehouse_fingerprint(client, db)}:{days}"
    since = last_day - dt.timedelta(days=days)
    export = pg.pgdata.parent / f"{pg.pgdata.name}-export"
    export.mkdir(exist_ok=True)
    with pg.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS pepy_loaded (fingerprint text)")
        if conn.execute("SELECT fingerprint FROM pepy_loaded").fetchone() == (fingerprint,):
            return {"seconds": 0.0, "rows": {}, "reused": True, "days": days}
        started = time.perf_counter()
        rows = {}
        for table, select in EXPORTS.items():
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            if table == "recent":
                conn.execute("CREATE TABLE recent (package varchar(128) NOT NULL, category varchar(16) NOT NULL, "
                             "downloads bigint NOT NULL)")
            else:
                conn.execute(f"CREATE TABLE {table} (date date NOT NULL, package varchar(128) NOT NULL, "
                             "category varchar(16) NOT NULL, downloads bigint NOT NULL)")
            path = export / f"{table}.csv"
            client.command(f"INSERT INTO FUNCTION file('{path}', 'CSV') {select.replace('{db}', db)} "
                           "SETTINGS engine_file_truncate_on_insert = 1",
                           parameters={"last": last_day, "since": since})
            path.chmod(0o644)
            conn.execute(f"COPY {table} FROM '{path}' (FORMAT csv)")
            path.unlink()
            # Keys built after the load, as a bulk load would (same B-trees as inserting row by row).
            if table == "recent":
                conn.execute("ALTER TABLE recent ADD PRIMARY KEY (package, category)")
            else:
                conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (date, package, category)")
                conn.execute(f"CREATE INDEX {table}_package ON {table} (package)")
            conn.execute(f"VACUUM ANALYZE {table}")
            rows[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        conn.execute("DELETE FROM pepy_loaded")
        conn.execute("INSERT INTO pepy_loaded VALUES (%s)", (fingerprint,))
        return {"seconds": time.perf_counter() - started, "rows": rows, "reused": False, "days": days}


def questions(last_day: dt.date) -> dict[str, tuple[str, tuple]]:
    """pypistats' (and pepy's) questions: SQL and its extra parameters after the package."""
    since = last_day - dt.timedelta(days=179)
    out = {"recent": ("SELECT category, downloads FROM recent WHERE package = %s", ())}
    for table in BREAKDOWNS:
        out[f"{table}_180d"] = (f"SELECT date, category, downloads FROM {table} WHERE package = %s AND date >= %s "
                                "ORDER BY date, category", (since,))
        out[f"{table}_all"] = (f"SELECT date, category, downloads FROM {table} WHERE package = %s "
                               "ORDER BY date, category", ())
    out["total_badge"] = ("SELECT sum(downloads) FROM overall WHERE package = %s AND category = 'with_mirrors'", ())
    out["v1_last_30d"] = ("SELECT date, downloads FROM overall WHERE package = %s AND category = 'with_mirrors' "
                          "AND date > %s ORDER BY date", (last_day - dt.timedelta(days=30),))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def measure(pg, last_day: dt.date, zipf: list[str], largest: list[str]) -> dict:
    """p50/p99 per question at concurrency 1 over ``zipf`` projects, and p99 over ``largest``."""
    results = {}
    with pg.connect() as conn:
        for name, (sql, extra) in questions(last_day).items():
            timings = {"zipf": [], "largest": []}
            rows_largest = 0
            for label, projects in (("zipf", zipf), ("largest", largest)):
                for project in projects:
                    started = time.perf_counter()
                    fetched = conn.execute(sql, (project, *extra)).fetchall()
                    timings[label].append((time.perf_counter() - started) * 1000)
                    if label == "largest":
                        rows_largest = max(rows_largest, len(fetched))
            results[name] = {"p50": statistics.median(timings["zipf"]), "p99": percentile(timings["zipf"], 99),
                             "largest_p50": statistics.median(timings["largest"]),
                             "largest_p99": percentile(timings["largest"], 99), "largest_rows": rows_largest}
        sizes = {t: conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] for t in (*BREAKDOWNS, "recent")}
    return {"questions": results, "sizes": sizes}


def our_sizes(client, db: str) -> dict[str, int]:
    rows = client.query("SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = {db:String} AND active "
                        "AND table IN {t:Array(String)} GROUP BY table", parameters={"db": db, "t": list(OURS)}).result_rows
    days = client.query(f"SELECT uniqExact(date) FROM {db}.project_daily").result_rows[0][0]
    return {**dict(rows), "_days": days}


def ranked_projects(client, db: str) -> list[str]:
    return [r[0] for r in client.query(f"SELECT project FROM {db}.project_alltime WHERE project != '__all__' "
                                       "GROUP BY project ORDER BY sum(downloads) DESC").result_rows]


def zipf_sample(ranked: list[str], count: int, rng: random.Random) -> list[str]:
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(ranked))]
    return rng.choices(ranked, weights=weights, k=count)


def report(loaded: dict, measured: dict, ours: dict[str, int]) -> str:
    lines = [f"PostgreSQL (pypistats design, last {loaded['days']} days) loaded in {loaded['seconds']:.0f} s"
             + (" (reused: the warehouse had not changed)" if loaded["reused"] else "")
             + (f", rows: {', '.join(f'{t} {n:,}' for t, n in loaded['rows'].items())}" if loaded["rows"] else ""), "",
             "| question | PG p50 ms | PG p99 ms | PG largest p50 ms | PG largest p99 ms | largest rows |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in measured["questions"].items():
        lines.append(f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['largest_p50']:.2f} | {r['largest_p99']:.2f} "
                     f"| {r['largest_rows']:,} |")
    pg_total = sum(measured["sizes"].values())
    history_days = ours.pop("_days")
    ours_total = sum(ours.values())
    lines += ["", f"* disk: PostgreSQL {pg_total / 1e6:,.1f} MB for {loaded['days']} days "
              f"({', '.join(f'{t} {b / 1e6:,.1f}' for t, b in measured['sizes'].items())}) = "
              f"{pg_total / loaded['days'] / 1e6:,.1f} MB a day; "
              f"ours {ours_total / 1e6:,.1f} MB for {history_days} days "
              f"({', '.join(f'{t} {b / 1e6:,.1f}' for t, b in ours.items())}, every dimension value included) = "
              f"{ours_total / history_days / 1e6:,.1f} MB a day on average"]
    return "\n".join(lines)


def run(client, db: str, pgdata: Path, per_question: int, days: int = 180, seed: int = 42) -> str:
    """Start PostgreSQL, load (or reuse), measure, stop; the Markdown report."""
    last_day = client.query(f"SELECT max(date) FROM {db}.project_daily").result_rows[0][0]
    ranked = ranked_projects(client, db)
    zipf = zipf_sample(ranked, per_question, random.Random(seed))
    ours = our_sizes(client, db)
    with Postgres(pgdata, SERVER_OPTIONS) as pg:
        loaded = load(client, db, pg, last_day, days)
        measured = measure(pg, last_day, zipf, ranked[:20])
    return report(loaded, measured, ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="benchmark home (chDB under <home>/warehouse)")
    parser.add_argument("--database", default="pepy")
    parser.add_argument("--pgdata", type=Path, default=Path("/work/bench-data/pg"))
    parser.add_argument("--per-question", type=int, default=200)
    parser.add_argument("--days", type=int, default=180,
                        help="days loaded into PostgreSQL (pypistats keeps 180; its 'all history' is those)")
    args = parser.parse_args()
    from pepy_warehouse.connection import connected

    with connected(f"chdb://{args.warehouse / 'warehouse'}") as client:
        print(run(client, args.database, args.pgdata, args.per_question, args.days))


if __name__ == "__main__":
    main()
