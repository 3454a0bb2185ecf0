"""Validation of a month's typed extract (Parquet) against the schema's Great Expectations
suite (schemas.expectations), batch by batch, so that a national month is never held whole."""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ingest.engine import KEYS_MEMORY, parquet_file, row_level_duckdb
from schemas.expectations import ExpectationOutcome, ValidationSummary, extract_suite, validate, values_read
from schemas.model import Schema

BATCH_ROWS = 250_000


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


def validate_parquet(path: Path, schema: Schema, batch_rows: int = BATCH_ROWS) -> ValidationSummary:
    """Validate a large extract without holding it whole: GX runs batch by batch (a `mostly`
    threshold therefore applies to each batch), and uniqueness, which no batch can judge alone,
    is counted by DuckDB over the whole file."""
    suite = extract_suite(schema, uniqueness=False)
    merged: dict[tuple[str, str | None, str], ExpectationOutcome] = {}
    extract = parquet_file(path)
    names = extract.schema_arrow.names
    # Only the columns whose values an expectation reads are read; the others are there by name
    # (their existence is expected), without values: GX filters whole frames for each expectation,
    # and copying a national month's place texts for every filter was a third of validation.
    read = values_read(suite, names)
    unread = dict.fromkeys(set(names) - set(read), 0)
    frames = (
        batch.to_pandas().assign(**unread)[names]
        for batch in extract.iter_batches(batch_size=batch_rows, columns=read or None)
    )
    first = next(frames, None)
    with _cycles_collected_per_batch(math.ceil(extract.metadata.num_rows / batch_rows)) as collect:
        for frame in [pd.read_parquet(path)] if first is None else itertools.chain([first], frames):
            outcomes = validate(frame, suite).outcomes
            # GX's objects hold each batch in reference cycles: collected now, memory stays one
            # batch's whatever the file's size (without it a national month grew past 1.8 GB).
            del frame
            collect()
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
    outcomes = list(merged.values())
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
    return ValidationSummary(suite.name, tuple(outcomes))
