"""`istv`: the command line for data officers, analysts and the demo.

Every command fails with a one-line message saying what is wrong and what to do, never a bare
traceback, and never prints a value from an identifiable field.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ingest.home import DEFAULT_HOME, IstvHome
from pipelines.runs import run_month
from schemas.model import SOURCES

console = Console(soft_wrap=True)
err = Console(stderr=True)


class IstvFailure(click.ClickException):
    def show(self, file=None):
        err.print(f"[bold red]istv:[/] {self.message}", soft_wrap=True, highlight=False)


def _month(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a month in the form YYYY-MM") from None


def _home() -> IstvHome:
    home = IstvHome.from_env()
    home.create()
    return home


@click.group(
    help="Share ED and police violence data the Cardiff Model way. Working folder: $ISTV_HOME (default ~/.istv)."
)
def cli() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@cli.command(help="Write synthetic ED and police extracts for a month (seeded, any size).")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--rows", default=1000, show_default=True, type=int, help="ED rows; police rows are three times as many.")
def generate(month: str, out_dir: Path, seed: int, rows: int) -> None:
    from pipelines.synthetic import generate_month

    _month(month)
    paths = generate_month(month, out_dir, seed=seed, ed_rows=rows)
    for source, path in paths.items():
        console.print(f"{source}: {path}")


@cli.command(help="Check a delivered extract and place it in the landing zone for its month.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, type=click.Choice(list(SOURCES)))
@click.option("--month", help="YYYY-MM; worked out from the rows when not given.")
def ingest(file: Path, source: str, month: str | None) -> None:
    """The checks and the landing are ingest.delivery's, all or nothing; here the arguments are read
    and its refusals become messages."""
    from ingest.delivery import RefusedDelivery, accept_delivery
    from ingest.landing import DuplicateDelivery
    from ingest.parse import ExtractError
    from ingest.secrets import MissingKeyError
    from sharing_agreements.auditing import writer

    home = _home()
    try:
        audit_log = writer(home)
    except MissingKeyError as exc:
        raise IstvFailure(f"cannot write the audit log, so nothing was landed: {exc}") from None
    agreement = _agreement_in_force()
    try:
        delivery = accept_delivery(home, source, file, _month(month), agreement, audit_log.append)
    except (ExtractError, RefusedDelivery, DuplicateDelivery) as exc:
        raise IstvFailure(str(exc)) from None
    console.print(
        f"Landed {file.name} as the {source} extract of {', '.join(delivery.providers)} for {delivery.month:%Y-%m} "
        f"(sha256 {delivery.sha256[:16]}…)"
    )
    for earlier in delivery.superseded:
        console.print(
            f"It replaces {earlier.path.name} (sha256 {earlier.sha256[:16]}…), kept in superseded/ for the audit trail"
        )


def _agreement_in_force():
    from sharing_agreements.model import AgreementError
    from sharing_agreements.signing import load_verified

    try:
        agreement, _ = load_verified(_agreement_file(None))
        agreement.check_in_force(dt.date.today())
    except AgreementError as exc:
        raise IstvFailure(f"nothing was landed: {exc}") from None
    return agreement


def _failure_message(result) -> str:
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                cause = error.cause or error
                return f"step {event.step_key} failed: {cause.message.strip().splitlines()[-1]}"
    return "the run failed; open the Dagster UI (make dagster-ui) for the step that failed"


@cli.command(help="Run a month: validate, pseudonymise and publish it under the agreement in force.")
@click.option("--month", required=True, help="YYYY-MM")
@click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Run each step in a fresh process, this many at once (0: all in this process). "
    "For large months: each step's memory is then its own.",
)
def run(month: str, processes: int) -> None:
    when = _month(month)
    home = _home()
    with console.status(f"Running {month} through Dagster (validate, pseudonymise, publish)…"):
        result = run_month(when, home, processes)
    if not result.success:
        raise IstvFailure(f"{month}: {_failure_message(result)}")
    console.print(f"[green]Published {month}[/] to {home.warehouse}")


@cli.command(help="Show the top hotspot cells and venues of a month.")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--limit", default=10, show_default=True)
def hotspots(month: str, limit: int) -> None:
    from report.data import published_agreements
    from warehouse.publish import connect_read_only
    from warehouse.queries import saved_queries

    when = _month(month)
    queries = saved_queries()
    try:
        con = connect_read_only(_home().warehouse)
    except FileNotFoundError as exc:
        raise IstvFailure(str(exc)) from None
    with con:
        cells, cell_reasons = _not_available_marked(con, queries["top_cells"]["sql"], when, "hotspot_cells", limit)
        venues, venue_reasons = _not_available_marked(con, queries["top_venues"]["sql"], when, "hotspot_venues", limit)
        published_under = published_agreements(con, when)
    if not cells and not venues:
        raise IstvFailure(f"nothing published for {month}: run `istv run --month {month}` first")
    console.print(
        _table(
            f"Top hotspot cells, {month}", ["rank", "cell", "lat", "lon", "ED", "police", "combined", "Gi* z"], cells
        )
    )
    console.print(_table(f"Top venues by ED assaults, {month}", ["rank", "venue", "ED", "police"], venues))
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

    disclosure = disclosure_for(published_under, _agreement_file(None))
    if disclosure.policy is None:
        return f"Counts are disclosure-controlled, but istv cannot say how: {disclosure.warning}."
    return disclosure_legend(disclosure.policy, disclosure.public_sources)


@cli.command(help="Write the month's hotspot report: one HTML file that opens offline.")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: $ISTV_HOME/reports/YYYY-MM.html")
def report(month: str, out: Path | None) -> None:
    from report.page import ReportError, render_report

    when = _month(month)
    home = _home()
    try:
        path = render_report(home.warehouse, when, out or home.report_file(when))
    except (FileNotFoundError, ReportError) as exc:
        raise IstvFailure(str(exc)) from None
    console.print(f"Report for {month}: {path}")


@cli.command(help="Run SQL or a saved query against the published warehouse, read-only.")
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
    from warehouse.publish import connect_read_only
    from warehouse.queries import saved_queries

    queries = saved_queries()
    if list_saved:
        console.print(
            _table("Saved queries", ["name", "what it shows"], [(n, q["description"]) for n, q in queries.items()])
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
            parameters["month"] = _month(month)
    if fmt == "parquet" and not out:
        raise click.UsageError("--format parquet needs --out FILE")
    try:
        with connect_read_only(_home().warehouse) as con:
            result = con.execute(sql, parameters)
            dates = [column for column, kind, *_ in result.description if str(kind) == "DATE"]
            frame = result.df()
            for column in dates:  # pandas holds a DATE as a midnight timestamp: show it as the date it is
                frame[column] = frame[column].dt.date
    except FileNotFoundError as exc:
        raise IstvFailure(str(exc)) from None
    except Exception as exc:  # duckdb's errors already say what is wrong with the SQL
        raise IstvFailure(f"query failed: {exc}") from None
    if fmt == "table":
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False)
        console.print(_table(saved, list(frame.columns), rows))
    elif fmt == "csv":
        text = frame.to_csv(index=False)
        out.write_text(text) if out else click.echo(text, nl=False)
    else:
        frame.to_parquet(out, index=False)
    if out:
        console.print(f"{len(frame)} rows written to {out}")


def _table(title: str | None, columns: list[str], rows) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("—" if v is None else str(v) for v in row))
    return table


@cli.command(
    help="Re-identification risk of a month's row-level zone (k-anonymity over the agreement's quasi-identifiers)."
)
@click.option("--month", required=True, help="YYYY-MM")
def risk(month: str) -> None:
    import duckdb

    from anonymise.risk import k_anonymity

    when = _month(month)
    home = _home()
    path = home.pseudonymised_file("joint", when)
    if not path.exists():
        raise IstvFailure(f"no pseudonymised rows for {month}: run `istv run --month {month}` first")
    agreement = _load(_agreement_file(None))
    # Group sizes counted by DuckDB over the file: a national month is never loaded whole.
    report = k_anonymity(duckdb.read_parquet(str(path)), agreement.risk.quasi_identifiers, agreement.risk.k)
    console.print(_table(f"Risk, {month}", ["measure", "value"], list(report.as_metadata().items())))
    if report.below_target:
        console.print(
            f"[yellow]Warning:[/] {report.rows_below_target} rows are in groups smaller than k = {report.target_k}; "
            "coarser generalisation (wider age bands, a coarser cell resolution) would raise k."
        )


@cli.command(help="Scan a file, a folder or a DuckDB warehouse for identifiable values; non-zero exit if any.")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--month", help="YYYY-MM: also look for that month's own identifiers (from the landing zone).")
def scan(path: Path, month: str | None) -> None:
    from anonymise.leaks import LeakScanner
    from anonymise.scan import scan_path
    from pipelines.lib.leak_checks import public_text, scanner_for

    scanner = scanner_for(_home(), _month(month)) if month else LeakScanner(allowed_text=public_text())
    findings = scan_path(path, scanner)
    if findings:
        rows = [(where, f.kind, f.column, f.count) for where, f in findings]
        console.print(
            _table(
                "Possible identifiable values (locations and counts only)", ["where", "kind", "column", "values"], rows
            )
        )
        raise IstvFailure(f"{len(findings)} finding(s) in {path}")
    console.print(f"[green]OK[/] nothing identifiable found in {path}")


@cli.group(help="Sharing agreements, for governance boards: check, show, diff, sign.")
def agreements() -> None:
    pass


def _agreement_file(file: Path | None) -> Path:
    from sharing_agreements.model import agreement_path

    return agreement_path(file)


def _load(file: Path):
    from sharing_agreements.model import AgreementError, load_agreement

    try:
        return load_agreement(file)
    except AgreementError as exc:
        raise IstvFailure(str(exc)) from None


@agreements.command("check", help="Refuse an agreement that is malformed, unsigned, altered, or not in force.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agreements_check(file: Path | None) -> None:
    from sharing_agreements.model import AgreementError
    from sharing_agreements.signing import verify

    file = _agreement_file(file)
    agreement = _load(file)
    try:
        signatures = verify(file, agreement)
        agreement.check_in_force(dt.date.today())
    except AgreementError as exc:
        raise IstvFailure(str(exc)) from None
    signed = "; ".join(f"{s.signer} ({s.key_id}, {s.signed_at[:10]})" for s in signatures)
    console.print(f"[green]OK[/] {agreement.label} is well-formed, in force and signed by {signed}")
    console.print(f"content sha256 {agreement.content_hash()}")


@agreements.command("show", help="What an agreement allows, in plain words.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agreements_show(file: Path | None) -> None:
    from sharing_agreements.review import summary_lines

    console.print("\n".join(summary_lines(_load(_agreement_file(file)))), highlight=False, soft_wrap=True)


@agreements.command("diff", help="What changed between two versions of an agreement.")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agreements_diff(old: Path, new: Path) -> None:
    from sharing_agreements.review import differences

    changes = differences(_load(old), _load(new))
    console.print("\n".join(f"- {c}" for c in changes) or "no differences", highlight=False, soft_wrap=True)


@agreements.command("sign", help="Sign an agreement with a board's Ed25519 private key.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--signer", required=True, help="The board signing, e.g. 'Cardiff CSP Board'.")
def agreements_sign(file: Path, key_file: Path, signer: str) -> None:
    from sharing_agreements.signing import load_private_key, sign

    agreement = _load(file)
    signature = sign(file, agreement, load_private_key(key_file), signer)
    console.print(
        f"{signer} signed {agreement.label} (key {signature.key_id}, content sha256 {signature.content_sha256[:16]}…)"
    )


@agreements.command("keygen", help="Make a board's Ed25519 key pair; keep the private key outside the repository.")
@click.option("--private", "private_out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public", "public_out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def agreements_keygen(private_out: Path, public_out: Path) -> None:
    from sharing_agreements.signing import generate_board_key

    key_id = generate_board_key(private_out, public_out)
    console.print(f"key {key_id}: private key {private_out} (mode 600), public key {public_out}")


@cli.group(help="Keys for pseudonyms and the quarantine.")
def keys() -> None:
    pass


@keys.command("generate", help="Make throwaway demo keys in $ISTV_HOME/keys (never for real data).")
def keys_generate() -> None:
    from ingest.secrets import generate_demo_keys

    home = _home()
    made = generate_demo_keys(home)
    _record_key_events(home, made)
    console.print("\n".join(f"made {kind} key {p}" for kind, p in made) or "demo keys already exist")


@keys.command("list", help="The pseudonym key ring: key ids, creation dates, status (never the keys).")
def keys_list() -> None:
    from ingest.secrets import MissingKeyError, pseudonym_key_ring

    try:
        ring = pseudonym_key_ring(_home())
    except MissingKeyError as exc:
        raise IstvFailure(str(exc)) from None
    console.print(
        _table("Pseudonym keys", ["key id", "created", "status"], [(k.key_id, k.created, k.status) for k in ring.keys])
    )


@keys.command("rotate", help="Demo key ring only: make a new active pseudonym key and retire the old one.")
def keys_rotate() -> None:
    from ingest.secrets import rotate_demo_pseudonym_key

    home = _home()
    if os.environ.get("ISTV_PSEUDONYM_KEY") or os.environ.get("ISTV_PSEUDONYM_KEY_FILE"):
        raise IstvFailure("keys from the environment are rotated by their custodian, not by istv")
    ring = rotate_demo_pseudonym_key(home)
    _audit(
        home,
        "key_event",
        {
            "event": "rotated (demo)",
            "key": "pseudonym",
            "key_id": ring.active.key_id,
            "retired": [k.key_id for k in ring.keys if k.status == "retired"],
        },
    )
    console.print(f"new active pseudonym key {ring.active.key_id}; every pseudonym changes from the next run")


def _record_key_events(home: IstvHome, made) -> None:
    from ingest.secrets import key_ids

    ids = key_ids(home)
    for kind, _ in made:
        _audit(home, "key_event", {"event": "generated (demo)", "key": kind, "key_id": ids[kind]})


def _audit(home: IstvHome, kind: str, details: dict) -> None:
    from ingest.secrets import MissingKeyError
    from sharing_agreements.auditing import record

    try:
        record(home, kind, details)
    except MissingKeyError as exc:
        raise IstvFailure(f"cannot write the audit log: {exc}") from None


@cli.group(help="The tamper-evident audit log, for governance boards.")
def audit() -> None:
    pass


@audit.command("verify", help="Check every entry and signed checkpoint; non-zero exit names the first bad entry.")
def audit_verify() -> None:
    from sharing_agreements.auditing import reader

    report = reader(_home()).verify()
    if not report.ok:
        raise IstvFailure(f"audit log FAILED verification: {report.message}")
    tail = f"; {report.unsigned_tail} newest not yet checkpointed" if report.unsigned_tail else ""
    console.print(
        f"[green]OK[/] audit log verified: {report.entries} entries, hash chain and signed checkpoints intact{tail}"
    )


@audit.command(
    "report",
    help="What was shared under each agreement and month, with exact counts, for the "
    "governance board only; writes Markdown too, into the audit zone.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Default: $ISTV_HOME/audit/reports/audit.md (the audit zone, governance boards only).",
)
def audit_report(out: Path | None) -> None:
    from rich.markdown import Markdown

    from sharing_agreements.audit_report import report_markdown
    from sharing_agreements.auditing import reader
    from sharing_agreements.model import AgreementError, load_agreement

    home = _home()
    out = (out or home.audit_report_file).expanduser().resolve()
    if out.is_relative_to(home.reports):
        # The analysts' folder: the audit report's exact counts must never sit beside their reports.
        raise IstvFailure(
            f"the audit report holds exact counts for the board only: not in {home.reports}, "
            f"which analysts read; leave out --out to write it to {home.audit_report_file}"
        )
    log = reader(home)
    report = log.verify()
    status = f"verified, {report.entries} entries" if report.ok else f"FAILED verification: {report.message}"
    try:
        agreement, unreadable = load_agreement(_agreement_file(None)), ""
    except AgreementError as exc:  # the board still needs the report, above all when an agreement is refused
        agreement, unreadable = None, str(exc)
    text = report_markdown(log.entries() if report.ok else [], dt.date.today(), status, agreement, unreadable)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    out.chmod(0o600)
    console.print(Markdown(text))
    console.print(
        f"Audit report written to {out} (exact counts: for the governance board only, do not circulate)",
        highlight=False,
    )
    if not report.ok:
        raise IstvFailure("the audit log did not verify; the report shows nothing from it")


@cli.group(help="Rows rejected by validation, held encrypted for their provider.")
def quarantine() -> None:
    pass


@quarantine.command("list", help="Reasons and counts per file (no values).")
def quarantine_list() -> None:
    from ingest.quarantine import quarantine_summaries

    home = _home()
    rows = []
    for path, summary in quarantine_summaries(home.quarantine):
        where = path.relative_to(home.quarantine).parent
        for reason, count in summary["reasons"].items():
            rows.append((str(where), path.name.removesuffix(".summary.json"), reason, count))
    console.print(_table("Quarantined rows", ["source/month", "file", "reason", "rows"], rows))


@quarantine.command("export", help="Decrypt a month's quarantined rows for the providing data officer to fix.")
@click.option("--source", required=True, type=click.Choice(list(SOURCES)))
@click.option("--month", required=True, help="YYYY-MM")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write (holds identifiers: keep it safe).",
)
def quarantine_export(source: str, month: str, out: Path) -> None:
    import pandas as pd

    from ingest.quarantine import read_quarantine
    from ingest.secrets import MissingKeyError, quarantine_cipher
    from schemas import schema_for_source

    when = _month(month)
    home = _home()
    files = sorted((home.quarantine / source / f"{when:%Y-%m}").glob("*.parquet.fernet"))
    if not files:
        raise IstvFailure(f"nothing quarantined for {source} {month}")
    try:
        cipher = quarantine_cipher(home)
    except MissingKeyError as exc:
        raise IstvFailure(str(exc)) from None
    rows = pd.concat([read_quarantine(f, cipher) for f in files], ignore_index=True)
    # Back to the provider's own column headers, so the fixed file can be ingested again.
    headers = {f.name: f.header for f in schema_for_source(source).fields}
    rows = rows.rename(columns=headers)[["source_line", "reasons", *headers.values()]]
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False)
    out.chmod(0o600)
    _audit(
        home,
        "quarantine_export",
        {
            "source": source,
            "month": f"{when:%Y-%m}",
            "rows": len(rows),
            "files": [f.name for f in files],
            "out": out.name,
        },
    )
    console.print(f"{len(rows)} quarantined rows written to {out} (identifiable: delete it once fixed)")
    console.print("Fix the rows in the provider's system and deliver a corrected extract for the whole month.")


@cli.command(help="The whole demo: throwaway keys, synthetic ED data with real police open data, run, top hotspots.")
@click.option("--rows", default=1000, show_default=True, type=int, help="Synthetic ED rows a month.")
def demo(rows: int) -> None:
    from rich.progress import Progress

    from ingest.landing import already_ingested, sha256_of
    from ingest.secrets import generate_demo_keys

    home = _home()
    _record_key_events(home, generate_demo_keys(home))
    synthetic = home.root / "synthetic"
    # Real open police data for 2018 beside synthetic ED data; a recent month has both synthetic.
    months = [("2018-10", "police_uk"), ("2018-11", "police_uk"), ("2018-12", "police_uk"), ("2026-10", "police")]
    refusals = []
    with Progress(console=console) as progress:
        task = progress.add_task("Demo months", total=len(months))
        for month, police_source in months:
            when = _month(month)
            progress.update(task, description=f"{month}: generating and landing")
            for source, file in _demo_deliveries(month, police_source, synthetic, rows):
                if already_ingested(home, source, sha256_of(file)):  # a second demo reuses its landing
                    continue
                try:
                    ingest.callback(file=file, source=source, month=None)
                except IstvFailure as refused:
                    refusals.append(refused.message)
            progress.update(task, description=f"{month}: running through Dagster")
            result = run_month(when, home)
            if not result.success:
                raise IstvFailure(f"{month}: {_failure_message(result)}")
            progress.advance(task)
    for message in refusals:
        console.print(f"[bold]Refused, as the agreement requires:[/] {message}", highlight=False)
    for month, _ in months[-2:]:
        hotspots.callback(month=month, limit=5)
    report.callback(month=months[-1][0], out=None)
    console.print(f"\nWarehouse: [bold]{home.warehouse}[/]")
    # The demo's working folder is not the default one under make: say so, or the hint reads ~/.istv.
    prefix = f"export ISTV_HOME={home.root}; " if home.root != DEFAULT_HOME.resolve() else ""
    console.print(
        f'Query it:  {prefix}.venv/bin/istv query "SELECT * FROM hotspot_cells ORDER BY month, rank LIMIT 10"',
        highlight=False,
    )
    console.print(f"Dagster UI: make dagster-ui  (run history in {home.dagster})")


def _demo_deliveries(month: str, police_source: str, synthetic: Path, rows: int) -> list[tuple[str, Path]]:
    """What the region delivers for a demo month. December 2018 is a real region's month: two
    EDs (the second with a third of the rows) and two forces' open data, the City of London's
    from a force that is no party to the agreement, so ingest refuses it."""
    from anonymise.reference import POLICE_UK_DIR
    from pipelines.synthetic import generate_month

    paths = generate_month(month, synthetic, seed=42, ed_rows=rows)
    police = POLICE_UK_DIR / f"{month}-south-wales-street.csv" if police_source == "police_uk" else paths["police"]
    deliveries = [("ed", paths["ed"]), (police_source, police)]
    if month == "2018-12":
        second_ed = generate_month(month, synthetic, seed=43, ed_rows=max(rows // 3, 1), site_code="7A5B1")["ed"]
        deliveries += [("ed", second_ed), ("police_uk", POLICE_UK_DIR / "2024-06-city-of-london-street.csv")]
    return deliveries


@cli.command(help="Open the Dagster UI on this working folder (http://127.0.0.1:3000).")
def ui() -> None:
    from pipelines.lib.instance import prepare_dagster_home

    prepare_dagster_home(_home())
    dagster = str(Path(sys.executable).with_name("dagster"))
    os.execv(dagster, [dagster, "dev", "--host", "127.0.0.1", "-m", "pipelines.definitions"])


@cli.command(
    help="Delete what the agreement's retention periods say is due (landing, quarantine, row-level zone, "
    "Dagster run history, reports) and audit it; never the published warehouse or the audit log."
)
@click.option("--dry-run", is_flag=True, help="List what is due; delete nothing.")
@click.option(
    "--today",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="YYYY-MM-DD, with --dry-run only: what would be due on that day.",
)
def retention(dry_run: bool, as_of: dt.datetime | None) -> None:
    from dagster import DagsterInstance

    from ingest.secrets import MissingKeyError
    from pipelines.lib.instance import prepare_dagster_home
    from pipelines.run_history import DagsterRunHistory
    from sharing_agreements.model import AgreementError
    from sharing_agreements.retention import apply_retention, plan_retention, retention_agreement

    if as_of and not dry_run:
        raise click.UsageError("--today previews another day and needs --dry-run: retention deletes only as of today")
    today = as_of.date() if as_of else dt.date.today()
    home = _home()
    prepare_dagster_home(home)
    try:
        agreement = retention_agreement(home, _agreement_file(None))
        with DagsterInstance.get() as instance:
            runs = DagsterRunHistory(instance)
            plan = plan_retention(home, agreement.retention, today, runs)
            periods = ", ".join(f"{zone} {days}" for zone, days in agreement.retention.model_dump().items())
            console.print(f"Retention on {today} under {agreement.label} (days: {periods})", highlight=False)
            for due in plan.due:
                console.print(
                    f"  {due.zone:<14} {due.item}  ({due.rule}; due since {due.due_since})",
                    markup=False,
                    highlight=False,
                )
            if dry_run:
                counts = ", ".join(f"{zone} {n}" for zone, n in plan.counts().items())
                console.print(f"Dry run: nothing deleted ({counts} due).", highlight=False)
                return
            outcome = apply_retention(home, plan, runs, agreement)
    except (AgreementError, MissingKeyError) as exc:
        raise IstvFailure(str(exc)) from None
    console.print(
        "Deleted "
        + ", ".join(f"{zone} {len(items)}" for zone, items in outcome.deleted.items())
        + "; recorded in the audit log.",
        highlight=False,
    )
    failed = [item for items in outcome.failed.values() for item in items]
    if failed:
        raise IstvFailure(
            f"could not delete {len(failed)} item(s): {', '.join(failed)}; check their permissions "
            "and run `istv retention` again"
        )


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        err.print("istv: interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
