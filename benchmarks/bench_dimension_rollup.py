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

import random
import statistics
import time

from staged_day import day_arguments, print_medians, staged_real_day

from pepy_pipeline.warehouse import measures
from pepy_pipeline.warehouse.loader import ROLLUP_SETTINGS
from pepy_pipeline.warehouse.rollup_dimensions import DERIVED_DIMENSIONS, FACT_DIMENSIONS
from pepy_pipeline.warehouse.sql_files import render

#: The derived form this pass replaced, timed for comparison.
OLD_DERIVED = ("system", "multiIf(value = '', '', value IN ('Darwin', 'Linux', 'Windows'), value, 'other')")


def main() -> None:
    args = day_arguments(__doc__.splitlines()[0])
    with staged_real_day(args) as (client, staged):
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
    print_medians(times, "statement", args.rounds)
    fact = statistics.median(times["fact:pypistats_system"])
    old = statistics.median(times["derived (replaced): pypistats_system"])
    print(f"\nextra per day load: {fact - old:.2f} s (fact-level {fact:.2f} s against derived {old:.2f} s); "
          f"the stage's rollups took {staged.seconds_rollups:.1f} s")


if __name__ == "__main__":
    main()
