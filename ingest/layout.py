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

import codecs
import csv
import functools
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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
_UTF8_SEQUENCE = re.compile(
    rb"([\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})(?![\x80-\xbf])"
)
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


class NotPlain(Exception):
    """The file needs the careful reader: see TableReader.plain_batches."""


@dataclass
class Layout:
    """How a file is laid out above its data rows."""

    header: list[str]  # header cells as delivered, stripped of spaces and a byte-order mark
    columns: dict[str, int]  # declared header -> its position in the header
    undeclared: list[str]  # headers the schema does not declare: dropped at once
    title_rows: int
    encoding: str
    delimiter: str


def normalise(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").split()).casefold()


CHUNK_BYTES = 16 * 2**20  # the file is checked and read this much at a time, never held whole


def _chunks(path: Path, stop: int | None = None) -> Iterator[bytes]:
    """The file's bytes in chunks (up to `stop`); a chunk never ends between the CR and LF of a line end."""
    read = 0
    with path.open("rb") as f:
        while stop is None or read < stop:
            chunk = f.read(CHUNK_BYTES if stop is None else min(CHUNK_BYTES, stop - read))
            if chunk.endswith(b"\r") and (stop is None or read + len(chunk) < stop):
                chunk += f.read(1)
            if not chunk:
                return
            read += len(chunk)
            yield chunk


def _line_of(path: Path, offset: int) -> int:
    """The line holding byte `offset` (error messages only: it reads the file up to there again)."""
    return sum(len(_LINE_END.findall(chunk)) for chunk in _chunks(path, offset)) + 1


def _refuse_non_text(name: str, head: bytes) -> None:
    for magic, looks_like in MAGIC:
        if head.startswith(magic):
            raise ExtractError(f"{name}: this is not a CSV file, it looks like {looks_like}; {EXPORT}")
    start = head[:2048].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table")):
        raise ExtractError(f"{name}: this is not a CSV file, it looks like an HTML page; {EXPORT}")
    if start.startswith(b"<?xml"):
        raise ExtractError(f"{name}: this is not a CSV file, it looks like an XML document; {EXPORT}")


def _line_ends(chunk: bytes) -> int:
    return chunk.count(b"\n") + (chunk.count(b"\r") - chunk.count(b"\r\n") if b"\r" in chunk else 0)


def detect_encoding(path: Path) -> tuple[str, int]:
    """The encoding the file is read with, and its physical lines as `readlines` splits them (CR,
    LF or CRLF ends; a last line without one), found in one pass over its bytes, chunk by chunk."""
    name, offset, bad_utf8, has_text, head = path.name, 0, None, False, b""
    lines, last = 0, b""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    for chunk in _chunks(path):
        lines += _line_ends(chunk)
        last = chunk[-1:]
        if not head:
            head = chunk[:4096]
            _refuse_non_text(name, head)
        nul = chunk.find(b"\x00")
        if nul >= 0:
            if head[1::2].count(0) > len(head) // 5 or head[0::2].count(0) > len(head) // 5:
                raise ExtractError(
                    f"{name}: this is not a CSV file, it looks like UTF-16 text without a byte-order mark; {EXPORT}"
                )
            raise ExtractError(
                f"{name}, line {_line_of(path, offset + nul)}: the file holds binary data (NUL bytes), "
                f"not CSV text; {EXPORT}"
            )
        has_text = has_text or bool(chunk.strip().removeprefix(b"\xef\xbb\xbf").strip())
        if bad_utf8 is None:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_utf8 = offset + exc.start
        offset += len(chunk)
    if not has_text:
        raise ExtractError(f"{name}: the file is empty; {RESEND}")
    lines += 1 if last not in b"\r\n" else 0
    if bad_utf8 is None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            bad_utf8 = offset - 1
    if bad_utf8 is None:
        return ("utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"), lines
    # A chunk boundary could split a UTF-8 sequence: each chunk is searched with the tail of the one before.
    tail = b""
    for chunk in _chunks(path):
        if _UTF8_SEQUENCE.search(tail + chunk):
            raise ExtractError(
                f"{name}, line {_line_of(path, bad_utf8)}: the file mixes UTF-8 and Windows-1252 text "
                f"(this line is the first that is not UTF-8); {EXPORT}"
            )
        tail = chunk[-4:]
    offset = 0
    for chunk in _chunks(path):
        try:
            chunk.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ExtractError(
                f"{name}, line {_line_of(path, offset + exc.start)}: cannot decode as UTF-8 or Windows-1252; {EXPORT}"
            ) from None
        offset += len(chunk)
    return "cp1252", lines


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


def _match_columns(
    name: str, header: list[str], line: int, schema: Schema, found: bool
) -> tuple[dict[str, int], list[str]]:
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
                f"(columns {', '.join(str(i + 1) for i in at[:-1])} and {at[-1] + 1}); "
                "remove or rename the extra copies and re-export"
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
            "header row is missing; re-export it with the header row and the columns listed in "
            f"schemas/{schema.name}.yaml"
        )
    if missing:
        problems = []
        # Header names are not personal data, so a likely renaming is shown; but only when the
        # header row was recognised: otherwise the "header" may be a data row.
        choices = (
            {i: normalise(h) for i, h in enumerate(header) if i not in used and _shown(h, i) == h} if found else {}
        )
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


