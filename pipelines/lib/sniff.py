"""File-level reading of a delivered extract: what the bytes are, where the header row is, where
the data stops.

What is recognised, and what is refused:

- Encoding: UTF-8 (with or without a byte-order mark), else Windows-1252. UTF-16/UTF-32 text,
  binary files (an .xlsx or .xls renamed .csv, PDF, gzip, anything holding NUL bytes), HTML or
  XML pages and files mixing UTF-8 with Windows-1252 are refused with what the file looks like.
- Delimiter: comma, semicolon, tab or pipe, chosen as the one under which a row carries the
  declared headers (so commas inside quoted free text cannot fool it).
- Header row: the first row carrying the declared headers, matched ignoring case, surrounding
  spaces and a byte-order mark; rows above it (report titles, "Generated ..." lines, blank
  lines) are counted as title rows, never as data.
- Footer: trailing blank rows and rows like "Total,123", "TOTAL ROWS: 123" or "End of report"
  (first cell says so, most other cells empty) are counted as footer rows, never as data; a
  stated row count that disagrees with the rows held is an error: the file may be cut off.
- Line ends: CRLF, LF, CR, mixed; quoted fields may hold line breaks. Line numbers are physical
  lines of the file, and a row's line is the line it starts on.

Messages name the file, the line and the column (header names are not personal data), and say
what to do; they never carry a value from a data or title row.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

if TYPE_CHECKING:
    from schemas import Schema

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
HEADER_SEARCH_ROWS = 50  # the header must be among the first this many rows
EXPORT = "save it from Excel (or the system that produced it) as 'CSV UTF-8 (Comma delimited)' and deliver that"
RESEND = "ask the provider to re-send the complete extract"

# (leading bytes, what the file looks like)
MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-style Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\xff\xfe\x00\x00", "UTF-32 text"),
    (b"\x00\x00\xfe\xff", "UTF-32 text"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text' format)"),
    (b"\xfe\xff", "UTF-16 text (Excel's 'Unicode Text' format)"),
)
_UTF8_SEQUENCE = re.compile(rb"([\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})(?![\x80-\xbf])")
_LINE_END = re.compile(rb"\r\n|\r|\n")

# First cell of a footer row, matched case-insensitively at its start.
_FOOTER = re.compile(
    r"(grand\s+)?totals?\b|count\b|end\s+of\s+(the\s+)?(report|file|data|extract|export|records?)\b|\*+\s*end\b"
    r"|((number|no\.?)\s+of\s+|total\s+)?(records?|rows?)(\s*[:=]|\s+(count|total|returned|exported|extracted)\b)"
    r"|report\s+(generated|run|printed)\b|page\s+\d+\s+of\s+\d+",
    re.IGNORECASE,
)
_COUNTING = re.compile(r"total|count|records?|rows?", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d,]*")


class ExtractError(ValueError):
    """A file that cannot be read at all; the message says what to do."""


@dataclass
class Table:
    """The data rows of a file, as text, between its header row and its footer."""

    header: list[str]  # header cells as delivered, stripped of spaces and a byte-order mark
    columns: dict[str, int]  # declared header -> its position in the header
    undeclared: list[str]  # headers the schema does not declare: dropped at once
    records: list[list[str]]  # data rows (blank rows left out)
    lines: list[int]  # the line each data row starts on
    title_rows: int = 0
    footer_rows: int = 0
    blank_rows: int = 0
    encoding: str = "utf-8"
    delimiter: str = ","


def normalise(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


def _line_of(raw: bytes, offset: int) -> int:
    return len(_LINE_END.findall(raw, 0, offset)) + 1


def decode(path: Path, raw: bytes) -> tuple[str, str]:
    """The text of the file and the encoding it was read with."""
    name = path.name
    if not raw.strip():
        raise ExtractError(f"{name}: the file is empty; {RESEND}")
    for magic, looks_like in MAGIC:
        if raw.startswith(magic):
            raise ExtractError(f"{name}: this is not a CSV file, it looks like {looks_like}; {EXPORT}")
    start = raw[:2048].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        raise ExtractError(f"{name}: this is not a CSV file, it looks like an HTML page; {EXPORT}")
    if start.startswith(b"<?xml"):
        raise ExtractError(f"{name}: this is not a CSV file, it looks like an XML document; {EXPORT}")
    nul = raw.find(b"\x00")
    if nul >= 0:
        sample = raw[:4096]
        if sample[1::2].count(0) > len(sample) // 5 or sample[0::2].count(0) > len(sample) // 5:
            raise ExtractError(f"{name}: this is not a CSV file, it looks like UTF-16 text without a byte-order mark; {EXPORT}")
        raise ExtractError(
            f"{name}, line {_line_of(raw, nul)}: the file holds binary data (NUL bytes), not CSV text; {EXPORT}"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_utf8 = exc.start
    else:
        if not text.strip():
            raise ExtractError(f"{name}: the file is empty; {RESEND}")
        return text, "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    if _UTF8_SEQUENCE.search(raw):
        raise ExtractError(
            f"{name}, line {_line_of(raw, bad_utf8)}: the file mixes UTF-8 and Windows-1252 text "
            f"(this line is the first that is not UTF-8); {EXPORT}"
        )
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise ExtractError(
            f"{name}, line {_line_of(raw, exc.start)}: cannot decode as UTF-8 or Windows-1252; {EXPORT}"
        ) from None


def _blank(record: list[str]) -> bool:
    return not "".join(record).strip()


def _head(lines: list[str], delimiter: str) -> list[list[str]]:
    """The first rows, as far as they can be read."""
    rows: list[list[str]] = []
    try:
        for record in csv.reader(lines[: HEADER_SEARCH_ROWS * 4], delimiter=delimiter):
            rows.append(record)
            if len(rows) == HEADER_SEARCH_ROWS:
                break
    except csv.Error:
        pass
    return rows


def _find_header(lines: list[str], schema: Schema) -> tuple[str, int, int]:
    """(delimiter, index of the header among the records, how many declared headers it carries).

    The header is the first row carrying the most declared headers, under the delimiter that
    makes a row carry the most; the index is -1 when no row carries any."""
    declared = {normalise(h) for h in schema.headers}
    best = (",", -1, 0)
    for delimiter in DELIMITERS:
        for index, record in enumerate(_head(lines, delimiter)):
            score = len(declared.intersection(normalise(c) for c in record))
            if score > best[2]:
                best = (delimiter, index, score)
    if best[2]:
        return best
    # No row carries a declared header: the delimiter giving the most fields will do, so that the
    # error can name the first line with content (never what it holds).
    widths = []
    for delimiter in DELIMITERS:
        head = [r for r in _head(lines, delimiter) if not _blank(r)]
        widths.append((sum(len(r) for r in head), delimiter))
    return max(widths, key=lambda w: w[0])[1], -1, 0


def _shown(header: str, index: int) -> str:
    """A header as it may be shown in a message or the audit log. Header names are not personal
    data, but a header cell that looks like a value (a line break from broken quoting, a long
    run of text, many digits) may be a data value, and is shown by its position only."""
    if not header:
        return f"(column {index + 1}: blank header)"
    if len(header) > 60 or "\n" in header or "\r" in header or sum(c.isdigit() for c in header) >= 6:
        return f"(column {index + 1}: header not shown)"
    return header


def _match_columns(name: str, header: list[str], line: int, schema: Schema, found: bool) -> tuple[dict[str, int], list[str]]:
    """Declared header -> position, and the undeclared headers; `found` says the row carries at
    least half the declared headers, so is surely the header row."""
    positions: dict[str, list[int]] = {}
    for i, cell in enumerate(header):
        positions.setdefault(normalise(cell), []).append(i)
    columns, missing = {}, []
    for declared in schema.headers:
        at = positions.get(normalise(declared), [])
        if len(at) > 1:
            raise ExtractError(
                f"{name}, line {line}: column {declared!r} appears {len(at)} times in the header "
                f"(columns {', '.join(str(i + 1) for i in at[:-1])} and {at[-1] + 1}); remove or rename the extra copies and re-export"
            )
        if at:
            columns[declared] = at[0]
        else:
            missing.append(declared)
    used = set(columns.values())
    undeclared = [_shown(h, i) for i, h in enumerate(header) if i not in used]
    if len(missing) == len(schema.headers):
        expected = ", ".join(repr(h) for h in schema.headers)
        raise ExtractError(
            f"{name}, line {line}: no header row found: none of the first {HEADER_SEARCH_ROWS} rows carries any of the "
            f"columns of the {schema.title} extract ({expected}). This is not the expected kind of file, or its "
            f"header row is missing; re-export it with the header row and the columns listed in schemas/{schema.name}.yaml"
        )
    if missing:
        problems = []
        # Header names are not personal data, so a likely renaming is shown; but only when the
        # header row was recognised: otherwise the "header" may be a data row.
        choices = {i: normalise(h) for i, h in enumerate(header) if i not in used and _shown(h, i) == h} if found else {}
        for declared in missing:
            hit = process.extractOne(normalise(declared), choices, scorer=fuzz.WRatio, score_cutoff=75)
            if hit:
                problems.append(f"{declared!r} (the header has {header[hit[2]]!r}: renamed?)")
                del choices[hit[2]]
            else:
                problems.append(repr(declared))
        raise ExtractError(
            f"{name}, line {line}: column(s) {', '.join(problems)} missing from the header; this is not the expected "
            f"kind of file ({schema.title}), or its columns were renamed. "
            f"Re-export it with the columns listed in schemas/{schema.name}.yaml"
        )
    return columns, undeclared


def _footer_count(record: list[str]) -> int | None:
    first = record[0].strip() if record else ""
    if not _COUNTING.search(first):
        return None
    numbers = _NUMBER.findall(first)
    numbers += [c.strip() for c in record[1:] if _NUMBER.fullmatch(c.strip())]
    return int(numbers[0].replace(",", "")) if numbers else None


def _is_footer(record: list[str], width: int) -> bool:
    if _blank(record):
        return True
    if not _FOOTER.match(record[0].strip()):
        return False
    others = sum(1 for c in record[1:] if c.strip())
    return others <= max(1, (width - 1) // 4)


def _parse(name: str, lines: list[str], delimiter: str) -> tuple[list[list[str]], list[int]]:
    """Every record, and the line each starts on."""
    try:
        records = list(csv.reader(lines, delimiter=delimiter))
        if len(records) == len(lines):  # no record spans lines: record i starts on line i + 1
            return records, list(range(1, len(lines) + 1))
        reader = csv.reader(lines, delimiter=delimiter)
        records, starts, end = [], [], 0
        for record in reader:
            starts.append(end + 1)
            end = reader.line_num
            records.append(record)
        return records, starts
    except csv.Error as exc:
        reader = csv.reader(lines, delimiter=delimiter)
        end = 0
        try:
            for _ in reader:
                end = reader.line_num
        except csv.Error:
            pass
        line = end + 1
        if "field larger than field limit" in str(exc):
            raise ExtractError(
                f"{name}, line {line}: a quoted field opened here is never closed; the file may be cut off, "
                f"or a quote in free text was not doubled. Fix the quoting or {RESEND}"
            ) from None
        raise ExtractError(f"{name}, line {line}: cannot be read as CSV; {EXPORT}") from None


def read_table(path: Path, schema: Schema) -> Table:
    """Decode, find the header and the footer, and check the shape of every row."""
    name = path.name
    raw = path.read_bytes()
    text, encoding = decode(path, raw)
    lines = io.StringIO(text, newline="").readlines()
    delimiter, header_index, score = _find_header(lines, schema)
    records, starts = _parse(name, lines, delimiter)
    if header_index < 0:  # no header recognised: the first row with content stands for it
        header_index = next((i for i, r in enumerate(records) if not _blank(r)), 0)
    header = [h.replace("\ufeff", "").strip() for h in records[header_index]]
    header_line = starts[header_index]
    columns, undeclared = _match_columns(name, header, header_line, schema, score >= len(schema.headers) / 2)
    width = len(header)

    body, body_starts = records[header_index + 1 :], starts[header_index + 1 :]
    if body:
        _check_unterminated_quote(name, lines[body_starts[-1] - 1 :], delimiter, body_starts[-1], header)
    cut = len(body)
    while cut and _is_footer(body[cut - 1], width):
        cut -= 1
    footer = body[cut:]
    footer_lines = body_starts[cut:]
    body, body_starts = body[:cut], body_starts[:cut]
    kept = [(r, s) for r, s in zip(body, body_starts) if "".join(r).strip()]
    table = Table(
        header=header,
        columns=columns,
        undeclared=undeclared,
        records=[r for r, _ in kept],
        lines=[s for _, s in kept],
        title_rows=header_line - 1,
        footer_rows=len(footer),
        blank_rows=len(body) - len(kept),
        encoding=encoding,
        delimiter=delimiter,
    )
    for record, line in zip(footer, footer_lines):
        stated = _footer_count(record)
        if stated is not None and stated != len(table.records):
            raise ExtractError(
                f"{name}, line {line}: the file says {stated} rows but holds {len(table.records)}: it may be cut off, "
                f"or rows were added after the total was written; {RESEND}"
            )
    _check_widths(name, table, width)
    return table


def _check_unterminated_quote(name: str, tail: list[str], delimiter: str, line: int, header: list[str]) -> None:
    """Refuse the file when its last row opens a quoted field that the end of the file cuts off
    (the file was cut short, or a quote in free text higher up was never closed)."""
    try:
        for _ in csv.reader(tail, delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            return
        partial = next(csv.reader(tail, delimiter=delimiter))
        column = len(partial) - 1
        where = f" in column {_shown(header[column], column)!r}" if column < len(header) else ""
        raise ExtractError(
            f"{name}, line {line}: a quoted field{where} opens here and is never closed before the end of the file; "
            f"the file may be cut off, or a quote in free text was not doubled. Fix the quoting or {RESEND}"
        ) from None


def count_fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def _check_widths(name: str, table: Table, width: int) -> None:
    """Rows with the wrong number of fields are quarantined by the caller, unless the file as a
    whole is wrong: most rows misshapen, a quote swallowing rows, or its last row cut short."""
    records, lines = table.records, table.lines
    bad = [i for i, r in enumerate(records) if len(r) != width]
    if len(bad) > 1 and len(bad) * 2 > len(records):
        first = bad[0]
        trailing = all(len(records[i]) > width and not "".join(records[i][width:]).strip() for i in bad)
        cause = (
            "the rows end with empty fields the header does not have (a delimiter at the end of each row?)"
            if trailing
            else f"the delimiter ({DELIMITER_NAMES[table.delimiter]}) or the quoting is wrong"
        )
        raise ExtractError(
            f"{name}: {len(bad)} of {len(records)} rows have a different number of fields from the header "
            f"(the first at line {lines[first]}: {count_fields(len(records[first]))} where the header has {width}); "
            f"{cause}. Re-export it with text fields quoted, or {RESEND}"
        )
    for i in bad:
        if any("\n" in c or "\r" in c for c in records[i]):
            raise ExtractError(
                f"{name}, line {lines[i]}: a quoted field opens on this line and runs on over the lines below it "
                f"({count_fields(len(records[i]))} where the header has {width}); a quote in free text was probably "
                f"not doubled. Fix the quoting or {RESEND}"
            )
    if records and len(records[-1]) < width:
        last = records[-1]
        raise ExtractError(
            f"{name}, line {lines[-1]}: {count_fields(len(last))} where the header has {width}; this is the last row and "
            f"it stops after column {_shown(table.header[len(last) - 1], len(last) - 1)!r}, so the file looks cut off: {RESEND}"
        )
