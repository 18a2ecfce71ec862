"""Keeps Python's full garbage collections short while the API serves.

A full collection walks every object the collector tracks while holding the GIL, so every request
in flight waits for it. Once started, the API holds ~140 k long-lived objects (FastAPI, pydantic,
the engine client), and a full collection of them held every request for tens of milliseconds;
frozen out of the collector's reach, the full collections while serving are a few milliseconds
(figures: docs/benchmarks.md, eighth pass). Frozen objects are still freed by reference counting
(the first generation's snapshot, when a swap replaces it, has no cycles); only a reference cycle
among them would never be collected.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> int:
    """Collect what is garbage now, then freeze every object left; returns how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def unfreeze() -> None:
    """Give the frozen objects back to the collector (the API stops: a test process lives on)."""
    gc.unfreeze()
