"""Opening a ClickHouse client from a DSN: an embedded chDB directory or a server.

One place decides how a DSN becomes a client, so the pipeline, the API and the tests agree, and a
bad DSN is one clear error naming the (password-free) target.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import clickhouse_connect


class WarehouseUnavailable(RuntimeError):
    """The warehouse named by the DSN cannot be opened or reached."""


def is_embedded(dsn: str) -> bool:
    return dsn.startswith("chdb://")


def embedded_path(dsn: str) -> Path:
    """The data directory of a ``chdb:///abs/dir`` DSN."""
    path = dsn[len("chdb://"):]
    if not path.startswith("/"):
        raise WarehouseUnavailable(f"an embedded DSN needs an absolute path: chdb:///abs/dir, got {dsn!r}")
    return Path(path)


def redact(dsn: str) -> str:
    """The DSN without its password, safe for logs and error messages."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", dsn)


def open_client(dsn: str, **settings):
    """A clickhouse-connect client for ``dsn``; raises :class:`WarehouseUnavailable` if it fails."""
    if is_embedded(dsn):
        path = embedded_path(dsn)
        path.mkdir(parents=True, exist_ok=True)
    else:
        scheme = urlsplit(dsn).scheme
        if scheme not in ("http", "https", "clickhouse", "clickhouses"):
            raise WarehouseUnavailable(
                f"unsupported warehouse DSN {redact(dsn)!r}: use chdb:///abs/dir or http(s)://host:8123/db"
            )
    try:
        if not is_embedded(dsn):
            settings.setdefault("connect_timeout", 5)
        return clickhouse_connect.get_client(dsn=dsn, **settings)
    except Exception as error:  # noqa: BLE001 - every driver error becomes one clear message
        hint = ""
        if is_embedded(dsn) and "lock" in str(error).lower():
            hint = " (another process has this chDB directory open: only one process may use it at a time)"
        raise WarehouseUnavailable(f"cannot open the warehouse at {redact(dsn)}{hint}: {error}") from error


@contextlib.contextmanager
def connected(dsn: str, **settings) -> Iterator:
    """Open, yield and always close a client: closing releases chDB's directory lock."""
    client = open_client(dsn, **settings)
    try:
        yield client
    finally:
        client.close()
