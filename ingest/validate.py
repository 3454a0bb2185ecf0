"""Validation of a month's typed extract (Parquet) against the schema's Great Expectations
suite (schemas.expectations), batch by batch, so that a national month is never held whole; a
large file's batches are shared out to worker processes."""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ingest.engine import KEYS_MEMORY, parquet_file, processes_setting, row_level_duckdb
from schemas.expectations import ExpectationOutcome, ValidationSummary, extract_suite, validate, values_read
from schemas.model import Schema

BATCH_ROWS = 250_000
# A worker process costs a fresh interpreter and Great Expectations' import (about 2.5 s): worth
# it for a file of this many rows or more per worker (a national police month), not for an ED one.
ROWS_PER_WORKER = 2_000_000
PROCESSES_ENV = "ISTV_VALIDATE_PROCESSES"


def validate_processes() -> int:
    """Worker processes a large file's validation is shared out to: ISTV_VALIDATE_PROCESSES, by
    default one per core."""
    return processes_setting(PROCESSES_ENV)


def validate_parquet(path: Path, schema: Schema, batch_rows: int = BATCH_ROWS, processes: int = 1) -> ValidationSummary:
    """Validate a large extract without holding it whole: GX runs batch by batch (a `mostly`
    threshold therefore applies to each batch), and uniqueness, which no batch can judge alone,
    is counted by DuckDB over the whole file.

    A batch is a run of whole row groups of about `batch_rows` rows (`_batches`), the same
    whether one process validates them or, with `processes` > 1 and ROWS_PER_WORKER rows or more
    for each, worker processes do: the same outcomes either way."""
    now = dt.datetime.now()  # "not in the future" judged at one moment, in every worker
    extract = _Extract(path, schema, now, batch_rows)
    batches = _batches(extract.metadata, batch_rows)
    processes = min(processes, extract.metadata.num_rows // ROWS_PER_WORKER, len(batches))
    if processes > 1:
        outcomes = _merged(_in_workers(extract, batches, processes))
    else:
        with _cycles_collected_per_batch(len(batches)) as collect:
            outcomes = _merged(o for groups in batches for o in extract.validated(groups, collect))
    for column in schema.unique:
        # Counted as GX counts them: every row whose value occurs more than once. DuckDB's memory
        # is capped so that a national month's keys spill to disk rather than fill the machine.
        with row_level_duckdb(spill_zone=path.parent, memory_limit=KEYS_MEMORY) as con:
            duplicates = con.execute(
                "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM read_parquet(?) "
                f'WHERE "{column}" IS NOT NULL GROUP BY "{column}" HAVING count(*) > 1)',
                [str(path)],
            ).fetchone()[0]
        outcomes.append(
            ExpectationOutcome("expect_column_values_to_be_unique", column, duplicates == 0, int(duplicates), "error")
        )
    return ValidationSummary(extract.suite.name, tuple(outcomes))


def _batches(metadata, batch_rows: int) -> list[list[int]]:
    """The file's row groups in runs of `batch_rows` rows or just over (the last may be fewer),
    a row group of more rows than that in a run of its own (read `batch_rows` at a time); each
    run is validated as one batch. A file without rows is one run of no row groups, so that its
    columns are still checked."""
    batches: list[list[int]] = [[]]
    rows = 0
    for group in range(metadata.num_row_groups):
        size = metadata.row_group(group).num_rows
        if batches[-1] and (rows >= batch_rows or size > batch_rows):
            batches.append([])
            rows = 0
        batches[-1].append(group)
        rows += size
    return batches


@contextmanager
def _cycles_collected_per_batch(batches: int) -> Iterator[Callable[[], object]]:
    """What to call after each batch. Collecting after each batch looks only at objects made
    since the batches began: what was alive before (modules, GX's classes, the caller's objects)
    is set aside (gc.freeze), else each collection walks all of it again (a fifth of a national
    month's validation time). One batch needs none of it (its cycles go with the step's), and
    the first collection alone would walk a Dagster step's every object (0.2 s for a city month)."""
    if batches <= 1:
        yield lambda: None
        return
    gc.collect()
    gc.freeze()
    try:
        yield gc.collect
    finally:
        gc.unfreeze()


class _Extract:
    """A typed file read batch by batch for its suite: the suite, the file's footer and the
    columns read worked out once. Only the columns whose values an expectation reads are read;
    the others are there by name (their existence is expected), without values: GX filters whole
    frames for each expectation, and copying a national month's place texts for every filter was
    a third of validation."""

    def __init__(self, path: Path, schema: Schema, now: dt.datetime, batch_rows: int):
        self.arguments = (path, schema, now, batch_rows)  # what a worker process opens it again from
        self.suite = extract_suite(schema, uniqueness=False, now=now)
        self._path, self._batch_rows = path, batch_rows
        self._file = parquet_file(path)
        self.metadata = self._file.metadata
        self._names = self._file.schema_arrow.names
        self._read = values_read(self.suite, self._names)
        self._unread = dict.fromkeys(set(self._names) - set(self._read), 0)

    def validated(self, groups: list[int], collect: Callable[[], object]) -> Iterator[list[ExpectationOutcome]]:
        """The outcomes of the batch of these row groups (of each part of a large row group)."""
        if not groups:
            frames = iter([pd.read_parquet(self._path)])
        else:  # several row groups are of batch_rows or fewer each, read as one
            rows = self.metadata.row_group
            size = sum(rows(g).num_rows for g in groups) if len(groups) > 1 else self._batch_rows
            parts = self._file.iter_batches(batch_size=size, row_groups=groups, columns=self._read or None)
            frames = (part.to_pandas().assign(**self._unread)[self._names] for part in parts)
        for frame in frames:
            outcomes = validate(frame, self.suite).outcomes
            # GX's objects hold each batch in reference cycles: collected now, memory stays one
            # batch's whatever the file's size (without it a national month grew past 1.8 GB).
            del frame
            collect()
            yield outcomes


def _merged(per_batch: Iterable[list[ExpectationOutcome]]) -> list[ExpectationOutcome]:
    """The file's outcome of each expectation: a success if every batch's was, the unexpected
    rows of all batches."""
    merged: dict[tuple[str, str | None, str], ExpectationOutcome] = {}
    for outcomes in per_batch:
        for o in outcomes:
            key = (o.expectation, o.column, o.severity)
            before = merged.get(key)
            merged[key] = (
                o
                if before is None
                else ExpectationOutcome(
                    o.expectation,
                    o.column,
                    before.success and o.success,
                    before.unexpected_count + o.unexpected_count,
                    o.severity,
                )
            )
    return list(merged.values())


def _in_workers(extract: _Extract, batches: list[list[int]], processes: int) -> Iterator[list[ExpectationOutcome]]:
    """Each batch's outcomes (in no set order: merging them does not depend on it), validated
    here and in `processes` - 1 worker processes, which each open the file again from the
    extract's arguments. The workers take batches from the end, each kept busy with one more
    waiting; this process validates the rest from the front, beginning while the workers start.
    Memory stays a batch or two per process."""
    todo = deque(batches)
    pending: deque = deque()
    workers = processes - 1
    # 'spawn': a fresh interpreter, never a fork of a process that runs threads (Dagster's, DuckDB's).
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=extract.arguments) as pool,
        _cycles_collected_per_batch(len(batches)) as collect,
    ):
        while todo:
            while todo and len(pending) < 2 * workers:
                pending.append(pool.submit(_in_worker, todo.pop()))
            if todo:
                yield from extract.validated(todo.popleft(), collect)
            while pending and pending[0].done():
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


_worker: dict = {}  # in a worker process: the file it validates batches of


def _start_worker(path: Path, schema: Schema, now: dt.datetime, batch_rows: int) -> None:
    _worker["extract"] = _Extract(path, schema, now, batch_rows)
    # A worker does nothing but validate batches: what it holds before the first (modules, GX's
    # classes) is set aside for good, as _cycles_collected_per_batch does for one process.
    gc.collect()
    gc.freeze()


def _in_worker(groups: list[int]) -> list[ExpectationOutcome]:
    return _merged(_worker["extract"].validated(groups, gc.collect))
