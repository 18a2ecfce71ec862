#!/usr/bin/env bash
# Installs everything from the lock file (uv.lock) into .venv. Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PYTHON=${PEPY_PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
TOOLS=.pepy/tools
if [ ! -x "$TOOLS/bin/uv" ] || [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
"$TOOLS/bin/uv" sync --frozen --python "$PYTHON" --quiet
