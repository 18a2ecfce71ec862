"""Reads the warehouse's ``.sql`` files and fills in table names (never user input).

Only identifiers are substituted here, after validation; values go through ClickHouse
server-side parameters (``{day:Date}``), which this module leaves untouched.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from pepy_warehouse.identifiers import identifier

SQL_DIR = Path(__file__).parent / "sql"
_PLACEHOLDER = re.compile(r"\{(database|target|facts|source|keys|value|dimension|source_dimension|measures|flags|resum)\}")
#: Placeholders filled with SQL fragments or literals that come from constants in our code.
_FRAGMENTS = ("keys", "value", "measures", "flags", "resum")
_LITERALS = ("dimension", "source_dimension")


@functools.cache
def _read(relative: str) -> str:
    return (SQL_DIR / relative).read_text()


def render(relative: str, **names: str) -> str:
    """The SQL file at ``relative`` with its ``{database}``-style placeholders filled in."""
    text = _read(relative)

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key not in names:
            raise KeyError(f"{relative} needs a value for {{{key}}}")
        value = names[key]
        if key in _FRAGMENTS:
            return value
        if key in _LITERALS:
            return "'" + identifier(value) + "'"
        return identifier(value)

    return _PLACEHOLDER.sub(fill, text)


def statements(sql: str) -> list[str]:
    """Split a file of DDL on ``;`` line ends, dropping comments-only chunks."""
    parts = re.split(r";\s*(?:\n|$)", sql)
    out = []
    for part in parts:
        code = "\n".join(line for line in part.splitlines() if not line.strip().startswith("--"))
        if code.strip():
            out.append(code.strip())
    return out
