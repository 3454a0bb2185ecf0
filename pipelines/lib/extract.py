"""Read a delivered extract into typed rows, following its declared schema.

Every row ends up either passed (typed) or quarantined with the reasons it failed, so that
rows in = rows passed + rows quarantined always holds. Title rows above the header, blank rows
and footer rows ("Total,123", "End of report") are not data rows: they are counted apart. Messages
name the file, the line and the column, never a value: the file holds identifiers. How the file
itself is read (encoding, delimiter, header row, footer) is in `pipelines.lib.sniff`.

Dates are read day first, as in the UK: DD/MM/YYYY, YYYY-MM-DD or DD-MMM-YYYY (06-Oct-2018), with
or without a time (HH:MM or HH:MM:SS), and a file may mix them. A US-style month-first date is never
guessed at: 10/31/2018 is not a valid date, and 10/06/2018 is 10 June, which the month check then
quarantines as "not in the month being ingested" when it lands outside it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from anonymise.nhs_number import is_valid_nhs_number
from pipelines.lib.sniff import ExtractError, Table, count_fields, read_table
from schemas import Schema, load_codelist

__all__ = ["Extract", "ExtractError", "month_of", "read_extract", "read_raw", "read_table", "safe_file_name"]

_DAYS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%b-%Y")
DATE_FORMATS = _DAYS
DATETIME_FORMATS = (
    *(f"{d} {t}" for d in _DAYS for t in ("%H:%M", "%H:%M:%S")),
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
)
MONTH_FORMATS = ("%Y-%m",)
TIME_FORMATS = {"date": DATE_FORMATS, "datetime": DATETIME_FORMATS, "month": MONTH_FORMATS}


@dataclass
class Extract:
    rows: pd.DataFrame  # passed rows, typed, with a `source_line` column
    quarantined: pd.DataFrame  # raw rows that failed, with `source_line` and `reasons`
    rows_in: int  # data rows: title, blank and footer rows are not counted
    undeclared_columns: list[str] = field(default_factory=list)
    title_rows: int = 0  # lines above the header row (report titles, blank lines)
    footer_rows: int = 0  # trailing totals, "End of report" and blank rows
    blank_rows: int = 0  # blank rows between the header and the footer
    encoding: str = "utf-8"
    delimiter: str = ","

    @property
    def reason_counts(self) -> dict[str, int]:
        if self.quarantined.empty:
            return {}
        reasons = self.quarantined["reasons"].str.split("; ").explode()
        return {k: int(v) for k, v in reasons.value_counts().sort_index().items()}


def _frames(table: Table, schema: Schema) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Well-formed rows as text (declared columns only), and rows with the wrong number of fields.

    A misshapen row cannot be split into columns with any confidence, so it is quarantined with
    its line and the reason only: no value, lest an undeclared column's value ride along."""
    width = len(table.header)
    good = [i for i, r in enumerate(table.records) if len(r) == width]
    bad = [i for i, r in enumerate(table.records) if len(r) != width] if len(good) < len(table.records) else []
    records = [table.records[i] for i in good] if bad else table.records
    by_position = list(zip(*records)) if records else [()] * width
    frame = pd.DataFrame(
        {f.name: [v.strip() for v in by_position[table.columns[f.header]]] for f in schema.fields},
        index=pd.RangeIndex(len(records)),
        dtype=object,
    )
    frame.insert(0, "source_line", [table.lines[i] for i in good] if bad else table.lines)
    misshapen = pd.DataFrame({"source_line": [table.lines[i] for i in bad]})
    for name in schema.field_names:
        misshapen[name] = pd.Series([None] * len(bad), dtype=object)
    misshapen["reasons"] = [f"row has {count_fields(len(table.records[i]))} where the header has {width}" for i in bad]
    return frame, misshapen


def read_raw(path: Path, schema: Schema) -> tuple[pd.DataFrame, list[str]]:
    """Well-formed data rows, all columns as text; checks the header carries every declared column.

    Raises ExtractError for a file that cannot be read at all."""
    table = read_table(path, schema)
    frame, _ = _frames(table, schema)
    return frame, table.undeclared


