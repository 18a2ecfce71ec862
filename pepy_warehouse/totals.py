"""Every project's totals, one row each: the one query both sides of a generation agree on.

The pipeline runs it once per publish and writes the result into the generation
(``totals.arrow``, see :mod:`pepy_warehouse.generation`); the API maps that file instead of
running the query itself at every swap (at 720 k projects the query was ~0.7 s of the ~1 s a
swap spent on totals while idle, and that step took 3.6-3.8 s while serving: ninth pass). The API
still runs it against a ClickHouse server, and for a generation published before the file existed.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from pepy_warehouse.identifiers import identifier

#: One row per project in ``pepy_api.store.snapshot.Totals`` order (``__DB__`` = the served database).
TOTALS_SQL = """
SELECT project,
       sum(total) + sum(balance), sum(total_wm) + sum(balance_wm),
       sum(d), sum(w), sum(m), sum(dp), sum(wp), sum(mp), sum(balance)
FROM (
    SELECT project, downloads AS total, downloads_without_mirrors AS total_wm, 0 AS balance, 0 AS balance_wm,
           0 AS d, 0 AS w, 0 AS m, 0 AS dp, 0 AS wp, 0 AS mp
    FROM __DB__.project_alltime
    UNION ALL
    SELECT project, 0, 0, downloads, downloads_without_mirrors, 0, 0, 0, 0, 0, 0 FROM __DB__.opening_balance
    UNION ALL
    SELECT project, 0, 0, 0, 0, last_day, last_week, last_month, last_day_pypistats, last_week_pypistats,
           last_month_pypistats
    FROM __DB__.project_recent
)
GROUP BY project
HAVING sum(total) + sum(balance) > 0 OR project = '__all__'
ORDER BY project
"""
#: The generation's copy of the query's result (Arrow IPC file format).
TOTALS_FILE = "totals.arrow"
#: Which query wrote a generation's file: a reader of another version queries instead.
TOTALS_VERSION = hashlib.sha256(TOTALS_SQL.encode()).hexdigest()[:16]


def query_totals(client, database: str, settings: dict | None = None) -> pa.Table:
    """Run :data:`TOTALS_SQL` over ``database``, as Arrow (int64 arrays, not 6.5 million Python
    ints at 720 k projects)."""
    return client.query_arrow(TOTALS_SQL.replace("__DB__", identifier(database)), settings=settings or {})
