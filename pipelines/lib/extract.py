"""Read a delivered extract into typed rows, following its declared schema.

Every row ends up either passed (typed) or quarantined with the reasons it failed, so that
rows in = rows passed + rows quarantined always holds. Messages name the file, the line and the
column, never a value: the file holds identifiers.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from anonymise.nhs_number import is_valid_nhs_number
from schemas import Schema, load_codelist

DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")
MONTH_FORMATS = ("%Y-%m",)
ENCODINGS = ("utf-8-sig", "cp1252")


class ExtractError(ValueError):
    """A file that cannot be read at all; the message says what to do."""


@dataclass
class Extract:
    rows: pd.DataFrame  # passed rows, typed, with a `source_line` column
    quarantined: pd.DataFrame  # raw rows that failed, with `source_line` and `reasons`
    rows_in: int
    undeclared_columns: list[str] = field(default_factory=list)

    @property
    def reason_counts(self) -> dict[str, int]:
        if self.quarantined.empty:
            return {}
        reasons = self.quarantined["reasons"].str.split("; ").explode()
        return {k: int(v) for k, v in reasons.value_counts().sort_index().items()}


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ExtractError(f"{path.name}: cannot decode as UTF-8 or Windows-1252; re-export as UTF-8 CSV")


def read_raw(path: Path, schema: Schema) -> tuple[pd.DataFrame, list[str]]:
    """All columns as text; checks the header carries every declared column."""
    text = _decode(path)
    if not text.strip():
        raise ExtractError(f"{path.name}: the file is empty; ask the provider to re-send the extract")
    first_line = text.splitlines()[0]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = [h.strip() for h in next(reader)]
    missing = [h for h in schema.headers if h not in header]
    if missing:
        raise ExtractError(
            f"{path.name}, line 1: column(s) {', '.join(repr(m) for m in missing)} missing from the "
            f"header; this is not a {schema.title} extract, or its columns were renamed. "
            f"Re-export it with the columns listed in schemas/{schema.name}.yaml"
        )
    records = list(reader)
    width = len(header)
    short = [i for i, r in enumerate(records) if r and len(r) != width]
    if short:
        line = short[0] + 2
        raise ExtractError(
            f"{path.name}, line {line}: {len(records[short[0]])} fields where the header has {width}; "
            "the file may be cut off or have unquoted delimiters. Ask the provider to re-send it"
        )
    frame = pd.DataFrame([r for r in records if r], columns=header, dtype=object)
    frame.insert(0, "source_line", [i + 2 for i, r in enumerate(records) if r])
    undeclared = [h for h in header if h not in schema.headers]
    frame = frame.drop(columns=undeclared).rename(columns=schema.headers)
    for name in schema.field_names:
        frame[name] = frame[name].str.strip()
    return frame, undeclared


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
            formats = {"date": DATE_FORMATS, "datetime": DATETIME_FORMATS, "month": MONTH_FORMATS}[f.type]
            out = _parse_times(values, formats)
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
    raw, undeclared = read_raw(path, schema)
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
    return Extract(passed.reset_index(drop=True), quarantined.reset_index(drop=True), len(raw), undeclared)


def month_of(path: Path, schema: Schema) -> dt.date:
    """The month most rows fall in, for files delivered without one."""
    raw, _ = read_raw(path, schema)
    formats = {"date": DATE_FORMATS, "datetime": DATETIME_FORMATS, "month": MONTH_FORMATS}
    when = _parse_times(raw[schema.month_field].fillna(""), formats[schema.field(schema.month_field).type])
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
