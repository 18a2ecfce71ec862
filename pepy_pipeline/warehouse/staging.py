"""Staging tables: empty copies of a target's structure, filled, verified and swapped in.

Named ``_staging_<table>_<key>_<random>`` where the key says what is being rebuilt (a day
``YYYYMMDD``, a month ``YYYYMM``, ``alltime``, ``recent``), so tables left behind by a killed run can be found
and dropped by the next run that rebuilds the same thing.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator

from pepy_pipeline.warehouse.sql_files import identifier

PREFIX = "_staging_"
_KEY = re.compile(r"^[A-Za-z0-9]+$")


def _key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a staging key: {key!r}")
    return key


#: A staging table this old is a killed writer's leftover: well past a live writer's (one statement
#: may take the server client's 1 h timeout, and a commit may wait for the commit mutex).
#: Concurrent writers of a server, or threads of one process, must not drop each other's tables.
STALE_STAGING_SECONDS = 6 * 3600


@contextlib.contextmanager
def staging_table(client, database: str, like: str, key: str) -> Iterator[str]:
    """Create ``database._staging_<like>_<key>_<id>`` AS ``database.like``; always drop it after."""
    name = f"{identifier(database)}.{PREFIX}{identifier(like)}_{_key(key)}_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE TABLE {identifier(name)} AS {database}.{like}")
    try:
        yield name
    finally:
        client.command(f"DROP TABLE IF EXISTS {name}")


def drop_stale(client, database: str, key: str | None = None, min_age_seconds: int = 0) -> list[str]:
    """Drop staging tables for ``key`` (all of them when None) created at least
    ``min_age_seconds`` ago: leftovers of killed runs."""
    pattern = f"{PREFIX}%" if key is None else f"{PREFIX}%\\_{_key(key)}\\_%"
    names = [
        row[0]
        for row in client.query(
            "SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE {p:String} "
            "AND metadata_modification_time <= now() - {age:UInt32}",
            parameters={"db": database, "p": pattern, "age": min_age_seconds},
        ).result_rows
    ]
    for name in names:
        client.command(f"DROP TABLE IF EXISTS {database}.{identifier(name)}")
    return names
