#!/usr/bin/env bash
# Installs, then runs the default test suite: every tier but the slow one (a backfill through a
# live Dagster daemon, the BigQuery emulator, the longest single tests). Pytest options pass through; a -m of your own
# replaces the default marker expression (-m slow: that tier alone; -m "": everything).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
for arg in "$@"; do
    if [[ "$arg" == "-m" || "$arg" == -m?* ]]; then
        exec .venv/bin/python -m pytest "$@"
    fi
done
exec .venv/bin/python -m pytest -m "not slow" "$@"