TAIL_BYTES = 8 * 2**20  # more than a record can span: csv refuses a field over 131,072 characters


def _last_lines(path: Path, encoding: str, count: int) -> list[str]:
    """The file's last `count` lines, read from its end."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read()
    text = tail.decode(encoding, errors="replace" if size > TAIL_BYTES else "strict")
    lines = io.StringIO(text, newline="").readlines()
    return lines[-count:]


ARROW_BLOCK_BYTES = 8 * 2**20  # Arrow reads ahead a number of blocks: their size bounds its memory


def _rebatched(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Arrow's blocks gathered into batches of at least `size` rows (the last may be smaller)."""
    gathered: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        gathered.append(batch)
        rows += batch.num_rows
        if rows >= size:
            yield pa.Table.from_batches(gathered)
            gathered, rows = [], 0
    if rows:
        yield pa.Table.from_batches(gathered)


def _holds_quote(column: pa.ChunkedArray) -> bool:
    """Whether any value of a text column holds a double quote: its characters searched as one
    run of bytes (memchr speed), rather than value by value."""
    for chunk in column.chunks:
        if chunk.buffers()[2] is None:
            continue
        offsets = np.frombuffer(
            chunk.buffers()[1], dtype=np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        )
        start, end = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
        if b'"' in chunk.buffers()[2].slice(start, end - start).to_pybytes():
            return True
    return False


