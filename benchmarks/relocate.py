"""A second month with the same place texts: how much sooner it locates than the first.

The ED month's place texts (the typed rows the parse stage wrote) are located batch by batch as
pseudonymise locates them, once with nothing known (the shapes learned are kept in a known-shapes
file, as a run keeps them in pseudonymised/_locations/), then again by a fresh resolver that reads
that file. Issue 19's target: the second at most a fifth of the first's time.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path


def relocate(work: str, month: str, inputs: dict) -> dict:
    from anonymise.known_shapes import KnownShapes
    from anonymise.locate_batches import LocationResolver, ResolutionMemo
    from anonymise.reference import gazetteer
    from benchmarks.stages import _dir, _need
    from ingest.engine import parquet_batches, parquet_file
    from ingest.known_shapes import KnownShapesFile
    from ingest.pseudonymise import BATCH_ROWS, place_field
    from sharing_agreements.model import load_agreement

    typed = _need(_dir(work) / "ed_typed.parquet", "parse")
    field = place_field(load_agreement(), "ed")
    key, seconds = secrets.token_bytes(32), {}
    with tempfile.TemporaryDirectory(prefix="istv-bench-shapes-") as folder:
        for run in ("first", "second"):
            resolver = LocationResolver(gazetteer())
            shapes = KnownShapesFile(Path(folder) / "shapes.parquet", key)
            memo = ResolutionMemo(known=shapes.load() if run == "second" else KnownShapes(key))
            started = time.perf_counter()
            for batch in parquet_batches(typed, BATCH_ROWS, [field]):
                resolver.resolve_rows(batch.column(0), memo)
            seconds[run] = time.perf_counter() - started
            if run == "first":
                shapes.save(memo.known.take_learned())
    return {
        "rows": parquet_file(typed).metadata.num_rows,
        "first_seconds": seconds["first"],
        "second_seconds": seconds["second"],
        "second_vs_first": seconds["second"] / seconds["first"],
        "seconds": seconds["first"] + seconds["second"],
    }
