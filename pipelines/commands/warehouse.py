"""Reading what a month gave: its hotspots, its report, queries of the published warehouse, the
re-identification risk of its row-level zone, and scans for identifiable values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pipelines.commands import (
    IstvFailure,
    agreement_file,
    console,
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
    from warehouse.publish import connect_read_only
    from warehouse.queries import saved_queries

    when = parse_month(month)
    queries = saved_queries()
    try:
        con = connect_read_only(working_folder().warehouse)
    except FileNotFoundError as exc:
        raise IstvFailure(str(exc)) from None
    with con:
        cells, cell_reasons = _not_available_marked(con, queries["top_cells"]["sql"], when, "hotspot_cells", limit)
        venues, venue_reasons = _not_available_marked(con, queries["top_venues"]["sql"], when, "hotspot_venues", limit)
        published_under = published_agreements(con, when)
    if not cells and not venues:
        raise IstvFailure(f"nothing published for {month}: run `istv run --month {month}` first")
    console.print(
        table_of(
            f"Top hotspot cells, {month}", ["rank", "cell", "lat", "lon", "ED", "police", "combined", "Gi* z"], cells
        )
    )
    console.print(table_of(f"Top venues by ED assaults, {month}", ["rank", "venue", "ED", "police"], venues))
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


@click.command(help="Run SQL or a saved query against the published warehouse, read-only.")
@click.argument("sql", required=False)
@click.option("--saved", help="Name of a saved query (see --list).")
@click.option("--month", help="YYYY-MM, for saved queries that take one.")
@click.option("--list", "list_saved", is_flag=True, help="List the saved queries.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "parquet"]), default="table", show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File for csv or parquet output (csv: default stdout).",
)
def query(sql: str | None, saved: str | None, month: str | None, list_saved: bool, fmt: str, out: Path | None) -> None:
    from warehouse.queries import saved_queries

    queries = saved_queries()
    if list_saved:
        console.print(
            table_of("Saved queries", ["name", "what it shows"], [(n, q["description"]) for n, q in queries.items()])
        )
        return
    if bool(sql) == bool(saved):
        raise click.UsageError("give either SQL or --saved NAME")
    parameters = {}
    if saved:
        if saved not in queries:
            raise IstvFailure(f"no saved query {saved!r}; `istv query --list` shows them")
        sql = queries[saved]["sql"]
        if "$month" in sql:
            if not month:
                raise IstvFailure(f"the saved query {saved!r} needs --month YYYY-MM")
            parameters["month"] = parse_month(month)
    if fmt == "parquet" and not out:
        raise click.UsageError("--format parquet needs --out FILE")
    try:
        frame = _query_frame(working_folder().warehouse, sql, parameters)
    except FileNotFoundError as exc:
        raise IstvFailure(str(exc)) from None
    except Exception as exc:  # duckdb's errors already say what is wrong with the SQL
        raise IstvFailure(f"query failed: {exc}") from None
    if fmt == "table":
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        console.print(table_of(saved, list(frame.columns), rows))
    elif fmt == "csv":
        text = frame.to_csv(index=False)
        out.write_text(text) if out else click.echo(text, nl=False)
    else:
        frame.to_parquet(out, index=False)
    if out:
        console.print(f"{len(frame)} rows written to {out}")


def _query_frame(warehouse: Path, sql: str, parameters: dict):
    """The rows of a query of the published warehouse, opened read-only, as a pandas frame."""
    from warehouse.publish import connect_read_only

    with connect_read_only(warehouse) as con:
        result = con.execute(sql, parameters)
        dates = [column for column, kind, *_ in result.description if str(kind) == "DATE"]
        frame = result.df()
    for column in dates:  # pandas holds a DATE as a midnight timestamp: show it as the date it is
        frame[column] = frame[column].dt.date
    return frame


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
