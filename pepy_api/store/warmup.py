"""Loads a newly attached generation's marks and primary indexes before it is served.

An attached table is new to the engine: its parts' primary indexes are loaded on the first query
that looks at them, and its marks (where each granule starts in each column file) on the first
query that reads the column. The files are the served generation's, hard-linked, so the page
cache already holds them; what costs is reading and decoding them for every part, which without
this fell on the first requests after each swap, all at once and at the engine's normal priority.
Done here, it runs on the swap's background thread with its settings (one thread, nice 10, where
the engine applies them), before the swap; a warm-up that fails leaves the generation served cold.
"""

from __future__ import annotations

from pepy_warehouse.identifiers import identifier


def warm_up_generation(client, database: str, tables, settings: dict) -> None:
    """Load the marks of every column and the primary index of every part of ``tables`` in
    ``database``."""
    db = identifier(database)
    for table in tables:
        name = f"{db}.{identifier(table)}"
        client.command(f"SYSTEM PREWARM MARK CACHE {name}", settings=settings)
        client.command(f"SYSTEM LOAD PRIMARY KEY {name}", settings=settings)
