"""How the served rollups are partitioned, in one place: the commit attaches a day's delta to its
partition and compaction merges partitions, so both must name them as the tables' ``PARTITION BY``
does (tested against the engine's own partition ids).

Every part a question opens costs it ~0.65 ms whatever the part holds (measured at real size: 180
days of daily sums over one part p50 7.8 ms, over seven month parts 12.4 ms, a project that does
not exist 6.8 ms; docs/benchmarks.md). ``project_daily`` is small (~20 M rows a month at real
size), so it is partitioned by **year**: a 180-day or all-history question opens one or two
merged years plus the current year's newest daily parts, and a year-to-date rewrite costs ~2
minutes at its largest. The other rollups are 8-25x larger (a year of
``project_dimension_daily`` is ~6 billion rows): rewriting a year every few days is out of reach,
so they stay partitioned by month.
"""

from __future__ import annotations

import datetime as dt

#: Rollups partitioned by ``toYear(date)``; every other month-partitioned table by ``toYYYYMM(date)``.
YEARLY_TABLES = frozenset({"project_daily"})


def partition_id(table: str, day: dt.date) -> str:
    """The engine's partition id of ``day`` in ``table`` (``YYYY`` or ``YYYYMM``)."""
    return f"{day:%Y}" if table in YEARLY_TABLES else f"{day:%Y%m}"


def is_partition_id(table: str, partition: str) -> bool:
    """Whether ``partition`` (read from system.parts) has the shape ``table``'s partitions have."""
    return partition.isdigit() and len(partition) == (4 if table in YEARLY_TABLES else 6)
