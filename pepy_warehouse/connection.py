"""Opening a ClickHouse client from a DSN: an embedded chDB directory or a server.

One place decides how a DSN becomes a client, so the pipeline, the API and the tests agree, and a
bad DSN is one clear error naming the (password-free) target.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
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


# The password runs to the last '@' before the query (it may hold a raw '@'); the user may be empty.
_USERINFO_PASSWORD = re.compile(r"(//[^:/?#@]*:)[^?#]*@")
_QUERY_PASSWORD = re.compile(r"([?&](?:password|pass|pwd)=)[^&#]*", re.IGNORECASE)


def redact(dsn: str) -> str:
    """The DSN without its password (in the user info or the query), safe for logs and messages."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1***@", dsn))


def held_by_another_process(path: Path) -> bool:
    """Whether an open engine holds the directory: ClickHouse keeps an exclusive ``flock`` on its
    ``status`` file while open. Checked only after an open failed, since chDB's own text varies."""
    try:
        fd = os.open(path / "status", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


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
        if is_embedded(dsn) and held_by_another_process(embedded_path(dsn)):
            hint = (" (another process has this chDB directory open: only one process may use it at a "
                    "time; wait for that run or command to finish, or stop it)")
        raise WarehouseUnavailable(f"cannot open the warehouse at {redact(dsn)}{hint}: {error}") from error


@contextlib.contextmanager
def connected(dsn: str, **settings) -> Iterator:
    """Open, yield and always close a client: closing releases chDB's directory lock."""
    client = open_client(dsn, **settings)
    try:
        yield client
    finally:
        client.close()
