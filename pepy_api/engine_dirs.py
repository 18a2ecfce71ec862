"""The API's private chDB engine directories: each records its owner's PID, and leftovers of
processes that died without cleaning up (a crash, SIGKILL) are removed when the next one starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from pepy_warehouse.locks import pid_alive

PREFIX = "pepy-api-engine-"
OWNER_FILE = "owner.pid"
#: A directory without an owner file (a crash right after creating it) is left alone this long.
UNOWNED_GRACE_SECONDS = 24 * 3600


def _owner(directory: Path) -> int | None:
    try:
        return int((directory / OWNER_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def remove_leftovers(parent: Path | None = None) -> list[Path]:
    """Remove engine directories under ``parent`` (default: the temp dir) whose owner is dead."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for directory in parent.glob(f"{PREFIX}*"):
        if not directory.is_dir() or directory.is_symlink():
            continue
        pid = _owner(directory)
        if pid is None:
            stale = time.time() - directory.stat().st_mtime > UNOWNED_GRACE_SECONDS
        else:
            stale = pid != os.getpid() and not pid_alive(pid)
        if stale:
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def new_engine_dir(parent: Path | None = None) -> Path:
    """A fresh engine directory owned by this process, after removing dead processes' leftovers."""
    remove_leftovers(parent)
    directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (directory / OWNER_FILE).write_text(str(os.getpid()))
    return directory
