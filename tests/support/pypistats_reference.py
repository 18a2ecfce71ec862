"""pypistats.org's query semantics, re-implemented from its ``pypistats/tasks/pypi.py`` over
raw-like rows (upstream's full ``details.python`` and installer name), independent of our SQL.

Its BigQuery query keeps a row when ``details.python`` is NULL or matches ``^[0-9]\\.[0-9]+``
(REGEXP_CONTAINS: a prefix match); "without mirrors" is ``installer NOT IN (mirrors)``, which is
NULL, so false, when the installer is NULL.
"""

from __future__ import annotations

import re

MIRRORS = ("bandersnatch", "z3c.pypimirror", "Artifactory", "devpi")


def kept(row: dict) -> bool:
    return row["python"] is None or re.match(r"^[0-9]\.[0-9]+", row["python"]) is not None


def without_mirrors(row: dict) -> bool:
    return row["installer"] is not None and row["installer"] not in MIRRORS


def category(row: dict, kind: str) -> str:
    python = row["python"]
    if kind == "python_major":
        return "null" if python is None else python.split(".")[0]
    if kind == "python_minor":
        return "null" if python is None else re.match(r"^[0-9]+\.[0-9]+", python).group(0)
    system = row["system"]
    return "null" if system is None else system if system in ("Darwin", "Linux", "Windows") else "other"


def series(rows: list[dict], kind: str) -> list[dict]:
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        if kept(row) and without_mirrors(row):
            key = (category(row, kind), row["date"].isoformat())
            totals[key] = totals.get(key, 0) + row["downloads"]
    return [{"category": c, "date": d, "downloads": n} for (c, d), n in sorted(totals.items())]


def overall(rows: list[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"with_mirrors": {}, "without_mirrors": {}}
    for row in rows:
        if not kept(row):
            continue
        day = row["date"].isoformat()
        out["with_mirrors"][day] = out["with_mirrors"].get(day, 0) + row["downloads"]
        if without_mirrors(row):
            out["without_mirrors"][day] = out["without_mirrors"].get(day, 0) + row["downloads"]
    return out


def recent(rows: list[dict], last_day) -> dict[str, int]:
    import datetime as dt

    def total(days: int) -> int:
        return sum(r["downloads"] for r in rows if kept(r) and without_mirrors(r)
                   and last_day - dt.timedelta(days=days - 1) <= r["date"] <= last_day)
    return {"last_day": total(1), "last_week": total(7), "last_month": total(30)}
