"""What a sample day looks like at a given scale, without generating all of it.

    .venv/bin/python benchmarks/sample_scale.py [--scale real] [--rows-per-day 33000000]
        [--day 2026-11-18] [--head-chunks 4] [--every 8] [--full]

Exact from the day's plan (no row generated): rows generated, active projects, projects with a
handful of rows. Estimated from a stratified sample of chunks (the first ``--head-chunks``,
where the big projects are, then every ``--every``-th): distinct grain rows after duplicates
merge, (project, version) pairs, downloads. Chunks are independent, so a sampled chunk is
exactly the chunk of the full day. Also times the generator (rows/s on one core) and reports its
peak RSS, extrapolated to the full day. ``--full`` generates every chunk instead (real-size
runs only on a quiet machine). Prints Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pepy_pipeline.sources.sample import SampleSource  # noqa: E402
from pepy_pipeline.sources.sample.catalogue import build_catalogue  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(source: SampleSource, day: dt.date, head_chunks: int, every: int, full: bool) -> dict:
    started = time.perf_counter()
    build_catalogue(source.projects, source.seed, source.shape)
    catalogue_s = time.perf_counter() - started
    catalogue_rss = peak_rss_mb()
    plan = source.plan(day)
    generated = plan.rows_per_project
    count = len(plan.chunks)
    picked = range(count) if full else [i for i in range(count) if i < head_chunks or (i - head_chunks) % every == 0]
    weight = {i: 1.0 if full or i < head_chunks else
              len(range(i, min(count, i + every))) for i in picked}  # chunks each sampled one stands for
    rows = pairs = downloads = sampled_generated = 0.0
    sampled_rows = 0
    top = []
    gen_s = 0.0
    chunks = plan.chunks
    for i in picked:
        started = time.perf_counter()
        table = source.chunk_at(plan, day, i)
        gen_s += time.perf_counter() - started
        tables = [] if table is None else [table]
        first, last = chunks[i]
        sampled_generated += generated[first:last].sum()
        for table in tables:
            per = table.group_by("project").aggregate([("downloads", "count"), ("version", "count_distinct"),
                                                      ("downloads", "sum")])
            rows += weight[i] * table.num_rows
            sampled_rows += table.num_rows
            pairs += weight[i] * pc.sum(per["version_count_distinct"]).as_py()
            downloads += weight[i] * pc.sum(table["downloads"]).as_py()
            if i == 0:
                top = per.sort_by([("downloads_sum", "descending")]).slice(0, 3).to_pylist()
    active = int((generated > 0).sum())
    return {
        "chunks": count, "sampled_chunks": len(picked), "catalogue_s": catalogue_s, "catalogue_rss_mb": catalogue_rss,
        "generated": int(generated.sum()), "active": active, "handful": int(((generated > 0) & (generated <= 5)).sum()),
        "rows": rows, "pairs": pairs, "downloads": downloads, "sampled_rows": sampled_rows,
        "generator_rows_per_s": sampled_rows / gen_s, "peak_rss_mb": peak_rss_mb(), "top": top,
        "catalogue_versions": len(plan.catalogue.version_names),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="real")
    parser.add_argument("--projects", type=int)
    parser.add_argument("--rows-per-day", type=int)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 18))
    parser.add_argument("--head-chunks", type=int, default=4)
    parser.add_argument("--every", type=int, default=8)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    source = SampleSource(projects=args.projects, rows_per_day=args.rows_per_day, scale=args.scale)
    m = measure(source, args.day, args.head_chunks, args.every, args.full)
    day_s = m["rows"] / m["generator_rows_per_s"]
    print(f"## Sample day, scale {source.shape.name}: {source.projects:,} projects, rows_per_day "
          f"{source.rows_per_day:,}, {args.day} ({args.day:%A})\n")
    print(f"Catalogue: {m['catalogue_versions']:,} versions, built in {m['catalogue_s']:.1f} s "
          f"(peak RSS {m['catalogue_rss_mb']:,.0f} MB). {m['sampled_chunks']} of {m['chunks']} chunks generated "
          f"({m['sampled_rows']:,} rows){'' if args.full else ', the rest estimated'}.\n")
    print("| what | value |\n| --- | ---: |")
    print(f"| fact rows (distinct grain keys) | {m['rows']:,.0f} |")
    print(f"| rows generated before duplicates merge (exact) | {m['generated']:,} |")
    print(f"| active projects (exact) | {m['active']:,} |")
    print(f"| projects with 1-5 rows generated (exact) | {m['handful']:,} |")
    print(f"| (project, version) pairs | {m['pairs']:,.0f} |")
    print(f"| downloads | {m['downloads']:,.0f} |")
    print(f"| generator, one core | {m['generator_rows_per_s']:,.0f} rows/s |")
    print(f"| generator time for the day (extrapolated) | {day_s:.0f} s |")
    print(f"| peak RSS of this process | {m['peak_rss_mb']:,.0f} MB |")
    print("\nLargest projects (first chunk):", ", ".join(
        f"{t['project']} {t['downloads_count']:,} rows / {t['version_count_distinct']} versions" for t in m["top"]))
    np.set_printoptions(suppress=True)


if __name__ == "__main__":
    main()
