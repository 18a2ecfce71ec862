#!/usr/bin/env bash
# The whole thing on the embedded default: install, load the last 30 days of the sample source
# into chDB, then serve the Dagster UI and the API on 127.0.0.1 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
scripts/bootstrap.sh
export PEPY_HOME=${PEPY_HOME:-$ROOT/.pepy}
export DAGSTER_HOME=${DAGSTER_HOME:-$PEPY_HOME/dagster}
export PEPY_START_DATE=${PEPY_START_DATE:-$(date -u -d '90 days ago' +%F)}
DAYS=${PEPY_DEMO_DAYS:-30}
UI_PORT=${PEPY_UI_PORT:-3000}
API_PORT=${PEPY_API_PORT:-8000}
mkdir -p "$DAGSTER_HOME"
cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
BIN=.venv/bin

"$BIN/dagster" instance concurrency set warehouse 1 >/dev/null
echo "Loading the last $DAYS days of the sample source into $PEPY_HOME/warehouse ..."
"$BIN/python" -m pepy_pipeline load --last "$DAYS" 2> "$PEPY_HOME/load.log" || {
  echo "the load failed; see $PEPY_HOME/load.log" >&2; exit 1; }

# The daily schedule runs by default once the daemon runs; start it explicitly too, so each new
# day loads while the demo runs even on an instance where it was stopped.
echo "Switching on the daily schedule (loads each new day at 04:30 UTC while the demo runs) ..."
"$BIN/dagster" schedule start daily_downloads_schedule -w "$ROOT/workspace.yaml" >> "$PEPY_HOME/load.log" 2>&1 ||
  echo "could not switch on the schedule (see $PEPY_HOME/load.log): switch it on in the UI, Automation > daily_downloads_schedule" >&2

"$BIN/python" -m pepy_api --host 127.0.0.1 --port "$API_PORT" > "$PEPY_HOME/api.log" 2>&1 &
API_PID=$!
trap 'kill $API_PID 2>/dev/null || true' EXIT

cat <<INFO

  Dagster UI   http://127.0.0.1:$UI_PORT   (assets, partitions, runs, checks, schedule)
  API docs     http://127.0.0.1:$API_PORT/docs
  A badge      http://127.0.0.1:$API_PORT/badge/requests
  A project    http://127.0.0.1:$API_PORT/api/v2/projects/requests

  Load more days from the UI (Assets > pypi_downloads > Materialize / backfill).
  The daily schedule is on (Automation > daily_downloads_schedule): each new day loads at 04:30 UTC.
  Logs: $PEPY_HOME/load.log, $PEPY_HOME/api.log (one line per request).   Ctrl-C stops everything.
  Load from the command line against this warehouse with the demo's partitions:
    export PEPY_START_DATE=$PEPY_START_DATE; .venv/bin/python -m pepy_pipeline load DAY

INFO
# The daemon runs backfills in the queue (pool "warehouse", one run at a time).
# Started through Python with default SIGINT/SIGTERM handlers: a shell started in the background
# may hand its children ignored signals, and `dagster dev` would then ignore Ctrl-C and kill.
# Run from $DAGSTER_HOME: from the repository root `dagster dev` would point at the dagster.yaml
# there and print that it is not the one in use (ours is the copy in $DAGSTER_HOME).
# `dagster dev` also recommends `dg dev` (the separate dagster-dg-cli package) at every start: quiet that.
cd "$DAGSTER_HOME"
PYTHONWARNINGS='ignore:Function `dev_command` is superseded' "$ROOT/$BIN/python" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL); signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$ROOT/$BIN/dagster" dev -w "$ROOT/workspace.yaml" -h 127.0.0.1 -p "$UI_PORT"
