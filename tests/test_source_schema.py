"""A batch that does not match the canonical schema is refused with a message naming the column."""

import datetime as dt

import pyarrow as pa
import pytest

from pepy_pipeline.sources.schema import WAREHOUSE_SCHEMA, SourceSchemaError, conform_batch
from tests.support.sources import rows_table

DAY = dt.date(2026, 11, 1)


def good_batch() -> pa.RecordBatch:
    return rows_table([{"date": DAY, "project": "pepy", "version": "1.0", "downloads": 3}]).to_batches()[0]


def test_reordered_and_dictionary_columns_are_accepted():
    batch = good_batch()
    shuffled = pa.RecordBatch.from_arrays(
        [batch.column(i).dictionary_encode() if batch.schema.field(i).name == "project" else batch.column(i)
         for i in reversed(range(batch.num_columns))],
        names=list(reversed(batch.schema.names)),
    )
    assert conform_batch(shuffled).schema.equals(WAREHOUSE_SCHEMA)
    assert conform_batch(shuffled).column("project").to_pylist() == ["pepy"]


def test_missing_column_is_named():
    batch = good_batch().drop_columns(["installer"])
    with pytest.raises(SourceSchemaError, match=r"missing \['installer'\]"):
        conform_batch(batch)


def test_wrong_type_is_named():
    batch = good_batch()
    index = batch.schema.get_field_index("downloads")
    broken = batch.set_column(index, "downloads", pa.array(["3"]))
    with pytest.raises(SourceSchemaError, match="'downloads' has type string"):
        conform_batch(broken)


def test_nulls_in_a_required_column_are_refused():
    batch = good_batch()
    index = batch.schema.get_field_index("project")
    broken = batch.set_column(index, pa.field("project", pa.string()), pa.array([None], pa.string()))
    with pytest.raises(SourceSchemaError, match="'project' has 1 NULLs"):
        conform_batch(broken)


def test_low_cardinality_columns_become_int32_string_dictionaries_whatever_the_input():
    batch = good_batch()
    index = batch.schema.get_field_index("installer")
    small = pa.DictionaryArray.from_arrays(pa.array([0], pa.int8()), pa.array(["pip"], pa.large_string()))
    conformed = conform_batch(batch.set_column(index, "installer", small))
    assert conformed.schema.equals(WAREHOUSE_SCHEMA)
    assert conformed.column("installer").to_pylist() == ["pip"]
