"""Gives memory the API no longer uses back to the system.

Three allocators keep what a process frees: the engine's jemalloc (a totals read or a large
answer), pyarrow's pool (the totals arrive as Arrow) and glibc's malloc (numpy, Python). Measured
at 720 k projects (docs/benchmarks.md): after attaching a generation the process held 845 MB, of
which ~340 MB was freed memory these allocators kept; releasing it left 504 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import pyarrow as pa

log = logging.getLogger("pepy_api")
_libc = None
try:
    _name = ctypes.util.find_library("c")
    _libc = ctypes.CDLL(_name) if _name else None
    _malloc_trim = getattr(_libc, "malloc_trim", None)  # glibc only (not musl, not macOS)
except OSError:
    _malloc_trim = None


def release_unused_memory(engine_client=None) -> None:
    """Return freed pages: the embedded engine's (``SYSTEM JEMALLOC PURGE`` through
    ``engine_client``), pyarrow's and glibc's. Never raises: it only costs or saves memory."""
    if engine_client is not None:
        try:
            engine_client.command("SYSTEM JEMALLOC PURGE")
        except Exception as error:  # noqa: BLE001 - an engine built without jemalloc
            log.debug("engine memory not purged: %s", error)
    pa.default_memory_pool().release_unused()
    if _malloc_trim is not None:
        _malloc_trim(0)
