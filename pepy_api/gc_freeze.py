"""Keeps Python's full garbage collections short while the API serves.

A full collection walks every object the collector tracks while holding the GIL, so every request
in flight waits for it. Once started, the API holds ~140 k long-lived objects (FastAPI, pydantic,
the engine client): a full collection took 32-44 ms, and the slowest requests of a run (58-80 ms
against a p50 of 9 ms) lined up with them (docs/benchmarks.md, eighth pass). Frozen once the API
has started, those objects are out of the collector's reach and a full collection takes
well under a millisecond. Frozen objects are still freed by reference counting; only a reference
cycle among them would stay, and they live as long as the process anyway.
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
