"""An immutable view of one version of the served data, with the per-project totals in memory.

Built entirely outside any lock (a new generation is attached beside the served one) and swapped
in by replacing one reference, so requests never wait for a publish.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


class Totals(NamedTuple):
    #: All-time: the opening balance plus every loaded day (pepy.tech's total_downloads).
    total: int
    total_without_mirrors: int
    last_day: int
    last_week: int
    last_month: int
    #: pypistats.org's "recent" arithmetic (without mirrors, its Python and installer rules).
    last_day_pypistats: int
    last_week_pypistats: int
    last_month_pypistats: int
    #: The part of ``total`` that predates the first loaded day.
    opening_balance: int


#: SQL producing one row per project in :class:`Totals` order (``__DB__`` = the served database).
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
"""


@dataclass(frozen=True)
class Snapshot:
    """What one request sees: a data version, where to query it, and the in-memory totals.

    ``token`` changes whenever the data does; ETags are derived from it.
    """

    token: str
    database: str | None
    last_complete_day: dt.date | None
    #: From this day to ``last_complete_day`` every day is loaded: the daily history's start.
    first_complete_day: dt.date | None = None
    totals: dict[str, Totals] = field(default_factory=dict)
    #: Real projects (no '__all__'), most downloaded first: top lists.
    ranked: tuple[str, ...] = ()
    #: The same names sorted, with each one's position in ``ranked``: prefix search by bisection.
    sorted_names: tuple[str, ...] = ()
    sorted_ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: When the data was published (seconds since the epoch), for the generation's age.
    published_at: float | None = None

    @property
    def has_data(self) -> bool:
        return self.database is not None and self.last_complete_day is not None

    def prefix_matches(self, prefix: str, offset: int, limit: int) -> tuple[list[str], int]:
        """Projects starting with ``prefix``, most downloaded first: (page, number of matches).
        Bisection finds the range; only its ranks are partitioned (no scan of every name)."""
        lo = bisect.bisect_left(self.sorted_names, prefix)
        hi = bisect.bisect_left(self.sorted_names, prefix + "\U0010ffff", lo)
        ranks = self.sorted_ranks[lo:hi]
        wanted = min(offset + limit, len(ranks))
        if wanted == 0:
            return [], len(ranks)
        best = np.partition(ranks, wanted - 1)[:wanted] if wanted < len(ranks) else ranks
        page = np.sort(best)[offset:offset + limit]
        return [self.ranked[i] for i in page], len(ranks)


def build_snapshot(token: str, database: str, columns: dict[str, list], first_complete_day: dt.date | None,
                   last_complete_day: dt.date | None, published_at: float | None = None) -> Snapshot:
    """``columns``: the result of :data:`TOTALS_SQL` by column (project first)."""
    names = columns["project"]
    values = [columns[k] for k in list(columns)[1:]]
    totals = {name: Totals(*row) for name, row in zip(names, zip(*values))}
    ranked = tuple(sorted((p for p in totals if p != "__all__"), key=lambda p: (-totals[p].total, p)))
    rank_of = {p: i for i, p in enumerate(ranked)}
    sorted_names = tuple(sorted(ranked))
    return Snapshot(token=token, database=database, last_complete_day=last_complete_day,
                    first_complete_day=first_complete_day, totals=totals, ranked=ranked,
                    sorted_names=sorted_names,
                    sorted_ranks=np.fromiter((rank_of[p] for p in sorted_names), np.int64, len(sorted_names)),
                    published_at=published_at)
