"""Pseudonymise a parsed extract file in bounded batches, so that a month is never in memory whole.

The typed rows (Parquet, written by the `<source>_extract` asset) are read BATCH_ROWS at a time,
the agreement's rules are applied to each batch (anonymise.apply.apply_rules) and its rows are
written to the pseudonymised Parquet file under one Arrow schema, fixed before the first batch.
The pseudonymise step (ingest/steps.py `pseudonymise_month`) and the benchmark call `pseudonymise_file`.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anonymise.apply import add_counts, apply_rules, total_counts
from anonymise.area import LSOA_FIELD
from anonymise.known_shapes import KnownShapes
from anonymise.locate import Resolution
from anonymise.locate_batches import LocationResolver, ResolutionMemo, text_shapes
from ingest.engine import parquet_file, processes_setting
from ingest.known_shapes import MAX_KNOWN, KnownShapesFile
from schemas import load_codelist, schema_for_source

if TYPE_CHECKING:  # the agreement is passed in: governance sits above ingestion
    from sharing_agreements.model import Agreement

# Rows pseudonymised at a time: bounds memory whatever the month's size. Applying the rules holds
# about 2 KB a row while a batch is worked on, so a worker's peak is mostly its batch: 50,000
# rows take no longer than 100,000 and 110 MB less in each worker (25,000 took 15% longer).
BATCH_ROWS = 50_000
# A worker process costs a fresh interpreter's start (about two seconds of imports): worth it for
# a file of this many rows or more per worker (a national month), not for a city's or a region's.
ROWS_PER_WORKER = 400_000
# With fewer row groups than this per worker, each row group is shared out between the workers.
ROW_GROUPS_PER_WORKER = 4


@dataclass(frozen=True)
class PseudonymisedFile:
    counts: dict[str, int]  # Pseudonymised.counts, summed over the batches
    counts_by_provider: dict[str, dict[str, int]]  # the same for each provider, as delivered
    fields: dict[str, list[str]]  # what the rules did with each field
    processes: int = 1  # worker processes the batches were shared out to (1: none, done here)
    shapes_learned: int = 0  # location shapes resolved here and added to the known shapes' file


def pseudonymise_file(
    typed: Path,
    out: Path,
    source: str,
    agreement: Agreement,
    field_keys: dict[str, bytes],
    resolver: LocationResolver,
    batch_rows: int = BATCH_ROWS,
    processes: int = 1,
    known_shapes: KnownShapesFile | None = None,
    rows_per_worker: int = ROWS_PER_WORKER,
) -> PseudonymisedFile:
    """Apply the agreement's rules for `source` to the typed rows in `typed`, batch by batch, and
    write the rows shared to `out`. The file is written under a temporary name and renamed when
    complete, so a failed run never leaves half a file.

    With `processes` > 1 and `rows_per_worker` rows or more for each, the typed file's row
    groups are read and pseudonymised in that many worker processes at once and written in
    their order: the same rows, sooner on a machine with the cores (each worker holds a batch of
    a row group at a time and its own memo of resolved places). Where a row group is shared
    between workers, its rows are written part by part (`_worker_tasks`).

    With `known_shapes`, location text shapes resolved in earlier files are not resolved again
    (every worker reads the file), and those resolved here are added to it once `out` is written:
    the same rows, sooner for a month whose texts were met before."""
    metadata = parquet_file(typed).metadata
    processes = min(processes, metadata.num_rows // rows_per_worker, metadata.num_row_groups)
    known_shapes = known_shapes if place_field(agreement, source) else None
    known = known_shapes.load() if known_shapes is not None and processes <= 1 else None
    apply = _rules_applier(source, agreement, field_keys, resolver, known)
    # The rules applied to no rows give the output's columns and types.
    empty = apply(pq.read_schema(typed).empty_table().to_pandas())
    arrow_schema = _output_schema(empty.rows)
    counts_by_provider: dict[str, dict[str, int]] = {}
    learned: dict[tuple[int, int], Resolution] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial_file = out.with_name(out.name + ".partial")
    try:
        with (
            _handoff_folder(out, processes) as handoff,
            pq.ParquetWriter(partial_file, arrow_schema, **_writer_options(arrow_schema)) as writer,
        ):
            setup = (source, agreement, field_keys, resolver, known_shapes, arrow_schema)
            for rows, batch_counts, batch_learned in _pseudonymised_parts(
                typed, batch_rows, processes, apply, setup, handoff
            ):
                if rows.num_rows:  # a row group per part: a batch here, a worker's share of a row group there
                    writer.write_table(rows, row_group_size=rows.num_rows)
                add_counts(counts_by_provider, batch_counts)
                _add_learned(learned, batch_learned)
        os.replace(partial_file, out)
    except BaseException:
        partial_file.unlink(missing_ok=True)
        raise
    if known is not None:
        _add_learned(learned, known.take_learned())
    if known_shapes is not None and learned:
        known_shapes.save(learned)
    return PseudonymisedFile(
        counts=total_counts(counts_by_provider),
        counts_by_provider=counts_by_provider,
        fields=empty.fields,
        processes=max(processes, 1),
        shapes_learned=len(learned),
    )


def _add_learned(learned: dict[tuple[int, int], Resolution], more: dict[tuple[int, int], Resolution]) -> None:
    """Shapes learned by a batch or a worker, added to the file's, at most MAX_KNOWN of them."""
    if len(learned) + len(more) <= MAX_KNOWN:
        learned.update(more)
        return
    for digest, resolution in more.items():
        if len(learned) >= MAX_KNOWN:
            break
        learned[digest] = resolution


