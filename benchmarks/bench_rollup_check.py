"""What the blocking ``rollups_match_facts`` check costs a day's load (twenty-first pass).

The check now compares every measure (five, not only ``downloads``) and requires every dimension.
This stages one real-shape day (``stage_day``: facts and every rollup, as a load does) and times,
in random order over several rounds, the check as it is and as it was (downloads only), beside
the stage's own times.

    .venv/bin/python benchmarks/bench_rollup_check.py --rows-per-day 33000000 --rounds 3
"""

from __future__ import annotations

import random
import time

from staged_day import day_arguments, print_medians, staged_real_day

from pepy_pipeline.warehouse.day_checks import rollups_match_facts


def downloads_only(client, staged) -> bool:
    """The check before this pass: ``downloads`` alone, over the dimensions present."""
    facts = int(client.query(f"SELECT sum(downloads) FROM {staged.facts}").result_rows[0][0])
    t = staged.tables
    daily = client.query(f"SELECT sumIf(downloads, project != '__all__'), sumIf(downloads, project = '__all__') "
                         f"FROM {t['project_daily']}").result_rows[0]
    versions = client.query(f"SELECT sum(downloads) FROM {t['project_version_daily']}").result_rows[0]
    dims = client.query(f"SELECT dimension, sumIf(downloads, project != '__all__'), sumIf(downloads, project = '__all__') "
                        f"FROM {t['project_dimension_daily']} GROUP BY dimension").result_rows
    return all(int(x) == facts for x in (*daily, *versions)) and all((a, b) == (facts, facts) for _, a, b in dims)


def main() -> None:
    args = day_arguments(__doc__.splitlines()[0])
    checks = {"every measure, every dimension (now)": lambda c, s: rollups_match_facts(c, s).passed,
              "downloads only (before)": downloads_only}
    times: dict[str, list[float]] = {label: [] for label in checks}
    with staged_real_day(args) as (client, staged):
        for _ in range(args.rounds):
            order = list(checks)
            random.shuffle(order)
            for label in order:
                started = time.perf_counter()
                assert checks[label](client, staged), label
                times[label].append(time.perf_counter() - started)
    print_medians(times, "check", args.rounds)


if __name__ == "__main__":
    main()
