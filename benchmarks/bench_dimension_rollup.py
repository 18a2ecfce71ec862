"""What computing pypistats' system from the facts costs a day's load (eighteenth pass).

pypistats counts an upstream system name of '' as "other" and NULL as "null"; the ``system``
rollup stores both as '', so ``pypistats_system`` is now a fact-level dimension (one more
statement over the staged facts) instead of being derived from the ``system`` rollup. This stages
one real-shape day (``stage_day``: facts and every rollup, as a load does) and then times, in
random order over several rounds into scratch tables, the fact-level statement, the derived one
it replaced, and every other dimension's statement, beside the stage's own rollup time.

    .venv/bin/python benchmarks/bench_dimension_rollup.py --rows-per-day 33000000 --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pepy_pipeline.sources.sample import SampleSource  # noqa: E402
from pepy_pipeline.warehouse import measures  # noqa: E402
from pepy_pipeline.warehouse.loader import ROLLUP_SETTINGS, stage_day  # noqa: E402
from pepy_pipeline.warehouse.migrations import migrate  # noqa: E402
from pepy_pipeline.warehouse.rollup_dimensions import DERIVED_DIMENSIONS, FACT_DIMENSIONS  # noqa: E402
from pepy_pipeline.warehouse.sql_files import render  # noqa: E402
from pepy_warehouse.connection import connected  # noqa: E402

#: The derived form this pass replaced, timed for comparison.
OLD_DERIVED = ("system", "multiIf(value = '', '', value IN ('Darwin', 'Linux', 'Windows'), value, 'other')")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=33_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 10, 14))
    args = parser.parse_args()
    source = SampleSource(scale="real", rows_per_day=args.rows_per_day)
    with tempfile.TemporaryDirectory() as home, connected(f"chdb://{home}/warehouse") as client:
        migrate(client, "pepy")
        with stage_day(client, "pepy", source, args.day) as staged:
            print(f"day {args.day}: {staged.rows:,} fact rows staged in {staged.seconds_extract_and_stage:.1f} s; "
                  f"every rollup {staged.seconds_rollups:.1f} s "
                  f"(project_dimension_daily rows: {staged.rollup_rows['project_dimension_daily']:,})")
            statements = {f"fact:{name}": ("fact", name, value) for name, value in FACT_DIMENSIONS.items()}
            statements["derived (replaced): pypistats_system"] = ("derived", "pypistats_system", OLD_DERIVED)
            statements.update({f"derived:{name}": ("derived", name, spec) for name, spec in DERIVED_DIMENSIONS.items()})
            times: dict[str, list[float]] = {label: [] for label in statements}
            facts, source_rollup = staged.facts, staged.tables["project_dimension_daily"]
            for _ in range(args.rounds):
                order = list(statements)
                random.shuffle(order)
                for label in order:
                    kind, name, spec = statements[label]
                    client.command("DROP TABLE IF EXISTS pepy.bench_dimension")
                    client.command(f"CREATE TABLE pepy.bench_dimension AS {source_rollup}")
                    if kind == "derived":  # its source dimension, as the load has it before
                        client.command(f"INSERT INTO pepy.bench_dimension SELECT * FROM {source_rollup} "
                                       "WHERE dimension = {d:String}", parameters={"d": spec[0]})
                    started = time.perf_counter()
                    if kind == "fact":
                        client.command(render("rollups/project_dimension_daily.sql", target="pepy.bench_dimension",
                                              facts=facts, dimension=name, value=spec, measures=measures.FROM_FACTS,
                                              flags=measures.FLAGS), parameters={"day": args.day},
                                       settings=ROLLUP_SETTINGS)
                    else:
                        client.command(render("rollups/derived_dimension.sql", target="pepy.bench_dimension",
                                              dimension=name, source_dimension=spec[0], value=spec[1],
                                              resum=measures.RESUM), parameters={"day": args.day})
                    times[label].append(time.perf_counter() - started)
            client.command("DROP TABLE IF EXISTS pepy.bench_dimension")
    print(f"\n{'statement':44} {'median s':>9} {'min s':>7}   (rounds: {args.rounds})")
    for label, seconds in times.items():
        print(f"{label:44} {statistics.median(seconds):9.2f} {min(seconds):7.2f}")
    fact = statistics.median(times["fact:pypistats_system"])
    old = statistics.median(times["derived (replaced): pypistats_system"])
    print(f"\nextra per day load: {fact - old:.2f} s (fact-level {fact:.2f} s against derived {old:.2f} s); "
          f"the stage's rollups took {staged.seconds_rollups:.1f} s")


if __name__ == "__main__":
    main()
