"""Reading what a month gave: its hotspots, its report, queries of the published warehouse, the
re-identification risk of its row-level zone, and scans for identifiable values."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click

from pipelines.commands import (
    IstvFailure,
    IstvUsageError,
    agreement_file,
    console,
    err,
    parse_month,
    read_agreement,
    table_of,
    working_folder,
)


@click.command(help="Show the top hotspot cells and venues of a month.")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--limit", default=10, show_default=True)
def hotspots(month: str, limit: int) -> None:
    from report.data import published_agreements
    from warehouse.lake import LakeError
    from warehouse.publish import connect_read_only
    from warehouse.queries import saved_queries

    when = parse_month(month)
    queries = saved_queries()
    try:
        con = connect_read_only(working_folder().warehouse)
    except (FileNotFoundError, LakeError) as exc:
        raise IstvFailure(str(exc)) from None
    with con:
        cells, cell_reasons = _not_available_marked(con, queries["top_cells"]["sql"], when, "hotspot_cells", limit)
        venues, venue_reasons = _not_available_marked(con, queries["top_venues"]["sql"], when, "hotspot_venues", limit)
        published_under = published_agreements(con, when)
    if not cells and not venues:
        raise IstvFailure(f"nothing published for {month}: run `istv run --month {month}` first")
    _show(f"Top hotspot cells, {month}", ["rank", "cell", "lat", "lon", "ED", "police", "combined", "Gi* z"], cells)
    _show(f"Top venues by ED assaults, {month}", ["rank", "venue", "ED", "police"], venues)
    for reason in sorted(cell_reasons | venue_reasons):
        console.print(f"n/a: not available (not withheld): {reason}", highlight=False)
    console.print(_disclosure_note(published_under), highlight=False)


def _not_available_marked(con, sql: str, month: dt.date, table: str, limit: int) -> tuple[list[tuple], set[str]]:
    """A saved query's rows (its last column the not-available code) with each figure the month's
    data cannot give shown as "n/a", never as the withheld "—"; and the reasons, as sentences."""
    from warehouse.tables import not_available_reasons, table_specs

    result = con.execute(sql, {"month": month})
    columns = [d[0] for d in result.description]
    figures = next(s for s in table_specs() if s.name == table).unavailable_figures()
    rows, reasons = [], set()
    for row in result.fetchall()[:limit]:
        *shown, code = row
        for i, column in enumerate(columns[:-1]):
            if code and shown[i] is None and column in figures and (figures[column] is None or code in figures[column]):
                shown[i] = "n/a"
                reasons.add(not_available_reasons().get(code, code))
        rows.append(tuple(shown))
    return rows, reasons


def _disclosure_note(published_under: list[tuple[str, int]]) -> str:
    """What the published counts are, from the policy of the agreement in force; when the rows
    carry another agreement id or version, that is said instead of a rule that may not be theirs."""
    from anonymise.disclosure import disclosure_legend
    from report.disclosure import disclosure_for

    disclosure = disclosure_for(published_under, agreement_file(None))
    if disclosure.policy is None:
        return f"Counts are disclosure-controlled, but istv cannot say how: {disclosure.warning}."
    return disclosure_legend(disclosure.policy, disclosure.public_sources)


@click.command(help="Write the month's hotspot report: one HTML file that opens offline.")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: $ISTV_HOME/reports/YYYY-MM.html")
def report(month: str, out: Path | None) -> None:
    from report.page import ReportError, render_report

    when = parse_month(month)
    home = working_folder()
    try:
        path = render_report(home.warehouse, when, out or home.report_file(when))
    except (FileNotFoundError, ReportError) as exc:
        raise IstvFailure(str(exc)) from None
    console.print(f"Report for {month}: {path}")


def _moment(option: str, text: str | None) -> dt.datetime | None:
    """A moment given on the command line, in UTC; None when not given."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise IstvUsageError(
            f"{option} {text!r} is not a date or time: write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# The files --out writes, by extension: the --format each one means.
FILE_FORMATS = {".csv": "csv", ".parquet": "parquet"}


