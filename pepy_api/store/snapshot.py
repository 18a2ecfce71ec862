"""An immutable view of one version of the served data, with the totals held in memory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple


class Totals(NamedTuple):
    total: int
    total_without_mirrors: int
    last_day: int
    last_week: int
    last_month: int
    last_day_without_mirrors: int
    last_week_without_mirrors: int
    last_month_without_mirrors: int
    first_date: dt.date
    last_date: dt.date


TOTALS_COLUMNS = (
    "project, total_downloads, total_without_mirrors, last_day, last_week, last_month, "
    "last_day_without_mirrors, last_week_without_mirrors, last_month_without_mirrors, first_date, last_date"
)


@dataclass(frozen=True)
class Snapshot:
    """What one request sees: a data version, where to query it, and the in-memory totals.

    ``token`` changes whenever the data does; ETags are derived from it.
    """

    token: str
    database: str | None
    last_complete_day: dt.date | None
    totals: dict[str, Totals] = field(default_factory=dict)
    #: The first day with any download: the default start of "all history" ranges.
    first_day: dt.date | None = None
    #: Real projects (no '__all__'), most downloaded first: top lists and prefix search.
    ranked: tuple[str, ...] = ()

    @property
    def has_data(self) -> bool:
        return self.database is not None and self.last_complete_day is not None


def build_snapshot(token: str, database: str, rows) -> Snapshot:
    totals = {row[0]: Totals(*row[1:]) for row in rows}
    as_of = max((t.last_date for t in totals.values()), default=None)
    first = min((t.first_date for t in totals.values()), default=None)
    ranked = tuple(sorted((p for p in totals if p != "__all__"), key=lambda p: (-totals[p].total, p)))
    return Snapshot(token=token, database=database, last_complete_day=as_of, totals=totals, ranked=ranked,
                    first_day=first)
