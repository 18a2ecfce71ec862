"""A small warehouse with hand-made rows whose expected API answers the tests compute themselves."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pepy_pipeline.sources.sample import SampleSource
from pepy_warehouse.connection import connected
from pepy_pipeline.warehouse.day_load import load_day
from pepy_pipeline.warehouse.migrations import migrate
from pepy_pipeline.warehouse.publish import publish
from tests.support.sources import RowsSource

D1, D2, D3, D4 = (dt.date(2018, 5, 1) + dt.timedelta(days=i) for i in range(4))

#: The worked example of the pepy v2 spec for "pepy", plus projects exercising every dimension.
ROWS = {
    D1: [
        {"project": "pepy", "version": "1.0", "downloads": 10},
        {"project": "flask-login", "version": "0.6.3", "downloads": 7, "installer": "bandersnatch",
         "python": None, "system": None},
        {"project": "flask-login", "version": "0.6.3", "downloads": 5, "ci": True, "country_code": "DE",
         "python": "2.7.18", "system": "Windows"},
        {"project": "flask-login", "version": "0.6.10", "downloads": 4, "country_code": None, "installer": "uv",
         "python": "garbage", "system": "FreeBSD"},
    ],
    D2: [
        {"project": "pepy", "version": "2.0", "downloads": 15},
        {"project": "flask-login", "version": "0.6.10", "downloads": 9, "system": "Darwin", "python": "3.11.4"},
        # pypistats.org's edge cases: an unknown installer, a two-digit major, a Python with no minor.
        {"project": "flask-login", "version": "0.6.10", "downloads": 6, "installer": None, "python": "3.9.2"},
        # Upstream NULL Python and system on a counted row: pypistats.org's category "null".
        {"project": "flask-login", "version": "0.6.10", "downloads": 2, "python": None, "system": None},
    ],
    D3: [
        {"project": "pepy", "version": "1.0", "downloads": 20},
        {"project": "pepy", "version": "2.0", "downloads": 25, "ci": True},
        {"project": "flask-login", "version": "0.6.9", "downloads": 3, "file_type": "sdist", "country_code": "FR"},
        {"project": "flask-login", "version": "0.6.9", "downloads": 2, "python": "10.1.0"},
        # Upstream's empty system name is pypistats.org's "other", not its "null"; a lower-case
        # country code is the same country as its upper-case one.
        {"project": "flask-login", "version": "0.6.9", "downloads": 4, "system": "", "country_code": "fr"},
    ],
    D4: [
        {"project": "pepy", "version": "2.0", "downloads": 50},
        {"project": "flask-login", "version": "0.6.10", "downloads": 1, "installer": "Artifactory"},
        {"project": "flask-login", "version": "0.6.10", "downloads": 8, "python": "3"},
    ],
}


def python_minor(raw: str | None) -> str | None:
    """What day_query.sql stores for an upstream ``details.python`` (our grain)."""
    if raw is None:
        return None
    match = re.match(r"^([0-9]+\.[0-9]+)", raw)
    return match.group(1) if match else "invalid"


def grain(row: dict) -> dict:
    """A raw-like test row (with ``python``) at the warehouse grain (with ``python_minor``)."""
    out = {k: v for k, v in row.items() if k != "python"}
    out["python_minor"] = python_minor(row.get("python", "3.12.1"))
    return out


def rows_of(project: str) -> list[dict]:
    """Raw-like rows (``python`` is upstream's full string) with every default filled in."""
    defaults = {"file_type": "bdist_wheel", "country_code": "US", "installer": "pip", "python": "3.12.1",
                "system": "Linux", "ci": False}
    return [{**defaults, **row, "date": day} for day, rows in ROWS.items() for row in rows if row["project"] == project]


def build(home: Path, with_sample: bool = True, extra: dict[dt.date, list[dict]] | None = None) -> None:
    """Load ROWS (and sample projects on the same days, and ``extra`` rows), then publish a generation."""
    warehouse = home / "warehouse"
    sample = SampleSource(projects=120, rows_per_day=4000)
    with connected(f"chdb://{warehouse}") as client:
        migrate(client, "pepy")
        for day, rows in ROWS.items():
            others = list((extra or {}).get(day, []))
            if with_sample:
                table = sample.day_table(day).to_pylist()
                others += [{k: v for k, v in r.items() if k != "date"} for r in table if r["project"] not in ("pepy", "flask-login")]
            load_day(client, "pepy", RowsSource({day: [grain(r) for r in rows] + others}, batch_rows=5000), day)
        publish(client, "pepy", warehouse)