@contextmanager
def _handoff_folder(out: Path, processes: int) -> Iterator[Path | None]:
    """Where workers hand their rows over as Arrow files, which the parent maps rather than
    receives through a pipe: a folder beside the output (the same zone), gone when the file is
    done or has failed. None when one process does the file."""
    if processes <= 1:
        yield None
        return
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.parts-") as folder:
        yield Path(folder)


def _writer_options(arrow_schema: pa.Schema) -> dict:
    """Pseudonyms are random hex, nearly every one distinct: neither a dictionary nor compression makes
    them smaller (3% larger files without), and trying costs about a third of the writing."""
    pseudonyms = {name for name in arrow_schema.names if name.endswith("_pseudonym")}
    return {
        "use_dictionary": [name for name in arrow_schema.names if name not in pseudonyms],
        "compression": {name: "none" if name in pseudonyms else "snappy" for name in arrow_schema.names},
    }


def pseudonymise_processes() -> int:
    """Worker processes per file: ISTV_PSEUDONYMISE_PROCESSES, by default one per core."""
    return processes_setting("ISTV_PSEUDONYMISE_PROCESSES")


def place_field(agreement: Agreement, source: str) -> str | None:
    """The field the rules resolve to a place, if any."""
    places = [
        name
        for name, rule in agreement.rules_for(source).fields.items()
        if rule.action == "generalise" and rule.to == "place"
    ]
    return places[0] if places else None


def _rules_applier(
    source: str,
    agreement: Agreement,
    field_keys: dict[str, bytes],
    resolver: LocationResolver,
    known: KnownShapes | None = None,
):
    schema = schema_for_source(source)
    return partial(
        apply_rules,
        rules=agreement.rules_for(source),
        field_keys=field_keys,
        code_keys={f.name: load_codelist(f.codelist).key_for() for f in schema.fields if f.codelist},
        normalisers={f.name: f.check for f in schema.fields if f.check},
        # One memo for the file (or worker): a text met in an earlier batch is not resolved again.
        resolve_places=partial(resolver.resolve_rows, memo=ResolutionMemo(known=known)),
        h3_resolution=agreement.spatial.h3_resolution,
        area=agreement.area.geography(),
        provider_field=schema.provider_field,
        lsoa_field=LSOA_FIELD if LSOA_FIELD in schema.field_names else None,
    )


_worker: dict = {}  # in a worker process: its rules applier, the output schema, the place field, known shapes


def keep_freed_memory() -> str:
    """Arrow's pool for a worker, which pseudonymises batches of one size again and again:
    jemalloc, which keeps freed pages for the next batch for a second (Arrow's setting), where
    the default (mimalloc) hands them back at once. A national month's pseudonymise stage peaked
    at 960 MB with it, 1,043 MB with the default, in the same time. Where the wheel has no
    jemalloc (macOS) the default stays. Returns the pool in use."""
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:
        pass
    return pa.default_memory_pool().backend_name


def _start_worker(source, agreement, field_keys, resolver, known_shapes, arrow_schema) -> None:
    keep_freed_memory()
    known = known_shapes.load() if known_shapes is not None else None
    _worker.update(
        apply=_rules_applier(source, agreement, field_keys, resolver, known),
        schema=arrow_schema,
        place=place_field(agreement, source),
        known=known,
    )


def _in_worker(
    typed: Path, row_group: int, part: int, parts: int, batch_rows: int, handoff: Path
) -> tuple[Path, dict[str, dict[str, int]], dict[tuple[int, int], Resolution]]:
    """Part `part` of `parts` of one row group of the typed file, read and pseudonymised here
    batch by batch: the rows written to an Arrow file in `handoff` (a record batch per batch),
    returned with their counts for each provider and the location shapes learned (by digest; at
    most MAX_LEARNED). The parent process only writes them to the output."""
    if parts > 1:
        rows = parquet_file(typed).read_row_group(row_group)
        batches = rows.filter(pa.array(_row_parts(rows, _worker["place"], parts) == part)).to_batches(batch_rows)
    else:  # a batch at a time: the worker never holds its whole row group
        batches = parquet_file(typed).iter_batches(batch_size=batch_rows, row_groups=[row_group])
    counts: dict[str, dict[str, int]] = {}
    path = handoff / f"{row_group}-{part}.arrow"
    with pa.ipc.new_file(path, _worker["schema"]) as handed:
        for batch in batches:
            shared, batch_counts = _pseudonymised_batch(batch, _worker["apply"], _worker["schema"])
            handed.write_table(shared)
            add_counts(counts, batch_counts)
    return path, counts, _worker["known"].take_learned() if _worker["known"] is not None else {}