def _parse_times(values: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    for fmt in formats:
        todo = parsed.isna() & values.ne("")
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(values[todo], format=fmt, errors="coerce")
    return parsed


def _typed(raw: pd.DataFrame, schema: Schema, problems: pd.DataFrame) -> pd.DataFrame:
    """Typed columns; each value that does not parse adds a reason to `problems`."""
    typed = pd.DataFrame(index=raw.index)
    for f in schema.fields:
        values = raw[f.name].fillna("")
        blank = values.eq("")
        if f.required:
            problems.loc[blank, f.name] += f"{f.name}: missing required value|"
        if f.type in ("date", "datetime", "month"):
            out = _parse_times(values, TIME_FORMATS[f.type])
            problems.loc[~blank & out.isna(), f.name] += f"{f.name}: not a valid {f.type}|"
        elif f.type in ("float", "integer"):
            out = pd.to_numeric(values.where(~blank), errors="coerce")
            problems.loc[~blank & out.isna(), f.name] += f"{f.name}: not a number|"
            if f.min is not None:
                problems.loc[out < f.min, f.name] += f"{f.name}: below {f.min:g}|"
            if f.max is not None:
                problems.loc[out > f.max, f.name] += f"{f.name}: above {f.max:g}|"
        else:
            out = values.where(~blank).astype("string")
            if f.codelist:
                unknown = ~blank & ~values.isin(load_codelist(f.codelist).codes_set())
                problems.loc[unknown, f.name] += f"{f.name}: code not in the {f.codelist} code list|"
            if f.pattern:
                bad = ~blank & ~values.str.fullmatch(f.pattern)
                problems.loc[bad, f.name] += f"{f.name}: does not match the expected pattern|"
            if f.max_length:
                problems.loc[values.str.len() > f.max_length, f.name] += f"{f.name}: longer than {f.max_length} characters|"
            if f.check == "nhs_number":
                bad = ~blank & ~values.map(is_valid_nhs_number).astype(bool)
                problems.loc[bad, f.name] += f"{f.name}: fails the NHS number Modulus 11 check|"
        typed[f.name] = out
    return typed


def _date_logic(typed: pd.DataFrame, schema: Schema, problems: pd.DataFrame, now: dt.datetime) -> None:
    for f in schema.fields:
        value = typed[f.name]
        if f.not_in_future:
            problems.loc[value > now, f.name] += f"{f.name}: in the future|"
        if f.not_after:
            problems.loc[value > typed[f.not_after], f.name] += f"{f.name}: after {f.not_after}|"
        if f.within:
            start, end = typed[f.within[0]], typed[f.within[1]] + pd.Timedelta(days=1)
            outside = (value < start) | (value >= end)
            problems.loc[outside, f.name] += f"{f.name}: outside {f.within[0]} to {f.within[1]}|"


def read_extract(path: Path, schema: Schema, month: dt.date, now: dt.datetime | None = None) -> Extract:
    """Parse `path`; rows outside `month` (by the schema's month field) are quarantined too."""
    now = now or dt.datetime.now()
    table = read_table(path, schema)
    raw, misshapen = _frames(table, schema)
    problems = pd.DataFrame("", index=raw.index, columns=schema.field_names)
    typed = _typed(raw, schema, problems)
    _date_logic(typed, schema, problems, now)
    when = typed[schema.month_field]
    other_month = when.notna() & (when.dt.to_period("M").dt.start_time.dt.date != month)
    problems.loc[other_month, schema.month_field] += f"{schema.month_field}: not in {month:%Y-%m}, the month being ingested|"
    for key in schema.unique:
        dupes = typed[key].notna() & typed[key].duplicated(keep="first")
        problems.loc[dupes, key] += f"{key}: duplicate of an earlier row|"
    failed = problems.ne("").any(axis=1)
    reasons = ["; ".join(p for cell in row for p in cell.split("|") if p) for row in problems[failed].itertuples(index=False)]
    passed = typed[~failed].copy()
    passed.insert(0, "source_line", raw.loc[~failed, "source_line"])
    quarantined = raw[failed].copy()
    quarantined["reasons"] = reasons
    if len(misshapen):
        quarantined = pd.concat([quarantined, misshapen], ignore_index=True).sort_values("source_line", kind="stable")
    rows_in = len(table.records)
    if rows_in != len(passed) + len(quarantined):  # pragma: no cover - a bug, never the file's fault
        raise AssertionError(f"{path.name}: rows in != rows passed + rows quarantined")
    return Extract(
        passed.reset_index(drop=True),
        quarantined.reset_index(drop=True),
        rows_in,
        table.undeclared,
        title_rows=table.title_rows,
        footer_rows=table.footer_rows,
        blank_rows=table.blank_rows,
        encoding=table.encoding,
        delimiter=table.delimiter,
    )


def month_of(path: Path, schema: Schema) -> dt.date:
    """The month most rows fall in, for files delivered without one."""
    raw, _ = read_raw(path, schema)
    when = _parse_times(raw[schema.month_field].fillna(""), TIME_FORMATS[schema.field(schema.month_field).type])
    months = when.dropna().dt.to_period("M")
    if months.empty:
        raise ExtractError(
            f"{path.name}: no row has a readable {schema.field(schema.month_field).header!r}; "
            "pass --month YYYY-MM"
        )
    return months.mode().iloc[0].start_time.date()


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str) -> str:
    return _SAFE_NAME.sub("_", name)
