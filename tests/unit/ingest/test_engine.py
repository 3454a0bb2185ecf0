"""Parquet writing on a thread of its own (ingest.engine.BackgroundParquetWriter)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.engine import BackgroundParquetWriter

SCHEMA = pa.schema([("n", pa.int64()), ("text", pa.string())])


def _tables(count: int) -> list[pa.Table]:
    return [
        pa.table({"n": list(range(i * 100, i * 100 + 100)), "text": [f"row {i}"] * 100}, schema=SCHEMA)
        for i in range(count)
    ]


def test_tables_are_written_in_order_as_a_plain_writer_writes_them(tmp_path):
    with BackgroundParquetWriter(tmp_path / "background.parquet", SCHEMA) as writer:
        for table in _tables(7):
            writer.write_table(table)
    with pq.ParquetWriter(tmp_path / "plain.parquet", SCHEMA) as writer:
        for table in _tables(7):
            writer.write_table(table)
    background, plain = pq.read_table(tmp_path / "background.parquet"), pq.read_table(tmp_path / "plain.parquet")
    assert background.equals(plain) and background["n"].to_pylist() == list(range(700))
    assert pq.ParquetFile(tmp_path / "background.parquet").metadata.num_row_groups == 7


def test_a_failed_write_raises_from_the_next_call(tmp_path):
    wrong = pa.table({"other": [1]})  # not the file's schema
    writer = BackgroundParquetWriter(tmp_path / "out.parquet", SCHEMA)
    writer.write_table(wrong)
    with pytest.raises(ValueError, match="schema"):
        writer.write_table(_tables(1)[0])
    writer.__exit__(None, None, None)


def test_an_error_in_the_caller_is_the_one_raised(tmp_path):
    with pytest.raises(RuntimeError, match="the caller's"):
        with BackgroundParquetWriter(tmp_path / "out.parquet", SCHEMA) as writer:
            writer.write_table(pa.table({"other": [1]}))
            raise RuntimeError("the caller's")