class TableReader:
    """The data rows of a file, as text, between its header row and its footer, read in batches.

    Opening finds the encoding, the delimiter and the header. `batches()` then yields
    (records, lines) a batch at a time; footer-like rows at the end of a batch are held back
    until what follows shows whether they are the footer. Checks on the file as a whole (a
    stated total that disagrees, most rows misshapen, a cut-off last row) can only be made at
    the end: they raise from the last step of `batches()`, so a caller must not keep what it
    wrote before that step ends."""

    def __init__(self, path: Path, schema: Schema):
        self.path, self.name = path, path.name
        encoding, self.physical_lines = detect_encoding(path)
        with self._open(encoding) as f:
            head = list(itertools.islice(f, HEADER_SEARCH_ROWS * 4))
        delimiter, header_index, score = _find_header(head, schema)
        self.rows = self.footer_rows = self.blank_rows = 0  # counted by batches()
        header, header_line = self._header_row(head, delimiter, header_index)
        columns, undeclared = _match_columns(self.name, header, header_line, schema, score >= len(schema.headers) / 2)
        self.layout = Layout(header, columns, undeclared, header_line - 1, encoding, delimiter)

    def _open(self, encoding: str):
        return self.path.open(encoding=encoding, newline="")

    def _header_row(self, head: list[str], delimiter: str, index: int) -> tuple[list[str], int]:
        """The header cells and the header's line; with no header recognised, the first row with content."""
        reader = csv.reader(head, delimiter=delimiter)
        end = 0
        try:
            for i, record in enumerate(reader):
                if i == index or (index < 0 and not _blank(record)):
                    return [h.replace("\ufeff", "").strip() for h in record], end + 1
                end = reader.line_num
        except csv.Error:
            pass
        raise ExtractError(f"{self.name}, line {end + 1}: cannot be read as CSV; {EXPORT}")

    def plain_batches(self, size: int) -> Iterator[tuple[dict[str, pa.ChunkedArray], int]]:
        """The fast way through a plain file, parsed by Arrow: (declared header -> stripped text,
        line of the batch's first row) a batch at a time. A plain file has one physical line per
        row, every row as wide as the header, no blank, footer or run-on row and no quote inside a
        value. Anything else raises NotPlain, from any batch: the caller then reads the file again
        with `batches()`, which handles them all, and must not keep what it wrote before."""
        layout = self.layout
        header_line = layout.title_rows + 1
        names = [f"c{i}" for i in range(len(layout.header))]
        wanted = {declared: names[i] for declared, i in layout.columns.items()}
        options = {
            "read_options": pacsv.ReadOptions(
                skip_rows=header_line,
                column_names=names,
                block_size=ARROW_BLOCK_BYTES,
                encoding="utf8" if layout.encoding.startswith("utf-8") else layout.encoding,
            ),
            # A row of another width is an error to Arrow (its message holds the row: never shown).
            "parse_options": pacsv.ParseOptions(
                delimiter=layout.delimiter, newlines_in_values=False, ignore_empty_lines=False
            ),
            "convert_options": pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        }
        line = header_line + 1
        try:
            for batch in _rebatched(pacsv.open_csv(self.path, **options), size):
                texts = [pc.utf8_trim_whitespace(batch.column(n)) for n in names]
                blank = functools.reduce(pc.and_, [pc.equal(t, "") for t in texts])
                # A line break inside a value shows as fewer rows than lines, checked at the end.
                odd = [_holds_quote(batch.column(n)) for n in names]
                if pc.any(blank).as_py() or any(odd):
                    raise NotPlain
                yield {declared: texts[names.index(column)] for declared, column in wanted.items()}, line
                line += batch.num_rows
        except pa.ArrowInvalid:
            raise NotPlain from None
        if line - 1 != self.physical_lines:  # a row spanning lines, or lines Arrow did not see
            raise NotPlain
        self.rows = line - header_line - 1
        self.footer_rows = self.blank_rows = 0
        if self.rows and not _plain_last_row(_last_lines(self.path, layout.encoding, 1), layout.delimiter, len(names)):
            raise NotPlain

    def _csv_error(self, exc: csv.Error, line: int) -> ExtractError:
        if "field larger than field limit" in str(exc):
            return ExtractError(
                f"{self.name}, line {line}: a quoted field opened here is never closed; the file may be cut off, "
                f"or a quote in free text was not doubled. Fix the quoting or {RESEND}"
            )
        return ExtractError(f"{self.name}, line {line}: cannot be read as CSV; {EXPORT}")

    def batches(self, size: int) -> Iterator[tuple[list[list[str]], list[int]]]:
        layout, width = self.layout, len(self.layout.header)
        self.rows = self.footer_rows = self.blank_rows = 0
        self._last: tuple[list[str], int] | None = None  # the last data row yielded
        header_line = layout.title_rows + 1
        shape = self._shape = _ShapeCheck(self.name, layout.header, layout.delimiter)
        records: list[list[str]] = []
        lines: list[int] = []  # a blank row's line is kept negative: dropped, or counted in the footer
        end = last_start = 0
        ready_at = size
        with self._open(layout.encoding) as f:
            reader = csv.reader(f, delimiter=layout.delimiter)
            try:
                for record in reader:  # the hot loop: one step a row, kept lean
                    start, end = end + 1, reader.line_num
                    if start <= header_line:
                        continue
                    last_start = start
                    if not any(record) or not (record[0].strip() or "".join(record).strip()):
                        records.append(record)
                        lines.append(-start)
                        continue
                    records.append(record)
                    lines.append(start)
                    if len(records) >= ready_at:
                        yield from self._ready(records, lines, self._held_back(records, lines, width))
                        ready_at = len(records) + size
            except csv.Error as exc:
                raise self._csv_error(exc, end + 1) from None
        if last_start:
            tail = _last_lines(self.path, layout.encoding, end - last_start + 1)
            _check_unterminated_quote(self.name, tail, layout.delimiter, last_start, layout.header)
        cut = self._held_back(records, lines, width)
        footer = [(r, abs(at)) for r, at in zip(records[cut:], lines[cut:])]
        self.footer_rows = len(footer)
        del records[cut:], lines[cut:]
        last_batch = list(self._ready(records, lines, len(records)))  # seen by the shape check before it judges
        for record, line in footer:
            stated = _footer_count(record)
            if stated is not None and stated != self.rows:
                raise ExtractError(
                    f"{self.name}, line {line}: the file says {stated} rows but holds {self.rows}: it may be cut off, "
                    f"or rows were added after the total was written; {RESEND}"
                )
        shape.finish(self.rows, self._last)
        yield from last_batch

    @staticmethod
    def _held_back(records: list[list[str]], lines: list[int], width: int) -> int:
        """Where the trailing footer-like rows (blank, totals, "End of report") start."""
        cut = len(records)
        while cut and (lines[cut - 1] < 0 or _is_footer(records[cut - 1], width)):
            cut -= 1
        return cut

    def _ready(self, records: list[list[str]], lines: list[int], cut: int):
        """Yield the data rows before `cut`, counting the blank ones among them; keep the rest."""
        data = [(r, at) for r, at in zip(records[:cut], lines[:cut]) if at > 0]
        self.blank_rows += cut - len(data)
        width = self._shape.width
        for record, at in data:
            if len(record) != width:
                self._shape.see(record, at)
        del records[:cut], lines[:cut]
        if data:
            self.rows += len(data)
            self._last = data[-1]
            yield [r for r, _ in data], [at for _, at in data]


