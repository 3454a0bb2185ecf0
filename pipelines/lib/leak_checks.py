"""The leak scanner as the pipeline uses it: what is public (allowed) and which identifiers to
look for (the month's own identifier columns, read from the landing zone)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anonymise.leaks import LeakScanner, heads_in
from anonymise.reference import gazetteer
from ingest.engine import parquet_batches
from ingest.home import IstvHome
from ingest.pseudonymise import BATCH_ROWS
from schemas import load_codelist, schema_for_source
from schemas.model import CODELIST_DIR, SOURCES
from warehouse.tables import MATCH_RULE


@cache
def public_text() -> tuple[str, ...]:
    """Strings that may be published: gazetteer names, code-list labels, fixed descriptions."""
    names = [p.name for p in gazetteer()]
    labels = [c.label for path in CODELIST_DIR.glob("*.yaml") for c in load_codelist(path.stem).codes]
    return tuple(names + labels + [MATCH_RULE])


def identifiers_in(extracts: dict[str, Path]) -> Iterator[str | pa.Array]:
    """The identifier columns' values of parsed extracts (source -> Parquet file), a batch at a
    time (a national month has millions: they are never all held as Python text, and text
    columns are handed over as Arrow arrays, which the scanner digests in bulk). Free-text
    columns are left to the pattern detectors: receptionists type public street and venue names
    there, which are meant to be published."""
    for source, path in extracts.items():
        if not path.exists():
            continue
        schema = schema_for_source(source)
        columns = [f.name for f in schema.fields if f.identifier]
        seen = {}  # column -> its dates (of birth) met so far: a few tens of thousands a month
        for batch in parquet_batches(path, BATCH_ROWS, columns):
            for name, values in zip(batch.schema.names, batch.columns):
                if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
                    yield values
                    continue
                distinct = pc.unique(values.drop_null())
                before = seen.get(name, distinct[:0])
                new = distinct.filter(pc.invert(pc.is_in(distinct, value_set=before)))
                seen[name] = pa.concat_arrays([before, new])
                yield from map(str, new.to_pandas())  # as pandas prints them, the way they would leak


def scanner_for(
    home: IstvHome, month: dt.date, sources=SOURCES, tables: Iterable[pd.DataFrame] | None = None
) -> LeakScanner:
    return scanner_of({source: home.parsed_extract(source, month)[0] for source in sources}, tables)


def scanner_of(extracts: dict[str, Path], tables: Iterable[pd.DataFrame] | None = None) -> LeakScanner:
    """The leak scanner for the identifiers of parsed extracts (source -> Parquet file); with
    `tables`, one for those tables alone (LeakScanner's scope), quicker to make."""
    scope = None if tables is None else heads_in(tables)
    return LeakScanner(known_identifiers=identifiers_in(extracts), allowed_text=public_text(), scope=scope)


def findings_metadata(findings) -> dict[str, str | int]:
    """Where and how many, never what."""
    return {"findings": len(findings), "where": "; ".join(str(f) for f in findings) or "none"}