def _handed_over(path: Path) -> pa.Table:
    """A worker's rows, mapped from its file rather than read; the file is removed at once (its
    pages stay mapped until the rows are written)."""
    rows = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    path.unlink()
    return rows


def _row_parts(rows: pa.Table, place: str | None, parts: int) -> np.ndarray:
    """Which part each row of a shared row group is in: by its place text's shape where the
    rules locate one, so that each worker meets only its own shapes (the first sight of a shape
    is most of the cost of locating, and an ED month's typos make 100,000 of them); rows without
    a shape, and every row where nothing is located, by position."""
    by_position = np.arange(rows.num_rows) % parts
    if place is None:
        return by_position
    shapes = text_shapes(rows.column(place))
    # crc32, not hash(): the same part in every worker process, whatever its hash seed.
    shape_part = np.array([zlib.crc32(shape.encode()) % parts for shape in shapes.dictionary.to_pylist()] + [-1])
    row_part = shape_part[shapes.indices.fill_null(len(shapes.dictionary)).to_numpy()]
    return np.where(row_part < 0, by_position, row_part)


def _pseudonymised_batch(
    batch: pa.RecordBatch, apply, arrow_schema: pa.Schema
) -> tuple[pa.Table, dict[str, dict[str, int]]]:
    """One batch's shared rows and counts for each provider."""
    with _cycle_collector_paused():
        result = apply(batch.to_pandas())  # typed as pd.read_parquet types the file
    return pa.Table.from_pandas(result.rows, schema=arrow_schema, preserve_index=False), result.counts_by_provider


def _pseudonymised_parts(typed: Path, batch_rows: int, processes: int, apply, setup: tuple, handoff: Path | None):
    """(rows, counts, shapes learned) of each part of the typed file in order: batch by batch
    here with `apply` (whose own memo keeps the shapes learned), or, with several processes, row
    group by row group in worker processes that each make their own applier from `setup` (the
    arguments of _start_worker) and hand their rows over in `handoff`."""
    if processes <= 1:
        for batch in parquet_file(typed).iter_batches(batch_size=batch_rows):
            yield *_pseudonymised_batch(batch, apply, setup[-1]), {}
        return
    # 'spawn': a fresh interpreter, never a fork of a process that runs threads (Dagster's, DuckDB's).
    context = multiprocessing.get_context("spawn")
    groups = parquet_file(typed).metadata.num_row_groups
    shared = groups < processes * ROW_GROUPS_PER_WORKER  # a few large row groups, each shared by the workers
    with ExitStack() as stack:
        # Where a worker must get the same part of every row group, one executor per worker process;
        # otherwise one for all, whose idle worker takes the next row group.
        executors = [
            stack.enter_context(
                ProcessPoolExecutor(
                    1 if shared else processes, mp_context=context, initializer=_start_worker, initargs=setup
                )
            )
            for _ in range(processes if shared else 1)
        ]
        for path, counts, learned in _in_order(
            executors, _worker_tasks(typed, groups, batch_rows, processes, shared, handoff), ahead=2 * processes
        ):
            yield _handed_over(path), counts, learned


def _worker_tasks(
    typed: Path, groups: int, batch_rows: int, processes: int, shared: bool, handoff: Path
) -> Iterator[tuple[int, partial]]:
    """The typed file's parts in order, each with the executor it goes to: a row group each, or
    where the row groups are `shared`, a part of every row group for each worker, the same rows'
    part every time (`_row_parts`). Each part reads its whole row group, which costs far less
    than pseudonymising its rows."""
    if not shared:
        return ((0, partial(_in_worker, typed, group, 0, 1, batch_rows, handoff)) for group in range(groups))
    return (
        (part, partial(_in_worker, typed, group, part, processes, batch_rows, handoff))
        for group in range(groups)
        for part in range(processes)
    )


def _in_order(executors: list[ProcessPoolExecutor], tasks: Iterator[tuple[int, partial]], ahead: int):
    """Each task's result in turn, with at most `ahead` tasks handed out: memory stays bounded
    however far the submitting runs ahead of the slowest worker."""
    pending: deque = deque()
    for executor, task in tasks:
        pending.append(executors[executor].submit(task))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _output_schema(empty: pd.DataFrame) -> pa.Schema:
    """The output's Arrow schema, from apply_rules' columns on no rows: every column's type
    follows from its dtype (none holds Python objects, whose type no empty column could tell)."""
    arrow_schema = pa.Schema.from_pandas(empty, preserve_index=False)
    untyped = [column.name for column in arrow_schema if pa.types.is_null(column.type)]
    if untyped:
        raise TypeError(f"the Arrow type of output column(s) {', '.join(untyped)} is not known")
    return arrow_schema


@contextmanager
def _cycle_collector_paused():
    """Applying the rules builds hundreds of thousands of small lists and tuples (words of place
    texts) while as many stay alive, which makes Python's cycle collector scan them again and
    again: a tenth to a fifth of the stage's time. Reference counting still frees them; any
    cycle a batch leaves is collected once the collector is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
