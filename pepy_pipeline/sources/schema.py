"""The one Arrow schema every source yields: one day of downloads at the warehouse grain.

Keeping it in one place lets the loader refuse a batch that does not match before anything is
written, whatever the source.
"""

from __future__ import annotations

import pyarrow as pa

DOWNLOADS_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("project", pa.string(), nullable=False),
        pa.field("version", pa.string(), nullable=False),
        pa.field("file_type", pa.string()),
        pa.field("country_code", pa.string()),
        pa.field("installer", pa.string()),
        pa.field("python_minor", pa.string()),
        pa.field("system", pa.string()),
        pa.field("ci", pa.bool_(), nullable=False),
        pa.field("downloads", pa.int64(), nullable=False),
    ]
)

#: Installers that mirror PyPI rather than install from it (pypistats' rule).
MIRROR_INSTALLERS = ("bandersnatch", "z3c.pypimirror", "Artifactory", "devpi")

#: Value stored in ``python_minor`` when upstream sent a Python version we cannot parse.
INVALID_PYTHON = "invalid"


class SourceSchemaError(ValueError):
    """A source produced a batch that does not match :data:`DOWNLOADS_SCHEMA`."""


def conform_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Return ``batch`` in the canonical schema, or raise :class:`SourceSchemaError`.

    Column order may differ and dictionary-encoded or large strings are accepted (they are cast),
    but a missing or extra column, or an incompatible type, is an error naming the column.
    """
    names = set(batch.schema.names)
    expected = set(DOWNLOADS_SCHEMA.names)
    if names != expected:
        missing = sorted(expected - names)
        extra = sorted(names - expected)
        raise SourceSchemaError(
            f"source batch has the wrong columns: missing {missing}, unexpected {extra}"
        )
    arrays = []
    for field in DOWNLOADS_SCHEMA:
        column = batch.column(field.name)
        if not _castable(column.type, field.type):
            raise SourceSchemaError(
                f"source column {field.name!r} has type {column.type}, expected {field.type}"
            )
        if column.type != field.type:
            column = column.cast(field.type)
        if not field.nullable and column.null_count:
            raise SourceSchemaError(f"source column {field.name!r} has {column.null_count} NULLs")
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=DOWNLOADS_SCHEMA)


def _castable(actual: pa.DataType, expected: pa.DataType) -> bool:
    if actual == expected:
        return True
    if pa.types.is_dictionary(actual):
        return _castable(actual.value_type, expected)
    if pa.types.is_string(expected):
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_date(expected):
        return pa.types.is_date(actual)
    return False
