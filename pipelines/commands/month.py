"""Bringing a month in: generate synthetic extracts, ingest a delivery, run the month through
Dagster, look at its runs in the Dagster UI, and the demo that does it all."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from ingest.home import DEFAULT_HOME, IstvHome
from pipelines.commands import IstvFailure, IstvUsageError, agreement_file, console, parse_month, working_folder
from pipelines.commands.keys import record_key_events
from pipelines.commands.warehouse import hotspots, report
from schemas.model import SOURCES

if TYPE_CHECKING:  # pipelines.runs brings Dagster in: only a command that runs a month loads it
    from pipelines.runs import CheckWarning, StepProgress

# What stops `istv ui`: TERM (a service manager, kill) and INT (Ctrl-C).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _OneLineUsage(click.Command):
    """Click's own usage errors (a missing option, a file that is not there) in one line too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise IstvUsageError(f"{exc.format_message().rstrip('.')} (see `{ctx.command_path} --help`)") from None


@click.command(cls=_OneLineUsage, help="Write synthetic ED and police extracts for a month (seeded, any size).")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--rows",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="ED rows; police rows are three times as many.",
)
def generate(month: str, out_dir: Path, seed: int, rows: int) -> None:
    from pipelines.synthetic import generate_month

    parse_month(month)
    try:
        paths = generate_month(month, out_dir, seed=seed, ed_rows=rows)
    except ValueError as exc:  # with the arguments checked, only a month that has not ended yet
        raise IstvFailure(f"{exc}; give an earlier --month") from None
    except OSError as exc:
        raise IstvFailure(f"cannot write the extracts to {out_dir} ({exc.strerror}): give another --out") from None
    for source, path in paths.items():
        console.print(f"{source}: {path}")


@click.command(cls=_OneLineUsage, help="Check a delivered extract and place it in the landing zone for its month.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", required=True, type=click.Choice(list(SOURCES)))
@click.option("--month", help="YYYY-MM; worked out from the rows when not given.")
def ingest(file: Path, source: str, month: str | None) -> None:
    """The checks and the landing are ingest.delivery's, all or nothing; here the arguments are read
    and its refusals become messages."""
    from ingest.delivery import RefusedDelivery, accept_delivery
    from ingest.landing import DuplicateDelivery
    from ingest.parse import ExtractError, survey
    from ingest.secrets import MissingKeyError
    from schemas import schema_for_source
    from sharing_agreements.auditing import writer

    home = working_folder()
    try:
        audit_log = writer(home)
    except MissingKeyError as exc:
        raise IstvFailure(f"cannot write the audit log, so nothing was landed: {exc}") from None
    agreement = _agreement_in_force(audit_log.append, file, source)
    try:
        delivery = accept_delivery(home, source, file, parse_month(month), agreement, audit_log.append)
    except (ExtractError, RefusedDelivery, DuplicateDelivery) as exc:
        raise IstvFailure(str(exc)) from None
    # accept_delivery does not hand its survey back: the landed file's rows are counted as it counted them.
    rows = sum(survey(delivery.path, schema_for_source(source)).months.values())
    console.print(
        f"Landed {file.name} as the {source} extract of "
        f"{', '.join(agreement.provider_named(source, p) for p in delivery.providers)} for {delivery.month:%Y-%m} "
        f"({rows:,} rows, sha256 {delivery.sha256[:16]}…)"
    )
    for earlier in delivery.superseded:
        console.print(
            f"It replaces {earlier.path.name} (sha256 {earlier.sha256[:16]}…), kept in superseded/ for the audit trail"
        )


def _agreement_in_force(audit: Callable[[str, dict], object], file: Path, source: str):
    from sharing_agreements.model import AgreementError
    from sharing_agreements.signing import load_verified

    path = agreement_file(None)
    try:
        agreement, _ = load_verified(path)
        agreement.check_in_force(dt.date.today())
    except AgreementError as exc:
        # Refused at ingest as at run time, and audited the same way, so the board sees it.
        details = {"file": path.name, "step": "ingest", "source": source, "delivery": file.name, "reason": str(exc)}
        audit("verification_failure", details)
        raise IstvFailure(f"nothing was landed: {exc}") from None
    return agreement


def _run_or_fail(
    month: dt.date, home: IstvHome, processes: int = 0, on_step: Callable[[StepProgress], None] | None = None
):
    """The month run through Dagster; if it fails, one line per cause, and Dagster's whole log of
    the run (every stack trace) in a file whose path is given."""
    from pipelines.executors import ExecutorSettingError
    from pipelines.lib.instance import DagsterSettingError
    from pipelines.runs import run_log_file, run_month

    log = run_log_file(home, month)
    try:
        result = run_month(month, home, processes, on_step, log)
    # Raised as the instance is prepared or the code location loads, before anything ran.
    except (ExecutorSettingError, DagsterSettingError) as exc:
        log.unlink(missing_ok=True)
        raise IstvFailure(str(exc)) from None
    if not result.success:
        raise IstvFailure(f"{month:%Y-%m}: {_failure_message(result.all_events)}\nDagster's full log of the run: {log}")
    return result


def _failure_message(events) -> str:
    """The steps that failed, by cause: one cause (a missing key, say) often fails several steps."""
    from pipelines.runs import failures

    steps_by_cause: dict[str, list[str | None]] = {}
    for step, cause in failures(events):
        steps_by_cause.setdefault(cause, []).append(step)
    return "\n".join(f"{_steps(steps)} failed: {cause}" for cause, steps in steps_by_cause.items()) or "the run failed"


