"""DuckDB connections and Parquet readers and writers for work over row-level data (extracts,
pseudonymised rows): bounded memory, and spilling only inside the zone the rows come from."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:  # imported where a connection is made: a pseudonymise worker reads Parquet only,
    import duckdb  # and DuckDB's library would cost each worker 32 MB

# A national month (11M rows) must stay under 1 GiB of resident memory in every process, a Dagster
# step's included: past this limit DuckDB's joins and aggregates spill to disk. Two threads for
# the two cores the pipeline is sized for (each thread keeps buffers of its own, so threads
# beyond the cores cost memory, not time).
# Row order is not kept: every result read back has an ORDER BY, and without an order to keep
# DuckDB streams a Parquet write (a third of the time and half the memory of an ordered one).
DUCKDB_SETTINGS = {"threads": 2, "preserve_insertion_order": False}
ROW_LEVEL_MEMORY = "512MB"
# Uniqueness of an extract's keys runs beside a batch of rows held by pandas (and Great
# Expectations, 0.3 GB on its own): less for DuckDB. A national month's 10 million keys then
# spill in part, in the same time (1.9 s against 1.7 with 512MB); with 512MB its validation
# peaked at 1.2 GB.
KEYS_MEMORY = "128MB"


def processes_setting(variable: str) -> int:
    """Worker processes a step may share a large file out to: the environment `variable`, by
    default one per core."""
    value = os.environ.get(variable, "")
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{variable} must be a whole number of processes, 1 or more, not {value!r}")
    return int(value)


def parquet_file(path: Path) -> pq.ParquetFile:
    """A Parquet file to read batch by batch, in order. pyarrow's default pre-buffering reads
    ahead and holds a national file's next row groups (about 360 MB) for no gain when they are
    read in turn: it is turned off."""
    return pq.ParquetFile(path, pre_buffer=False)


def parquet_batches(path: Path, batch_rows: int, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    return parquet_file(path).iter_batches(batch_size=batch_rows, columns=columns)


class BackgroundParquetWriter:
    """A ParquetWriter whose writes run on a thread of their own while the caller makes the next
    table: pyarrow encodes and compresses without holding the GIL, so on a second core. One
    table at most waits to be written, so memory stays bounded; a failed write raises from the
    next call."""

    def __init__(self, path: Path, schema: pa.Schema):
        self._writer = pq.ParquetWriter(path, schema)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="parquet-writer")
        self._pending: Future | None = None

    def write_table(self, table: pa.Table) -> None:
        self._wait()
        self._pending = self._thread.submit(self._writer.write_table, table)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> BackgroundParquetWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            if error is None:
                self._wait()
            elif self._pending is not None:
                self._pending.exception()  # let the write end; the error in flight is the one to tell
        finally:
            self._thread.shutdown()
            self._writer.close()


@contextmanager
def row_level_duckdb(
    spill_zone: Path | None = None, memory_limit: str = ROW_LEVEL_MEMORY
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with bounded memory for work over row-level data.

    What it spills is row-level data too, so it goes to a fresh folder inside `spill_zone` (the
    zone the rows come from), removed afterwards. Without a zone it never spills (an empty
    temp_directory), rather than write to DuckDB's default folder in the working directory."""
    folder = tempfile.TemporaryDirectory(prefix=".duckdb-spill-", dir=spill_zone) if spill_zone else nullcontext("")
    import duckdb

    with folder as spill:
        con = duckdb.connect(config=DUCKDB_SETTINGS | {"memory_limit": memory_limit, "temp_directory": spill})
        con.execute("SET enable_progress_bar = false")  # else a long query draws one on the run's terminal
        try:
            yield con
        finally:
            con.close()