def _plain_last_row(last: list[str], delimiter: str, width: int) -> bool:
    """Not a footer as wide as the header, nor a quote that the end of the file cuts off."""
    try:
        record = next(csv.reader(last, delimiter=delimiter, strict=True))
    except csv.Error:
        return False
    return not _is_footer(record, width)


def count_fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


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


class _ShapeCheck:
    """Rows with the wrong number of fields are quarantined by the caller, unless the file as a
    whole is wrong: most rows misshapen, a quote swallowing rows, or its last row cut short.
    Misshapen rows are seen one at a time; what they add up to is judged at the end."""

    def __init__(self, name: str, header: list[str], delimiter: str):
        self.name, self.header, self.delimiter, self.width = name, header, delimiter, len(header)
        self.bad = 0
        self.first_bad: tuple[int, int] | None = None  # (line, fields)
        self.all_trailing = True  # every misshapen row only has extra empty fields at its end
        self.run_on: tuple[int, int] | None = None  # the first misshapen row holding a line break

    def see(self, record: list[str], line: int) -> None:
        self.bad += 1
        self.first_bad = self.first_bad or (line, len(record))
        self.all_trailing = self.all_trailing and len(record) > self.width and not "".join(record[self.width :]).strip()
        if self.run_on is None and any("\n" in c or "\r" in c for c in record):
            self.run_on = (line, len(record))

    def finish(self, rows: int, last: tuple[list[str], int] | None) -> None:
        """Judge the file once its last row is read: `rows` data rows, the last of them `last`."""
        name, width = self.name, self.width
        if self.bad > 1 and self.bad * 2 > rows:
            line, fields = self.first_bad
            cause = (
                "the rows end with empty fields the header does not have (a delimiter at the end of each row?)"
                if self.all_trailing
                else f"the delimiter ({DELIMITER_NAMES[self.delimiter]}) or the quoting is wrong"
            )
            raise ExtractError(
                f"{name}: {self.bad} of {rows} rows have a different number of fields from the header "
                f"(the first at line {line}: {count_fields(fields)} where the header has {width}); "
                f"{cause}. Re-export it with text fields quoted, or {RESEND}"
            )
        if self.run_on:
            line, fields = self.run_on
            raise ExtractError(
                f"{name}, line {line}: a quoted field opens on this line and runs on over the lines below it "
                f"({count_fields(fields)} where the header has {width}); a quote in free text was probably "
                f"not doubled. Fix the quoting or {RESEND}"
            )
        if last and len(last[0]) < width:
            record, line = last
            raise ExtractError(
                f"{name}, line {line}: {count_fields(len(record))} where the header has {width}; "
                "this is the last row and "
                f"it stops after column {_shown(self.header[len(record) - 1], len(record) - 1)!r}, "
                f"so the file looks cut off: {RESEND}"
            )
