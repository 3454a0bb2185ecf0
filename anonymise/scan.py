"""Scan files, folders and DuckDB warehouses for identifiable values (see anonymise.leaks).

Each finding comes with where it is (a file, or "file::table"), never with a value. Memory stays
bounded: tables and parquet files are read in batches, text line by line, other files in blocks.
Names are checked too: a file, table or column named with an identifier is reported as withheld.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from anonymise.leaks import Finding, LeakScanner, is_text

TEXT_SUFFIXES = frozenset({".csv", ".json", ".jsonl", ".log", ".txt", ".md", ".html"})
_BATCH_ROWS = 65_536
_VECTORS_PER_CHUNK = 32  # DuckDB vectors hold 2,048 rows
_MAX_LINE = 1 << 20  # longer lines are read in pieces
_BLOCK = 1 << 20
_SEPARATORS = (b"\n", b"\x00", b" ")  # where a binary block may be cut without splitting a value
# Control characters and undecodable bytes (U+FFFD) end a printable run.
_PRINTABLE_RUN = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f\ufffd]{8,}")


def scan_path(path: Path, scanner: LeakScanner) -> list[tuple[str, Finding]]:
    """(location, finding) for a file, every file under a folder, or every table of a DuckDB
    warehouse; the location is the file or "file::table". Values are never returned."""
    path = Path(path)
    if path.is_file():
        root, files = path.parent, [path]
    else:
        root, files = path, _files_under(path)
    results: list[tuple[str, Finding]] = []
    for number, file in enumerate(files, 1):
        name_findings = _name_findings(str(file.relative_to(root)), scanner, "path")
        label = str(root / f"[file name withheld {number}]") if name_findings else str(file)
        results += [(label, f) for f in name_findings]
        results += _scan_file(file, label, scanner)
    return results


def _files_under(folder: Path) -> list[Path]:
    files = []
    for parent, dirs, names in os.walk(folder):  # symbolic links to folders are not followed
        dirs.sort()
        files += [Path(parent) / n for n in sorted(names) if (Path(parent) / n).is_file()]
    return files


def _name_findings(name: str, scanner: LeakScanner, where: str) -> list[Finding]:
    """Findings in a file, table or column name. Dates are left out: names carry run and
    partition dates ("ed_2026-08-15.log"), not birthdays."""
    text = name.replace(".", " ").replace("/", " ").replace(os.sep, " ")
    return [f for f in scanner.scan_text(text, where) if f.kind != "date_of_birth"]


def _scan_file(file: Path, label: str, scanner: LeakScanner) -> list[tuple[str, Finding]]:
    suffix = file.suffix.lower()
    if suffix == ".duckdb":
        return _scan_duckdb(file, label, scanner)
    if suffix == ".parquet":
        return [(label, f) for f in _scan_parquet(file, scanner)]
    if suffix in TEXT_SUFFIXES:
        return [(label, f) for f in _scan_text_file(file, label, scanner)]
    return [(label, f) for f in _scan_binary(file, label, scanner)]


def _merge(findings: list[Finding]) -> list[Finding]:
    """One finding per kind and column, summed over batches."""
    totals: dict[tuple[str, str], int] = {}
    for f in findings:
        totals[f.kind, f.column] = totals.get((f.kind, f.column), 0) + f.count
    return [Finding(kind, column, count) for (kind, column), count in totals.items()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _scan_duckdb(file: Path, label: str, scanner: LeakScanner) -> list[tuple[str, Finding]]:
    results: list[tuple[str, Finding]] = []
    con = duckdb.connect(str(file), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables() "
            "WHERE NOT internal AND NOT temporary AND database_name = current_database() "
            "ORDER BY schema_name, table_name"
        ).fetchall()
        for schema, table, comment in tables:
            name = table if schema == "main" else f"{schema}.{table}"
            name_findings = _name_findings(name, scanner, "table name")
            where = f"{label}::{'[table name withheld]' if name_findings else name}"
            # Table and column descriptions are metadata analysts read, so they are checked too.
            findings = list(name_findings)
            if comment:
                findings += scanner.scan_text(comment, "table comment")
            described = con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = current_database() "
                "AND schema_name = ? AND table_name = ? AND comment IS NOT NULL AND comment <> ''",
                [schema, table],
            ).fetchall()
            for column, text in described:
                withheld = _name_findings(column, scanner, "column name")
                findings += scanner.scan_text(text, f"{'[column name withheld]' if withheld else column} comment")
            result = con.execute(f"SELECT * FROM {_quote(schema)}.{_quote(table)}")
            while len(chunk := result.fetch_df_chunk(_VECTORS_PER_CHUNK)):
                findings += scanner.scan_frame(chunk)
            results += [(where, f) for f in _merge(findings)]
    finally:
        con.close()
    return results


def _scan_parquet(file: Path, scanner: LeakScanner) -> list[Finding]:
    parquet = pq.ParquetFile(file, pre_buffer=False)  # read batch by batch: no read-ahead held
    findings: list[Finding] = []
    for value in (parquet.schema_arrow.metadata or {}).values():  # e.g. pandas' own metadata
        findings += scanner.scan_text(value.decode("utf-8", errors="ignore"), "parquet metadata")
    return _merge(findings + scan_parquet_rows(file, scanner))


def scan_parquet_rows(file: Path, scanner: LeakScanner, batch_rows: int = _BATCH_ROWS) -> list[Finding]:
    """The findings in a Parquet file's rows. Text columns the file stores dictionary-encoded
    (all but pseudonyms, as a rule) are read so, and each batch's distinct values come with them."""
    footer = pq.ParquetFile(file)
    parquet = pq.ParquetFile(file, pre_buffer=False, read_dictionary=_dictionary_text(footer), metadata=footer.metadata)
    if not parquet.metadata.num_rows:  # its columns' names are still checked
        return scanner.scan_batches([pa.RecordBatch.from_pylist([], schema=parquet.schema_arrow)])
    return scanner.scan_batches(parquet.iter_batches(batch_size=batch_rows))


