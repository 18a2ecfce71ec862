#!/usr/bin/env bash
# Builds the 13-month real-size benchmark warehouse from nothing, in one command (~2 h on this
# machine kind). A session's machine may be new, and the warehouse an earlier session built gone
# with it: this makes it again by the method docs/benchmarks.md describes ("How the history was
# made"), with fewer generated days: the first warehouse also generated 11-01, 11-28 and Dec 1-7,
# which are derived here, and its December had the parts its loads and compaction left, where
# here Dec 1-7 are one merged part and Dec 8 one more (run D had December's daily and version
# tables merged to one part too). Steps 1-3 may be re-run (they replace what they wrote); after
# step 4, 2026-12-08 counts as a template for build_history.py (every day not derived does), so
# rebuild from an empty directory instead. Needs `wrk` for the API benchmarks (apt-get install wrk).
#
#   benchmarks/build_warehouse.sh [HOME]      (default /work/bench-data/real)
#
# 1. three template days (Wed, Sat, Thu) generated at real size and loaded through the real
#    pipeline, with the engine's own insert timed beside them (the ceiling);
# 2. 2026-10-01 .. 2026-12-07 derived at full size (every project, version and dimension value),
#    each month merged to one part as compaction leaves a closed month;
# 3. 2025-11-01 .. 2026-09-30 derived for the 20,000 most downloaded projects in the version and
#    dimension rollups (project_daily and the totals stay complete), merged the same way;
# 4. 2026-12-08 generated and loaded through the real pipeline, published, compacted.
set -euo pipefail
cd "$(dirname "$0")/.."
home=${1:-/work/bench-data/real}
py=${PYTHON:-.venv/bin/python}
step() { echo "== $(date -u +%H:%M:%S) $*"; SECONDS=0; }
done_step() { echo "== step took ${SECONDS} s"; }

step "template days"
$py benchmarks/bench_real_day.py --warehouse "$home" --days 2026-10-14,2026-10-17,2026-10-15 --ceiling
done_step
step "full-size history 2026-10-01 .. 2026-12-07"
$py benchmarks/build_history.py --warehouse "$home" --start 2026-10-01 --end 2026-12-07 --merge
done_step
step "reduced history 2025-11-01 .. 2026-09-30 (top 20,000 projects in version and dimension rollups)"
$py benchmarks/build_history.py --warehouse "$home" --start 2025-11-01 --end 2026-09-30 --top-projects 20000 --merge
done_step
step "2026-12-08 through the pipeline, published and compacted"
$py benchmarks/bench_real_day.py --warehouse "$home" --days 2026-12-08 --ceiling --publish
done_step