@click.command(help="Run SQL or a saved query against the published warehouse, read-only.")
@click.argument("sql", required=False)
@click.option("--saved", help="Name of a saved query (see --list).")
@click.option("--month", help="YYYY-MM, for a saved query. Default: the latest month published.")
@click.option("--list", "list_saved", is_flag=True, help="List the saved queries.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", *FILE_FORMATS.values()]),
    help="Default: the one the extension of --out names, else table.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"File to write, in the format its extension names ({', '.join(FILE_FORMATS)}); else csv goes to stdout.",
)
@click.option(
    "--as-of",
    help="YYYY-MM-DD[THH:MM] (UTC): the warehouse as it was published then (the DuckLake backend keeps every release).",
)
def query(
    sql: str | None,
    saved: str | None,
    month: str | None,
    list_saved: bool,
    fmt: str | None,
    out: Path | None,
    as_of: str | None,
) -> None:
    import duckdb
    from rich.markup import escape

    from warehouse.publish import connect_read_only
    from warehouse.queries import saved_queries

    queries = saved_queries()
    if list_saved:
        console.print(
            table_of("Saved queries", ["name", "what it shows"], [(n, q["description"]) for n, q in queries.items()])
        )
        return
    if bool(sql) == bool(saved):
        raise click.UsageError("give either SQL or --saved NAME")
    if saved and saved not in queries:
        raise IstvFailure(f"no saved query {saved!r}; `istv query --list` shows them")
    from warehouse.lake import LakeError

    when = parse_month(month)
    fmt = _output_format(fmt, out)
    try:
        con = connect_read_only(working_folder().warehouse, as_of=_moment("--as-of", as_of))
    except (FileNotFoundError, LakeError) as exc:
        raise IstvFailure(str(exc)) from None
    with con:
        # DuckDB would otherwise read a name the SQL does not find in the warehouse as a Python
        # variable of this module, and fail in Python's terms ("report" is the report command).
        con.execute("SET python_enable_replacements = false")
        parameters = {}
        if saved:
            sql = queries[saved]["sql"]
            parameters["month"] = when or _latest_month(con)
        try:
            frame = _query_frame(con, sql, parameters)
        except duckdb.Error as exc:
            raise IstvFailure(f"query failed: {escape(_sql_problem(con, sql, exc))}") from None
    if fmt == "table":
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        _show(saved, list(frame.columns), rows, whole="--format csv gives each row on one line")
    elif out is None:
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        try:
            out.write_text(frame.to_csv(index=False)) if fmt == "csv" else frame.to_parquet(out, index=False)
        except OSError as exc:
            raise IstvFailure(f"could not write {out}: {exc.strerror or exc}") from None
        console.print(f"{len(frame)} rows written to {out}")


def _output_format(fmt: str | None, out: Path | None) -> str:
    """The format to give the rows in: --format, else the one the extension of --out names, else a
    table. Refused before any query runs, so that nothing claims a file it did not write: a table
    or no named format for a file, parquet for the terminal, and a --format the extension
    contradicts."""
    if out is None:
        if fmt == "parquet":
            raise click.UsageError("--format parquet needs --out FILE")
        return fmt or "table"
    known = ", ".join(FILE_FORMATS)
    if fmt == "table":
        raise click.UsageError(f"--format table is for the terminal; --out writes {known} files")
    named = FILE_FORMATS.get(out.suffix.lower())
    if named is None and fmt is None:
        raise click.UsageError(
            f"cannot tell the format of {out.name} from its extension; --out knows {known} (or give --format)"
        )
    if named and fmt and named != fmt:
        raise click.UsageError(f"--format {fmt} and --out {out.name} disagree: a {out.suffix} file holds {named}")
    return fmt or named


def _latest_month(con) -> dt.date:
    """The month a saved query shows when none is given: the latest published, said on stderr so
    that csv on stdout stays clean."""
    from warehouse.queries import latest_published_month

    latest = latest_published_month(con)
    if latest is None:
        raise IstvFailure("nothing is published yet: run `istv run --month YYYY-MM` first")
    err.print(f"No --month given: showing {latest:%Y-%m}, the latest month published.", highlight=False)
    return latest


def _query_frame(con, sql: str, parameters: dict):
    """The rows of a query of the published warehouse as a pandas frame."""
    result = con.execute(sql, parameters)
    if result is None:  # what DuckDB returns for SQL that holds only blanks or comments
        raise IstvFailure("query failed: the SQL holds no statement")
    dates = [column for column, kind, *_ in result.description if str(kind) == "DATE"]
    frame = result.df()
    for column in dates:  # pandas holds a DATE as a midnight timestamp: show it as the date it is
        frame[column] = frame[column].dt.date
    return frame


# DuckDB's names for a table or a column the SQL reads and the warehouse lacks.
_UNKNOWN_TABLE = re.compile(r'Table with name "?(.+?)"? does not exist')
_UNKNOWN_COLUMN = re.compile(r'column named "([^"]+)"|[Cc]olumn "([^"]+)".* (?:not found|does not exist)')