def _dictionary_text(parquet: pq.ParquetFile) -> list[str]:
    """The text columns stored dictionary-encoded in every row group."""
    text = {f.name for f in parquet.schema_arrow if is_text(f.type)}
    metadata = parquet.metadata
    return [
        name
        for at, name in enumerate(metadata.schema.names)
        if name in text
        and all(
            {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & set(metadata.row_group(g).column(at).encodings)
            for g in range(metadata.num_row_groups)
        )
    ]


def _scan_text_file(file: Path, label: str, scanner: LeakScanner) -> list[Finding]:
    findings: list[Finding] = []
    with file.open(encoding="utf-8", errors="ignore", newline="") as lines:
        number = 1
        while piece := lines.readline(_MAX_LINE):
            findings += scanner.scan_text(piece, f"{label}:{number}")
            number += piece.endswith(("\n", "\r"))
    return _merge(findings)


def _strings(block: bytes) -> str:
    """The printable runs of 8 or more characters, one a line, as `strings -n 8` shows them.
    Shorter runs in compressed or numeric data match the patterns by chance ("CK47fP")."""
    return "\n".join(_PRINTABLE_RUN.findall(block.decode("utf-8", errors="replace")))


def _scan_binary(file: Path, label: str, scanner: LeakScanner) -> list[Finding]:
    """Strings in binary files (SQLite event logs, ...) as text, block by block; a block ends at
    a separator so that no value is split between two blocks."""
    findings: list[Finding] = []
    offset, carry = 0, b""
    with file.open("rb") as data:
        while block := data.read(_BLOCK):
            block = carry + block
            cut = max(block.rfind(s, max(0, len(block) - 4096)) for s in _SEPARATORS) + 1 or len(block)
            block, carry = block[:cut], block[cut:]
            findings += scanner.scan_text(_strings(block), f"{label}@{offset}")
            offset += len(block)
        if carry:
            findings += scanner.scan_text(_strings(carry), f"{label}@{offset}")
    return _merge(findings)
