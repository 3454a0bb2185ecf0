"""Bringing a month in: generate synthetic extracts, ingest a delivery, run the month through
Dagster, look at its runs in the Dagster UI, and the demo that does it all."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from ingest.home import DEFAULT_HOME
from pipelines.commands import IstvFailure, agreement_file, console, parse_month, working_folder
from pipelines.commands.keys import record_key_events
from pipelines.commands.warehouse import hotspots, report
from pipelines.runs import run_month
from schemas.model import SOURCES


@click.command(help="Write synthetic ED and police extracts for a month (seeded, any size).")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--rows", default=1000, show_default=True, type=int, help="ED rows; police rows are three times as many.")
def generate(month: str, out_dir: Path, seed: int, rows: int) -> None:
    from pipelines.synthetic import generate_month

    parse_month(month)
    paths = generate_month(month, out_dir, seed=seed, ed_rows=rows)
    for source, path in paths.items():
        console.print(f"{source}: {path}")


@click.command(help="Check a delivered extract and place it in the landing zone for its month.")
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

    home = working_folder()
    try:
        audit_log = writer(home)
    except MissingKeyError as exc:
        raise IstvFailure(f"cannot write the audit log, so nothing was landed: {exc}") from None
    agreement = _agreement_in_force()
    try:
        delivery = accept_delivery(home, source, file, parse_month(month), agreement, audit_log.append)
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
        agreement, _ = load_verified(agreement_file(None))
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


@click.command(help="Run a month: validate, pseudonymise and publish it under the agreement in force.")
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
    when = parse_month(month)
    home = working_folder()
    with console.status(f"Running {month} through Dagster (validate, pseudonymise, publish)…"):
        result = run_month(when, home, processes)
    if not result.success:
        raise IstvFailure(f"{month}: {_failure_message(result)}")
    console.print(f"[green]Published {month}[/] to {home.warehouse}")


@click.command(help="The whole demo: throwaway keys, synthetic ED data with real police open data, run, top hotspots.")
@click.option("--rows", default=1000, show_default=True, type=int, help="Synthetic ED rows a month.")
def demo(rows: int) -> None:
    from rich.progress import Progress

    from ingest.landing import already_ingested, sha256_of
    from ingest.secrets import generate_demo_keys

    home = working_folder()
    record_key_events(home, generate_demo_keys(home))
    synthetic = home.root / "synthetic"
    # Real open police data for 2018 beside synthetic ED data; a recent month has both synthetic.
    months = [("2018-10", "police_uk"), ("2018-11", "police_uk"), ("2018-12", "police_uk"), ("2026-10", "police")]
    refusals = []
    with Progress(console=console) as progress:
        task = progress.add_task("Demo months", total=len(months))
        for month, police_source in months:
            when = parse_month(month)
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


@click.command(help="Open the Dagster UI on this working folder (http://127.0.0.1:3000).")
def ui() -> None:
    from pipelines.lib.instance import prepare_dagster_home

    prepare_dagster_home(working_folder())
    dagster = str(Path(sys.executable).with_name("dagster"))
    os.execv(dagster, [dagster, "dev", "--host", "127.0.0.1", "-m", "pipelines.definitions"])
