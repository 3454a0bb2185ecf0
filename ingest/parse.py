"""Read a delivered extract into typed rows, following its declared schema.

Every row ends up either passed (typed) or quarantined with the reasons it failed, so that
rows in = rows passed + rows quarantined always holds. Title rows above the header, blank rows
and footer rows ("Total,123", "End of report") are not data rows: they are counted apart. Messages
name the file, the line and the column, never a value: the file holds identifiers. How the file
itself is read (encoding, delimiter, header row, footer) is in `ingest.layout`. The rules a row must
meet are the schema's (`schemas.rules`): the Great Expectations suite checks the passed rows by the same.

Dates are read day first, as in the UK: DD/MM/YYYY, YYYY-MM-DD or DD-MMM-YYYY (06-Oct-2018), with
or without a time (HH:MM or HH:MM:SS), and a file may mix them. A US-style month-first date is never
guessed at: 10/31/2018 is not a valid date, and 10/06/2018 is 10 June, which the month check then
quarantines as "not in the month being ingested" when it lands outside it.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from anonymise.nhs_number import valid_nhs_numbers
from ingest.engine import KEYS_MEMORY, BackgroundParquetWriter, parquet_batches, row_level_duckdb
from ingest.layout import ExtractError, Layout, NotPlain, TableReader, count_fields
from schemas import Schema
from schemas.model import Field
from schemas.rules import (
    InCodelist,
    MatchesPattern,
    Maximum,
    MaxLength,
    Minimum,
    NhsNumber,
    NotAfter,
    NotInFuture,
    Required,
    Rule,
    Unique,
    Within,
    rules_of,
)

__all__ = [
    "Extract",
    "ExtractError",
    "Survey",
    "arrow_schema",
    "concatenate_parquet",
    "parse_extract",
    "read_extract",
    "safe_file_name",
    "survey",
]

BATCH_ROWS = 50_000  # rows typed and checked at a time: bounds memory whatever the file's size
TYPING_THREADS = 2  # a batch's fields typed side by side, one per core

_DAYS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%b-%Y")
DATE_FORMATS = _DAYS
DATETIME_FORMATS = (
    *(f"{d} {t}" for d in _DAYS for t in ("%H:%M", "%H:%M:%S")),
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
)
MONTH_FORMATS = ("%Y-%m",)
TIME_FORMATS = {"date": DATE_FORMATS, "datetime": DATETIME_FORMATS, "month": MONTH_FORMATS}
ARROW_TYPES = {
    "date": pa.timestamp("us"),
    "datetime": pa.timestamp("us"),
    "month": pa.timestamp("us"),
    "float": pa.float64(),
    "integer": pa.int64(),
}


def arrow_schema(schema: Schema) -> pa.Schema:
    """The passed rows' columns and types, the same for every batch and every file."""
    return pa.schema(
        [("source_line", pa.int64())] + [(f.name, ARROW_TYPES.get(f.type, pa.string())) for f in schema.fields]
    )


@dataclass
class Extract:
    quarantined: pd.DataFrame  # raw rows that failed, with `source_line` and `reasons`
    rows_in: int  # data rows: title, blank and footer rows are not counted
    rows_passed: int
    provider: str  # the provider most passed rows name ("unknown" when none does)
    undeclared_columns: list[str] = field(default_factory=list)
    title_rows: int = 0  # lines above the header row (report titles, blank lines)
    footer_rows: int = 0  # trailing totals, "End of report" and blank rows
    blank_rows: int = 0  # blank rows between the header and the footer
    encoding: str = "utf-8"
    delimiter: str = ","
    rows: pd.DataFrame | None = None  # passed rows, typed, with `source_line`: read_extract only

    @property
    def reason_counts(self) -> dict[str, int]:
        if self.quarantined.empty:
            return {}
        reasons = self.quarantined["reasons"].str.split("; ").explode()
        return {k: int(v) for k, v in reasons.value_counts().sort_index().items()}


def _text_column(values: tuple[str, ...]) -> pd.Series:
    """One column of a batch as text, stripped of surrounding spaces, without a Python step per value."""
    return pd.Series(pc.utf8_trim_whitespace(pa.array(values, type=pa.string())), dtype="str")