def _sql_problem(con, sql: str, exc: Exception) -> str:
    """What is wrong with an analyst's SQL, in one or two lines of SQL terms: DuckDB's message
    without its error class or the SQL quoted back with a caret. DuckDB's guesses at a table come
    from its own catalog as well, so they can name an internal table: an unknown table is given
    the warehouse's tables instead, and an unknown column the columns of the warehouse's tables
    the SQL names."""
    first, *rest = str(exc).splitlines()
    problem = re.sub(r"^[A-Z][A-Za-z ]* Error: ", "", first).removesuffix("!")
    tables = sorted(
        name for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall()
    )
    if unknown := _UNKNOWN_TABLE.search(problem):
        return (
            f'unknown table "{unknown[1]}"\nthe warehouse has {", ".join(tables)} (saved queries: `istv query --list`)'
        )
    if unknown := _UNKNOWN_COLUMN.search(problem):
        columns = con.execute(
            "SELECT table_name, string_agg(column_name, ', ' ORDER BY column_index) FROM duckdb_columns() "
            "WHERE NOT internal AND list_contains(?, table_name) GROUP BY table_name ORDER BY table_name",
            [sorted(set(re.findall(r"\w+", sql)) & set(tables))],
        ).fetchall()
        listed = "; ".join(f"{table} has {names}" for table, names in columns)
        return f'unknown column "{unknown[1] or unknown[2]}"' + (f"\n{listed}" if listed else "")
    hint = next((line for line in rest if line.startswith(("Did you mean", "Candidate tables"))), None)
    return problem + (f"\n{hint}" if hint else "")


def _show(title: str | None, columns: list[str], rows, whole: str | None = None) -> None:
    """Rows as a table when each fits on one line of the terminal, else one block per row, each
    column's name beside its value. A table squeezed into the terminal cuts values to "…": the
    tail of a cell id, so that ranked cells look alike, or every cell of a wide result. `whole`
    says how else to see the rows whole, in the note under the blocks."""
    from rich.markup import escape
    from rich.measure import Measurement

    # Names and values shown as they are, never read as markup (a venue's "[closed]").
    columns = [escape(column) for column in columns]
    rows = [[None if value is None else escape(str(value)) for value in row] for row in rows]
    table = table_of(title, columns, rows)
    # Measured with room for any row on one line: the width the table needs to cut nothing.
    needed = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
    if needed <= console.width:
        console.print(table)
        return
    if rows:
        blocks = table_of(title, ["column", "value"], [pair for row in rows for pair in zip(columns, row)])
        blocks.caption = "One block per row: the table is wider than the terminal" + (f"; {whole}" if whole else "")
    else:  # no values to lay out: the columns a row would have
        blocks = table_of(title, ["column", "value"], [(column, "") for column in columns])
        blocks.caption = "No rows"
    blocks.show_header = False
    blocks.columns[1].overflow = "fold"  # a value wider than the terminal goes on, never cut
    for last_of_row in blocks.rows[len(columns) - 1 :: len(columns)]:
        last_of_row.end_section = True
    console.print(blocks)


@click.command(
    help="Re-identification risk of a month's row-level zone (k-anonymity over the agreement's quasi-identifiers)."
)
@click.option("--month", required=True, help="YYYY-MM")
def risk(month: str) -> None:
    import duckdb

    from anonymise.risk import k_anonymity

    when = parse_month(month)
    home = working_folder()
    path = home.pseudonymised_file("joint", when)
    if not path.exists():
        raise IstvFailure(f"no pseudonymised rows for {month}: run `istv run --month {month}` first")
    agreement = read_agreement(agreement_file(None))
    # Group sizes counted by DuckDB over the file: a national month is never loaded whole.
    report = k_anonymity(duckdb.read_parquet(str(path)), agreement.risk.quasi_identifiers, agreement.risk.k)
    console.print(table_of(f"Risk, {month}", ["measure", "value"], list(report.as_metadata().items())))
    if report.below_target:
        console.print(
            f"[yellow]Warning:[/] {report.rows_below_target} rows are in groups smaller than k = {report.target_k}; "
            "coarser generalisation (wider age bands, a coarser cell resolution) would raise k."
        )


@click.command(help="Scan a file, a folder or a DuckDB warehouse for identifiable values; non-zero exit if any.")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--month", help="YYYY-MM: also look for that month's own identifiers (from the landing zone).")
def scan(path: Path, month: str | None) -> None:
    from anonymise.leaks import LeakScanner
    from anonymise.scan import scan_path
    from pipelines.lib.leak_checks import public_text, scanner_for

    scanner = scanner_for(working_folder(), parse_month(month)) if month else LeakScanner(allowed_text=public_text())
    findings = scan_path(path, scanner)
    if findings:
        rows = [(where, f.kind, f.column, f.count) for where, f in findings]
        console.print(
            table_of(
                "Possible identifiable values (locations and counts only)", ["where", "kind", "column", "values"], rows
            )
        )
        raise IstvFailure(f"{len(findings)} finding(s) in {path}")
    console.print(f"[green]OK[/] nothing identifiable found in {path}")