def _steps(steps: list[str | None]) -> str:
    named = [s for s in steps if s is not None]
    if not named:
        return "the run"
    return f"step {named[0]}" if len(named) == 1 else f"steps {', '.join(named)}"


def _show_step(progress: StepProgress) -> None:
    if progress.state == "started":
        console.print(f"  {progress.step} started", highlight=False)
    else:
        console.print(f"  {progress.step} {progress.state} ({progress.seconds:.1f} s)", highlight=False)


def _in_words(warning: CheckWarning, month: str) -> str:
    found = warning.metadata
    if warning.check == "k_anonymity":
        return (
            f"k-anonymity: {found['rows_in_groups_below_target']:,} of {found['rows']:,} rows of the row-level "
            f"zone are in groups smaller than k = {found['target_k']} (smallest: {found['k']}); "
            f"`istv risk --month {month}` shows them"
        )
    # The schema check's warnings: which expectations failed, and for how many rows.
    return f"{warning.asset}: {warning.check.replace('_', ' ')} did not pass ({found.get('failed', 'no details')})"


@click.command(
    cls=_OneLineUsage, help="Run a month: validate, pseudonymise and publish it under the agreement in force."
)
@click.option("--month", required=True, help="YYYY-MM")
@click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Run each step in a process of its own, this many at once (0: all in this process). "
    "For large months: each step's memory is then its own.",
)
def run(month: str, processes: int) -> None:
    from ingest.landing import current_deliveries
    from pipelines.runs import check_warnings, delivered_sources

    when = parse_month(month)
    home = working_folder()
    # Nothing delivered, nothing to publish but empty tables: refused before Dagster starts.
    if not any(current_deliveries(home, source, when) for source in SOURCES):
        raise IstvFailure(
            f"nothing has been delivered for {month}: land its extracts first with "
            f"`istv ingest FILE --source {'|'.join(SOURCES)} --month {month}`"
        )
    console.print(f"Running {month} through Dagster (validate, pseudonymise, publish):", highlight=False)
    result = _run_or_fail(when, home, processes, on_step=_show_step)
    for delivered in delivered_sources(result.all_events):
        files = f" ({delivered.files} files)" if delivered.files > 1 else ""
        console.print(
            f"{delivered.source}{files}: {delivered.rows_received:,} rows received, "
            f"{delivered.rows_quarantined:,} quarantined, {delivered.rows_shared:,} shared",
            highlight=False,
        )
    for warning in check_warnings(result.all_events):
        console.print(f"[yellow]Warning:[/] {escape(_in_words(warning, month))}", highlight=False)
    console.print(f"[green]Published {month}[/] to {home.warehouse}")


@click.command(
    cls=_OneLineUsage,
    help="The whole demo: throwaway keys, synthetic ED data with real police open data, run, top hotspots.",
)
@click.option("--rows", default=1000, show_default=True, type=click.IntRange(min=0), help="Synthetic ED rows a month.")
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
            _run_or_fail(when, home)
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


@click.command(
    cls=_OneLineUsage,
    help="Open the Dagster UI on this working folder (http://127.0.0.1:PORT); TERM or INT (Ctrl-C) stops it.",
)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1.")
def ui(port: int) -> None:
    from pipelines.lib.instance import DagsterSettingError, prepare_dagster_home

    home = working_folder()
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise IstvFailure(
                f"port {port} on 127.0.0.1 is in use: stop what uses it, or give another --port"
            ) from None
    try:
        prepare_dagster_home(home)
    except DagsterSettingError as exc:
        raise IstvFailure(str(exc)) from None
    dagster = str(Path(sys.executable).with_name("dagster"))
    stop_requests: list[int] = []
    # Set before dagster dev starts, so that it starts with the default handlers even when istv
    # was started ignoring INT (in the background, by a script): a handler is not inherited.
    previous = {signum: signal.signal(signum, lambda s, _: stop_requests.append(s)) for signum in STOP_SIGNALS}
    try:
        # dagster dev starts a webserver, a daemon and code servers, and the daemon the runs
        # launched from the UI: in a process group of their own, all of them are stopped together.
        server = subprocess.Popen(
            [dagster, "dev", "--host", "127.0.0.1", "--port", str(port), "-m", "pipelines.definitions"],
            start_new_session=True,
        )
        try:
            while server.poll() is None and not stop_requests:
                time.sleep(0.2)
        finally:
            _stop_group(server)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if server.returncode and not stop_requests:
        raise IstvFailure(f"the Dagster UI stopped with exit status {server.returncode}: its messages above say why")
    console.print("Dagster UI stopped")


def _signal_group(leader: int, signum: int) -> bool:
    """Send `signum` to every process of the group `leader` started; False when none is left."""
    try:
        os.killpg(leader, signum)
    except ProcessLookupError:
        return False
    return True


def _stop_group(leader: subprocess.Popen, grace: float = 15.0) -> None:
    """TERM every process of the leader's group and wait for all of them; KILL whatever is still
    there after `grace` seconds."""
    _signal_group(leader.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    # Polled, the leader is reaped: a zombie would still count as one of the group.
    while (leader.poll() is None or _signal_group(leader.pid, 0)) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(leader.pid, signal.SIGKILL)
    leader.wait()