def _frames(
    records: list[list[str]], lines: list[int], layout: Layout, schema: Schema
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Well-formed rows as text (declared columns only), and rows with the wrong number of fields.

    A misshapen row cannot be split into columns with any confidence, so it is quarantined with
    its line and the reason only: no value, lest an undeclared column's value ride along."""
    width = len(layout.header)
    bad = [i for i, r in enumerate(records) if len(r) != width]
    misshapen = pd.DataFrame({"source_line": pd.array([lines[i] for i in bad], dtype="int64")})
    for name in schema.field_names:
        misshapen[name] = pd.Series([None] * len(bad), dtype="str")
    misshapen["reasons"] = pd.Series(
        [f"row has {count_fields(len(records[i]))} where the header has {width}" for i in bad], dtype="str"
    )
    if bad:
        misfits = set(bad)
        lines = [line for i, line in enumerate(lines) if i not in misfits]
        records = [r for i, r in enumerate(records) if i not in misfits]
    by_position = list(zip(*records)) if records else [()] * width
    frame = pd.DataFrame(
        {f.name: _text_column(by_position[layout.columns[f.header]]) for f in schema.fields},
        index=pd.RangeIndex(len(records)),
    )
    frame.insert(0, "source_line", pd.array(lines, dtype="int64"))
    return frame, misshapen


def _text(values: pd.Series) -> pa.ChunkedArray:
    """A text column's Arrow data, without a copy (a batch's text is Arrow-backed)."""
    return pa.chunked_array(pa.array(values, type=pa.string()))


def _flags(mask: pa.ChunkedArray) -> np.ndarray:
    """An Arrow mask without nulls as a NumPy one."""
    return mask.to_numpy(zero_copy_only=False)


# What each part of a format reads where Arrow's strptime reads it exactly as pandas' to_datetime
# does. Elsewhere they part: Arrow takes a 2-digit year, a full month name or no space between
# date and time, and moves 31/02 on to 3 March; pandas takes "oct", "t" for "T", a tab between
# date and time, and seconds 60 and 61; pandas' ISO formats take year 0000, its others do not.
_PLAIN_PARTS = {
    "%d": "(?P<day>0?[1-9]|[12][0-9]|3[01])",
    "%m": "(?:0?[1-9]|1[0-2])",
    "%b": "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)",
    "%Y": "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])",
    "%H": "(?:[01]?[0-9]|2[0-3])",
    "%M": "[0-5][0-9]",
    "%S": "[0-5][0-9]",
}


@functools.cache
def _plain_shape(fmt: str) -> str:
    """The texts that `fmt` reads alike in Arrow and pandas, as a regular expression."""
    return "^" + "".join(_PLAIN_PARTS.get(part, re.escape(part)) for part in re.split("(%.)", fmt) if part) + "$"


def _real_days(text: pa.ChunkedArray, read: pa.ChunkedArray, fmt: str) -> np.ndarray:
    """False where the text names a day its month lacks: Arrow reads 31/02 as 3 March where pandas
    reads no date. Such a day lands on the 1st to 3rd of the next month, so only those are looked at."""
    real = np.ones(len(text), dtype=bool)
    early = _flags(pc.fill_null(pc.less_equal(pc.day(read), 3), False))
    if "%d" in fmt and early.any():
        day = pc.cast(pc.struct_field(pc.extract_regex(pc.filter(text, early), _plain_shape(fmt)), "day"), pa.int64())
        real[early] = _flags(pc.fill_null(pc.equal(day, pc.day(pc.filter(read, early))), False))
    return real


def _read_plain(text: pa.ChunkedArray, fmt: str) -> np.ndarray:
    """Times read by Arrow under `fmt`; NaT where the text is not of the plain shape that Arrow and
    pandas read alike, or names a day its month lacks."""
    read = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    plain = _flags(pc.match_substring_regex(text, _plain_shape(fmt)))
    return np.where(plain & _real_days(text, read, fmt), read.to_numpy(zero_copy_only=False), np.datetime64("NaT"))


# pandas' to_datetime reads these words, under any format, as the moment it reads them: a row
# would pass with the time of the run. They are not dates.
_MOMENT_WORDS = pa.array(["now", "today"])


def _parse_times(values: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """The times as pandas' to_datetime reads them under the first of `formats` that reads them
    (but never "now" or "today"). Arrow reads most texts, fast; pandas, slow, only those Arrow
    cannot read as pandas does."""
    text = _text(values)
    to_read = _flags(pc.and_(pc.not_equal(text, ""), pc.invert(pc.is_in(text, _MOMENT_WORDS))))
    parsed = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    formats = _likeliest_first(text, formats)
    for fmt in formats:
        if not to_read.any():
            break
        parsed[to_read] = _read_plain(pc.filter(text, to_read), fmt)
        to_read &= np.isnat(parsed)
    for fmt in formats:
        if not to_read.any():
            break
        parsed[to_read] = pd.to_datetime(values[to_read], format=fmt, errors="coerce").to_numpy(dtype="datetime64[us]")
        to_read &= np.isnat(parsed)
    return pd.Series(parsed, index=values.index)


def _likeliest_first(text: pa.ChunkedArray, formats: tuple[str, ...], sample: int = 200) -> list[str]:
    """The formats, those that read most of a sample first. No text reads under two of them (they
    differ in their separators or fields), so the order changes the time taken, not the result."""
    head = pc.filter(text, pc.not_equal(text, ""))[:sample]
    hits = {fmt: pc.count(pc.strptime(head, format=fmt, unit="us", error_is_null=True)).as_py() for fmt in formats}
    return sorted(formats, key=lambda fmt: -hits[fmt])


# Numbers that Arrow and pandas' to_numeric both read exactly (correctly rounded): plain decimals
# short enough that their digits fit a double's. pandas reads longer ones and exponents less
# exactly, and reads "inf", "nan" and the like: those are left to pandas.
_PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$"
_PLAIN_NUMBER_LENGTH = 15


def _parse_numbers(values: pd.Series) -> pd.Series:
    """The numbers as pandas' to_numeric reads them (NaN where none), Arrow reading the plain ones."""
    text = _text(values)
    plain = pc.and_(
        pc.match_substring_regex(text, _PLAIN_NUMBER), pc.less_equal(pc.utf8_length(text), _PLAIN_NUMBER_LENGTH)
    )
    numbers = pc.cast(pc.if_else(plain, text, None), pa.float64()).to_numpy(zero_copy_only=False)
    rest = ~_flags(plain) & _flags(pc.not_equal(text, ""))
    if rest.any():
        numbers[rest] = pd.to_numeric(values[rest], errors="coerce").to_numpy(dtype="float64")
    return pd.Series(numbers, index=values.index)


class _Problems:
    """Why each row of a batch fails, kept as one mask per check: most rows fail none, so the
    reasons are only written out for the rows that do."""

    def __init__(self, rows: int, fields: list[str]):
        self.rows, self.fields = rows, fields
        self.checks: dict[str, list[tuple[np.ndarray, str]]] = {name: [] for name in fields}

    def add(self, field: str, mask: pd.Series | np.ndarray, reason: str) -> None:
        hits = mask.to_numpy(dtype=bool, na_value=False) if isinstance(mask, pd.Series) else mask
        if hits.any():
            self.checks[field].append((hits, reason))

    def failed(self) -> np.ndarray:
        failed = np.zeros(self.rows, dtype=bool)
        for checks in self.checks.values():
            for hits, _ in checks:
                failed |= hits
        return failed

    def frame(self, rows: np.ndarray) -> pd.DataFrame:
        """Per field, the reasons of each of `rows` ("" where none), each followed by "|"."""
        cells = {}
        for name in self.fields:
            column = np.full(int(rows.sum()), "", dtype=object)
            for hits, reason in self.checks[name]:
                column[hits[rows]] += reason + "|"
            cells[name] = column
        return pd.DataFrame(cells, columns=self.fields)


class _Column(NamedTuple):
    """One column of a batch: its text as delivered, stripped (`text` is the same in Arrow), where
    it is blank, and its typed values (null where blank)."""

    values: pd.Series
    text: pa.ChunkedArray
    blank: np.ndarray
    typed: pd.Series | pa.ChunkedArray


def _within(rule: Within, typed: dict[str, pd.Series | pa.ChunkedArray]) -> pd.Series:
    start, end = typed[rule.start], typed[rule.end] + pd.Timedelta(days=1)  # to the end of the end day
    value = typed[rule.field]
    return (value < start) | (value >= end)


# Where each kind of rule (schemas.rules) is broken, vectorised: the rules one value can break,
# on its column, and those comparing fields of a row, on the typed columns. Blank values break
# no rule but Required: the others run on typed values (null where blank) or skip blanks.
_VALUE_CHECKS: dict[type[Rule], Callable[[Any, _Column], np.ndarray | pd.Series]] = {
    Required: lambda rule, c: c.blank,
    Minimum: lambda rule, c: c.typed < rule.bound,
    Maximum: lambda rule, c: c.typed > rule.bound,
    InCodelist: lambda rule, c: ~c.blank & ~_flags(pc.is_in(c.text, value_set=pa.array(rule.codes, type=pa.string()))),
    MatchesPattern: lambda rule, c: ~c.blank & ~c.values.str.fullmatch(rule.pattern),
    MaxLength: lambda rule, c: _flags(pc.greater(pc.utf8_length(c.text), rule.characters)),
    NhsNumber: lambda rule, c: ~c.blank & ~valid_nhs_numbers(c.values),
    NotInFuture: lambda rule, c: c.typed > rule.now,
}
_ROW_CHECKS: dict[type[Rule], Callable[[Any, dict[str, pd.Series | pa.ChunkedArray]], pd.Series]] = {
    NotAfter: lambda rule, typed: typed[rule.field] > typed[rule.later],
    Within: _within,
}


@dataclass(frozen=True)
class _Checks:
    """A schema's rules, by when parse can tell a row breaks them."""

    of_values: dict[str, list[Rule]]  # field -> rules a value breaks alone: checked as the field is typed
    of_rows: list[Rule]  # rules comparing fields of a row: checked once all of them are typed
    unique: list[Unique]  # keys no two rows may share: checked over the whole file


def _checks(schema: Schema, now: dt.datetime) -> _Checks:
    checks = _Checks({name: [] for name in schema.field_names}, [], [])
    for rule in rules_of(schema, now):
        if type(rule) in _VALUE_CHECKS:
            checks.of_values[rule.field].append(rule)
        elif type(rule) in _ROW_CHECKS:
            checks.of_rows.append(rule)
        elif isinstance(rule, Unique):
            checks.unique.append(rule)
        elif rule.reason is not None:  # a rule no row breaks alone (usually_present) is Great Expectations' alone
            raise TypeError(f"parse has no check for {type(rule).__name__}")
    return checks


def _typed(
    raw: pd.DataFrame, schema: Schema, checks: _Checks, problems: _Problems, threads: Executor
) -> dict[str, pd.Series | pa.ChunkedArray]:
    """Typed columns (times and numbers as pandas, text as Arrow: null where blank); each value
    that does not parse, or breaks a rule, adds a reason to `problems`, field by field in the
    schema's order. Fields are typed on `threads`: Arrow's kernels let go of the GIL."""
    typed, fields = {}, schema.fields
    for f, (out, broken) in zip(fields, threads.map(functools.partial(_typed_field, raw, checks), fields)):
        for mask, reason in broken:
            problems.add(f.name, mask, reason)
        typed[f.name] = out
    return typed


def _typed_field(raw: pd.DataFrame, checks: _Checks, f: Field) -> tuple[pd.Series | pa.ChunkedArray, list]:
    """One field's typed values, and (rows, reason) for each rule its values break."""
    values = raw[f.name].fillna("")
    text = _text(values)
    blank = _flags(pc.equal(text, ""))
    broken = []
    if f.type in ("date", "datetime", "month"):
        out = _parse_times(values, TIME_FORMATS[f.type])
        broken.append((~blank & out.isna(), f"{f.name}: not a valid {f.type}"))
    elif f.type in ("float", "integer"):
        out = _parse_numbers(values)
        broken.append((~blank & out.isna(), f"{f.name}: not a number"))
    else:
        out = pc.if_else(blank, pa.scalar(None, pa.string()), text)
    column = _Column(values, text, blank, out)
    for rule in checks.of_values[f.name]:
        broken.append((_VALUE_CHECKS[type(rule)](rule, column), rule.reason))
    if f.type == "integer":
        # Whole and within a double's exact integers (numbers are read as doubles).
        whole = out.isna() | ((out % 1 == 0) & (out.abs() <= 2**53))
        broken.append((~whole, f"{f.name}: not a whole number"))
        out = out.where(whole).astype("Int64")
    return out, broken


def _problems(
    raw: pd.DataFrame, schema: Schema, checks: _Checks, month: dt.date, threads: Executor
) -> tuple[dict[str, pd.Series | pa.ChunkedArray], _Problems]:
    """Typed columns, and why rows fail."""
    problems = _Problems(len(raw), schema.field_names)
    typed = _typed(raw, schema, checks, problems, threads)
    for rule in checks.of_rows:
        problems.add(rule.field, _ROW_CHECKS[type(rule)](rule, typed), rule.reason)
    when = typed[schema.month_field]
    first_day = when.to_numpy().astype("datetime64[M]").astype("datetime64[D]")  # of the month each row falls in
    other_month = when.notna() & (first_day != np.datetime64(month, "D"))
    problems.add(
        schema.month_field, other_month, f"{schema.month_field}: not in {month:%Y-%m}, the month being ingested"
    )
    return typed, problems


def _reasons(problems: pd.DataFrame) -> list[str]:
    return ["; ".join(p for cell in row for p in cell.split("|") if p) for row in problems.itertuples(index=False)]


class _Quarantine:
    """The rows that failed, held until the whole file is read: a row's reasons are final only
    once uniqueness, which no batch can judge alone, has been checked over the whole file."""

    def __init__(self, schema: Schema):
        self.raw = [
            pd.DataFrame(
                {"source_line": pd.Series(dtype="int64"), **{n: pd.Series(dtype="str") for n in schema.field_names}}
            )
        ]
        self.problems = [pd.DataFrame(columns=schema.field_names, dtype=object)]
        self.misshapen: list[pd.DataFrame] = []

    def add(self, raw: pd.DataFrame, problems: pd.DataFrame, misshapen: pd.DataFrame | None = None) -> None:
        if len(raw):
            self.raw.append(raw.reset_index(drop=True))
            self.problems.append(problems.reset_index(drop=True))
        if misshapen is not None and len(misshapen):
            self.misshapen.append(misshapen)

    def merged(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.raw, self.problems = (
            [pd.concat(self.raw, ignore_index=True)],
            [pd.concat(self.problems, ignore_index=True)],
        )
        return self.raw[0], self.problems[0]

    def rows(self) -> pd.DataFrame:
        raw, problems = self.merged()
        quarantined = raw.copy()
        quarantined["reasons"] = pd.Series(_reasons(problems), index=raw.index, dtype="str")
        quarantined = pd.concat([quarantined, *self.misshapen], ignore_index=True) if self.misshapen else quarantined
        return quarantined.sort_values("source_line", kind="stable").reset_index(drop=True)


def _duplicate_lines(passed: Path, held: pd.DataFrame, key: str) -> set[int]:
    """Lines whose `key` repeats that of an earlier row, passed or quarantined, found by DuckDB
    over the passed rows' Parquet (out of core, so any size) and the quarantined rows."""
    keys = pd.DataFrame({"source_line": held["source_line"], "k": held[key].where(held[key] != "")})
    with row_level_duckdb(spill_zone=passed.parent, memory_limit=KEYS_MEMORY) as con:  # spills beside the rows
        con.register("held", keys)
        found = con.execute(
            f'SELECT source_line FROM (SELECT source_line, "{key}" AS k FROM read_parquet(?) '
            "UNION ALL SELECT source_line, k FROM held) WHERE k IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY k ORDER BY source_line) > 1",
            [str(passed)],
        ).fetchall()
    return {line for (line,) in found}


def _drop_lines(path: Path, lines: set[int], arrow: pa.Schema) -> None:
    """Rewrite the passed rows without those at `lines`, a batch at a time."""
    kept = path.with_name(path.name + ".kept")
    drop = pa.array(sorted(lines), type=pa.int64())
    with pq.ParquetWriter(kept, arrow) as writer:
        for batch in parquet_batches(path, BATCH_ROWS):
            writer.write_batch(batch.filter(pc.invert(pc.is_in(batch["source_line"], value_set=drop))))
    os.replace(kept, path)


def _raw_rows(reader: TableReader, schema: Schema, lines: set[int], batch_rows: int, plain: bool) -> pd.DataFrame:
    """The rows at `lines` as delivered (declared columns, stripped), read from the file again."""
    found = []
    for raw, _ in _raw_batches(reader, schema, batch_rows, plain):
        found.append(raw[raw["source_line"].isin(lines)])
    return pd.concat(found, ignore_index=True)


def _provider(counts: Counter) -> str:
    """The most common provider (the first in order among equals, as pandas' mode picks)."""
    counts = +counts  # providers whose rows all moved to quarantine are gone
    if not counts:
        return "unknown"
    most = max(counts.values())
    return str(min(p for p, n in counts.items() if n == most))


def _quarantine_repeats(
    partial: Path,
    quarantine: _Quarantine,
    reader: TableReader,
    schema: Schema,
    unique: list[Unique],
    arrow: pa.Schema,
    batch_rows: int,
    plain: bool,
) -> pd.DataFrame:
    """Quarantine every row whose unique key repeats an earlier row's; the rows moved out of the
    passed rows, as delivered."""
    moved_rows = [_frames([], [], reader.layout, schema)[0]]
    for rule in unique:
        key = rule.field
        raw, problems = quarantine.merged()
        repeated = _duplicate_lines(partial, raw, key)
        if not repeated:
            continue
        held = raw["source_line"].isin(repeated).to_numpy()
        problems.loc[held, key] += f"{rule.reason}|"
        moved = repeated - set(raw.loc[held, "source_line"])
        if moved:  # rows that had passed: fetched again as delivered, to be quarantined
            again = _raw_rows(reader, schema, moved, batch_rows, plain)
            reasons = pd.DataFrame("", index=again.index, columns=schema.field_names, dtype=object)
            reasons[key] = f"{rule.reason}|"
            quarantine.add(again, reasons)
            _drop_lines(partial, moved, arrow)
            moved_rows.append(again)
    return pd.concat(moved_rows, ignore_index=True)


def _raw_batches(reader: TableReader, schema: Schema, batch_rows: int, plain: bool):
    """(raw, misshapen) a batch at a time: the text of the declared columns with `source_line`,
    and the rows of the wrong width. Arrow reads a plain file (see TableReader.plain_batches)."""
    if not plain:
        for records, lines in reader.batches(batch_rows):
            yield _frames(records, lines, reader.layout, schema)
        return
    none_misshapen = _frames([], [], reader.layout, schema)[1]
    for columns, first_line in reader.plain_batches(batch_rows):
        frame = pd.DataFrame({f.name: pd.Series(columns[f.header], dtype="str") for f in schema.fields})
        frame.insert(0, "source_line", pd.RangeIndex(first_line, first_line + len(frame)).to_numpy(dtype="int64"))
        yield frame, none_misshapen


def _read_through(reader: TableReader, schema: Schema, batch_rows: int, use):
    """use(batches) with the fast reader, or again from the start with the careful one when the
    file turns out not to be plain (footers, blank or misshapen rows, quotes); (result, plain)."""
    try:
        return use(_raw_batches(reader, schema, batch_rows, plain=True)), True
    except NotPlain:
        return use(_raw_batches(reader, schema, batch_rows, plain=False)), False


def _counts(values: pa.ChunkedArray) -> dict[str, int]:
    """How often each value occurs, nulls aside."""
    counted = pc.value_counts(values.drop_null())
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()))


def _parse_batches(
    batches, partial: Path, schema: Schema, checks: _Checks, month: dt.date
) -> tuple[_Quarantine, Counter, int]:
    """Type and check each batch; passed rows to `partial`, failed ones held in the quarantine."""
    arrow, quarantine, providers, passed_rows = arrow_schema(schema), _Quarantine(schema), Counter(), 0
    with BackgroundParquetWriter(partial, arrow) as writer, ThreadPoolExecutor(TYPING_THREADS) as threads:
        for raw, misshapen in batches:  # a batch is written as the next is typed
            typed, problems = _problems(raw, schema, checks, month, threads)
            failed = problems.failed()
            passed = pa.table({"source_line": raw["source_line"], **typed}, schema=arrow).filter(~failed)
            writer.write_table(passed)
            providers.update(_counts(passed[schema.provider_field]))
            passed_rows += len(passed)
            quarantine.add(raw[failed], problems.frame(failed), misshapen)
    return quarantine, providers, passed_rows


def parse_extract(
    path: Path, schema: Schema, month: dt.date, out: Path, now: dt.datetime | None = None, batch_rows: int = BATCH_ROWS
) -> Extract:
    """Parse `path` a batch at a time: passed rows go to `out` (Parquet, typed, with `source_line`),
    failed rows come back with their reasons. Rows outside `month` (by the schema's month field)
    are quarantined too. `out` appears only once the whole file has been read and checked."""
    checks = _checks(schema, now or dt.datetime.now())
    reader, arrow = TableReader(path, schema), arrow_schema(schema)
    partial = out.with_name(out.name + ".partial")
    try:
        (quarantine, providers, passed_rows), plain = _read_through(
            reader, schema, batch_rows, lambda batches: _parse_batches(batches, partial, schema, checks, month)
        )
        moved = _quarantine_repeats(partial, quarantine, reader, schema, checks.unique, arrow, batch_rows, plain)
        passed_rows -= len(moved)
        # A passed row's provider is its text as delivered (blank: none), so the moved rows' own come off.
        providers.subtract(p for p in moved[schema.provider_field] if p)
        quarantined = quarantine.rows()
        if reader.rows != passed_rows + len(quarantined):  # pragma: no cover - a bug, never the file's fault
            raise AssertionError(f"{path.name}: rows in != rows passed + rows quarantined")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    layout = reader.layout
    return Extract(
        quarantined,
        reader.rows,
        passed_rows,
        _provider(providers),
        layout.undeclared,
        title_rows=layout.title_rows,
        footer_rows=reader.footer_rows,
        blank_rows=reader.blank_rows,
        encoding=layout.encoding,
        delimiter=layout.delimiter,
    )


def concatenate_parquet(parts: list[Path], out: Path, arrow: pa.Schema) -> None:
    """One Parquet file of the parts' rows (a month's deliveries), copied a batch at a time; the
    parts are removed. No part gives an empty file with the same columns."""
    if len(parts) == 1:
        os.replace(parts[0], out)
        return
    partial = out.with_name(out.name + ".partial")
    with pq.ParquetWriter(partial, arrow) as writer:
        for part in parts:
            for batch in parquet_batches(part, BATCH_ROWS):
                writer.write_batch(batch)
    os.replace(partial, out)
    for part in parts:
        part.unlink()


def read_extract(path: Path, schema: Schema, month: dt.date, now: dt.datetime | None = None) -> Extract:
    """`parse_extract` with the passed rows read back into `rows`: for small files and tests."""
    with tempfile.TemporaryDirectory(prefix="istv-extract-") as folder:
        out = Path(folder) / "passed.parquet"
        extract = parse_extract(path, schema, month, out, now)
        extract.rows = pd.read_parquet(out)
    return extract


@dataclass(frozen=True)
class Survey:
    """What a delivered file holds, read before it is landed: the months its rows fall in and the
    providers they name (each with its number of rows). Values are counted, never kept."""

    file: str
    month_header: str
    months: Counter  # pd.Period (month) -> rows
    providers: Counter  # provider as written (site code, force) -> rows; blank ones left out

    def likeliest_month(self) -> dt.date:
        if not self.months:
            raise ExtractError(f"{self.file}: no row has a readable {self.month_header!r}; pass --month YYYY-MM")
        most = max(self.months.values())
        return min(m for m, n in self.months.items() if n == most).start_time.date()

    def rows_in(self, month: dt.date) -> int:
        return sum(n for m, n in self.months.items() if m.start_time.date() == month)


def survey(path: Path, schema: Schema) -> Survey:
    """Read the file through once (raising ExtractError when it cannot be read at all) and count
    its rows by month and by provider."""
    field_ = schema.field(schema.month_field)

    def count(batches) -> tuple[Counter, Counter]:
        months: Counter = Counter()
        providers: Counter = Counter()
        for raw, _ in batches:
            when = _parse_times(raw[schema.month_field].fillna(""), TIME_FORMATS[field_.type]).dropna()
            months.update(when.dt.to_period("M").value_counts().to_dict())
            named = raw[schema.provider_field].dropna()
            providers.update(named[named != ""].value_counts().to_dict())
        return months, providers

    (months, providers), _ = _read_through(TableReader(path, schema), schema, BATCH_ROWS, count)
    return Survey(path.name, field_.header, months, providers)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str) -> str:
    return _SAFE_NAME.sub("_", name)
