"""Raw rows of the production table (nested, as BigQuery stores them) and an independent
pure-Python reference of the day aggregate the extract must produce."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter

from google.cloud import bigquery

F = bigquery.SchemaField
PRODUCTION_SCHEMA = [
    F("timestamp", "TIMESTAMP"), F("country_code", "STRING"), F("url", "STRING"), F("project", "STRING"),
    F("file", "RECORD", fields=[F("filename", "STRING"), F("project", "STRING"), F("version", "STRING"),
                                F("type", "STRING")]),
    F("details", "RECORD", fields=[
        F("installer", "RECORD", fields=[F("name", "STRING"), F("version", "STRING")]),
        F("python", "STRING"),
        F("implementation", "RECORD", fields=[F("name", "STRING"), F("version", "STRING")]),
        F("distro", "RECORD", fields=[F("name", "STRING"), F("version", "STRING"), F("id", "STRING"),
                                      F("libc", "RECORD", fields=[F("lib", "STRING"), F("version", "STRING")])]),
        F("system", "RECORD", fields=[F("name", "STRING"), F("release", "STRING")]),
        F("cpu", "STRING"), F("openssl_version", "STRING"), F("setuptools_version", "STRING"),
        F("rustc_version", "STRING"), F("ci", "BOOLEAN"),
    ]),
    F("tls_protocol", "STRING"), F("tls_cipher", "STRING"),
]

PROJECTS = {"requests": ["2.31.0", "2.32.3"], "flask-login": ["0.6.3"], "numpy": ["1.26.4", "2.1.0", None]}
PYTHONS = ["3.12.3", "3.11.9", "3.9", "2.7.18", None, "garbage", "3", "pypy-7", "3.13.0rc1"]
INSTALLERS = ["pip", "uv", "bandersnatch", "Artifactory", "poetry"]


def raw_rows(day: dt.date, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    rows = []
    for index in range(count):
        project = rng.choice(list(PROJECTS))
        version = rng.choice(PROJECTS[project])
        if index == 0:
            stamp = start  # the first microsecond of the day
        elif index == 1:
            stamp = start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)  # the last one
        else:
            stamp = start + dt.timedelta(seconds=rng.randrange(86400))
        details = None if rng.random() < 0.1 else {
            "installer": {"name": rng.choice(INSTALLERS), "version": "1"},
            "python": rng.choice(PYTHONS),
            "system": {"name": rng.choice(["Linux", "Windows", "Darwin", None]), "release": "x"},
            "ci": True if rng.random() < 0.3 else None,
        }
        rows.append({
            "timestamp": stamp.isoformat().replace("+00:00", "Z"),
            "country_code": rng.choice(["US", "DE", None, "JP"]),
            "project": project,
            "file": {"filename": f"{project}.whl", "project": project, "version": version,
                     "type": rng.choice(["bdist_wheel", "sdist"])},
            "details": details,
        })
    return rows


def outside_rows(day: dt.date) -> list[dict]:
    """Rows 1 µs either side of the day: must never be counted in it."""
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    base = {"country_code": "US", "project": "requests",
            "file": {"filename": "r.whl", "project": "requests", "version": "2.31.0", "type": "bdist_wheel"},
            "details": {"installer": {"name": "pip"}, "python": "3.12.1", "system": {"name": "Linux"}, "ci": None}}
    before = (start - dt.timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")
    after = (start + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    return [{**base, "timestamp": before}, {**base, "timestamp": after}]


def python_minor(value: str | None) -> str | None:
    if value is None:
        return None
    match = re.match(r"^([0-9]+\.[0-9]+)", value)
    return match.group(1) if match else "invalid"


def expected_aggregate(day: dt.date, rows: list[dict]) -> Counter:
    counts: Counter = Counter()
    for row in rows:
        stamp = dt.datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        if stamp.date() != day:
            continue
        details = row["details"] or {}
        counts[(
            row["project"], row["file"]["version"] or "", row["file"]["type"], row["country_code"],
            (details.get("installer") or {}).get("name"), python_minor(details.get("python")),
            (details.get("system") or {}).get("name"), bool(details.get("ci")),
        )] += 1
    return counts


def aggregate_of_batches(batches) -> Counter:
    import pyarrow as pa

    counts: Counter = Counter()
    for batch in batches:
        for r in pa.Table.from_batches([batch]).to_pylist():
            counts[(r["project"], r["version"], r["file_type"], r["country_code"], r["installer"],
                    r["python_minor"], r["system"], r["ci"])] += r["downloads"]
    return counts
