"""ClickHouse identifiers (database and table names): refused where they enter (the settings, the
warehouse resource) and checked again by each public function that puts one in SQL, since those
are called with names from tests, benchmarks and scripts too."""

from __future__ import annotations

import re

_PART = r"[A-Za-z_][A-Za-z0-9_]*"
_IDENTIFIER = re.compile(rf"^{_PART}(\.{_PART})?$")
_NAME = re.compile(rf"^{_PART}$")


def identifier(name: str) -> str:
    """Return ``name`` if it is a plain (optionally database-qualified) identifier."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid ClickHouse identifier: {name!r}")
    return name


def database_name(name: str) -> str:
    """Return ``name`` if it is a plain identifier: a database, so not qualified (``pepy.prod``
    passed :func:`identifier` and failed at the first migration: a review)."""
    if not _NAME.match(name):
        raise ValueError(f"not a valid ClickHouse database name: {name!r}")
    return name
