"""What governance boards do: check, read, compare and sign sharing agreements, verify the audit
log and report from it, and delete what the agreement's retention periods say is due."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ingest.home import IstvHome
from pipelines.commands import IstvFailure, agreement_file, console, read_agreement, working_folder


@click.group(help="Sharing agreements, for governance boards: check, show, diff, sign.")
def agreements() -> None:
    pass


@agreements.command("check", help="Refuse an agreement that is malformed, unsigned, altered, or not in force.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agreements_check(file: Path | None) -> None:
    from sharing_agreements.model import AgreementError
    from sharing_agreements.signing import verify

    file = agreement_file(file)
    agreement = read_agreement(file)
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

    lines = summary_lines(read_agreement(agreement_file(file)))
    # markup off: an agreement's own words (its purpose, a board's name) are printed as written.
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


@agreements.command("diff", help="What changed between two versions of an agreement.")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def agreements_diff(old: Path, new: Path) -> None:
    from sharing_agreements.review_changes import difference_lines

    lines = difference_lines(read_agreement(old), read_agreement(new))
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


@agreements.command("sign", help="Sign an agreement with a board's Ed25519 private key.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--signer", required=True, help="The board signing, e.g. 'Cardiff CSP Board'.")
def agreements_sign(file: Path, key_file: Path, signer: str) -> None:
    from sharing_agreements.signing import load_private_key, sign

    agreement = read_agreement(file)
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


@click.group(help="The tamper-evident audit log, for governance boards.")
def audit() -> None:
    pass


@audit.command("verify", help="Check every entry and signed checkpoint; non-zero exit names the first bad entry.")
@click.option(
    "--witness",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed head from `istv audit checkpoint`: also prove nothing up to it was removed or rewritten since.",
)
def audit_verify(witness: Path | None) -> None:
    from ingest.secrets import MissingKeyError
    from sharing_agreements.auditing import reader

    try:
        report = reader(working_folder()).verify(witness)
    except MissingKeyError as exc:
        raise IstvFailure(str(exc)) from None
    if not report.ok:
        raise IstvFailure(f"audit log FAILED verification: {report.message}")
    tail = f"; {report.unsigned_tail} newest not yet checkpointed" if report.unsigned_tail else ""
    console.print(
        f"[green]OK[/] audit log verified: {report.entries} entries, hash chain and signed checkpoints intact{tail}"
    )
    if witness:
        console.print(
            f"It extends the witness {witness.name}: nothing up to entry {report.witnessed} was removed or rewritten.",
            highlight=False,
        )


@audit.command(
    "checkpoint",
    help="Write the audit log's signed head to FILE for a governance board to keep; "
    "`istv audit verify --witness FILE` later proves nothing up to it was removed or rewritten.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def audit_checkpoint(out: Path) -> None:
    from ingest.secrets import MissingKeyError
    from sharing_agreements.audit import AuditError
    from sharing_agreements.auditing import writer

    home = working_folder()
    out = out.expanduser().resolve()
    if out.is_relative_to(home.audit.resolve()):
        # Whoever can cut the log can cut a witness kept beside it: it proves something only elsewhere.
        raise IstvFailure(f"a witness kept in {home.audit} could be cut along with the log: write it elsewhere")
    try:
        head = writer(home).write_witness(out)
    except (AuditError, MissingKeyError) as exc:
        raise IstvFailure(str(exc)) from None
    console.print(
        f"Signed head written to {out}: entry {head['seq']}, signed {head['time']} with key {head['key_id']}. "
        "The board keeps it away from this machine.",
        highlight=False,
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

    home = working_folder()
    out = (out or home.audit_report_file).expanduser().resolve()
    if out.is_relative_to(home.reports):
        # The analysts' folder: the audit report's exact counts must never sit beside their reports.
        raise IstvFailure(
            f"the audit report holds exact counts for the board only: not in {home.reports}, "
            f"which analysts read; leave out --out to write it to {home.audit_report_file}"
        )
    text, verified = _board_report(home)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    out.chmod(0o600)
    console.print(Markdown(text))
    console.print(
        f"Audit report written to {out} (exact counts: for the governance board only, do not circulate)",
        highlight=False,
    )
    if not verified:
        raise IstvFailure("the audit log did not verify; the report shows nothing from it")


def _board_report(home: IstvHome) -> tuple[str, bool]:
    """The audit report's Markdown, and whether the log verified: a log that does not verify
    gives the report its status and none of its entries."""
    from sharing_agreements.audit_report import report_markdown
    from sharing_agreements.auditing import reader
    from sharing_agreements.model import AgreementError, load_agreement

    log = reader(home)
    report = log.verify()
    status = f"verified, {report.entries} entries" if report.ok else f"FAILED verification: {report.message}"
    try:
        agreement, unreadable = load_agreement(agreement_file(None)), ""
    except AgreementError as exc:  # the board still needs the report, above all when an agreement is refused
        agreement, unreadable = None, str(exc)
    entries, runs, note = [], [], ""
    if report.ok:
        entries = log.entries()
        runs, note = _known_runs(home, agreement)
    text = report_markdown(entries, dt.date.today(), status, agreement, unreadable, runs, note)
    return text, report.ok


def _known_runs(home: IstvHome, agreement) -> tuple[list, str]:
    """The monthly runs Dagster's history still holds, which give the report's runs their ids and
    say which failed; and a line saying so."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from pipelines.jobs import monthly_job
    from pipelines.lib.instance import prepare_dagster_home
    from sharing_agreements.audit_history import KnownRun

    words = {
        DagsterRunStatus.SUCCESS: "succeeded",
        DagsterRunStatus.FAILURE: "failed",
        DagsterRunStatus.CANCELED: "cancelled",
        DagsterRunStatus.CANCELING: "cancelled",
    }
    try:
        prepare_dagster_home(home)
        with DagsterInstance.get() as instance:
            records = instance.get_run_records(RunsFilter(job_name=monthly_job.name))
    except Exception as exc:  # run ids only add to the report: without them it still shows every run
        return [], f"Run ids: Dagster's run history could not be read ({exc}), so runs show none."
    runs = []
    for record in records:
        run, partition = record.dagster_run, record.dagster_run.tags.get("dagster/partition", "")
        if len(partition) < 7:
            continue
        started = record.start_time or record.create_timestamp.timestamp()
        ended = record.end_time
        runs.append(
            KnownRun(
                run.run_id,
                partition[:7],
                words.get(run.status, "running"),
                dt.datetime.fromtimestamp(started, dt.UTC),
                dt.datetime.fromtimestamp(ended, dt.UTC) if ended else None,
            )
        )
    kept = f"{agreement.retention.dagster} days" if agreement is not None else "as long as its retention period"
    return runs, (
        "Run ids are Dagster's (the first 8 characters, as its UI shows them), as each run wrote them into the "
        f"audit log; whether a run failed comes from Dagster's run history, kept {kept}. A run older than the "
        "log's run ids and that history shows —, its result read from the audit log alone."
    )


@click.command(
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
    from pipelines.lib.instance import DagsterSettingError, prepare_dagster_home
    from pipelines.run_history import DagsterRunHistory
    from sharing_agreements.model import AgreementError
    from sharing_agreements.retention import apply_retention, plan_retention, retention_agreement

    if as_of and not dry_run:
        raise click.UsageError("--today previews another day and needs --dry-run: retention deletes only as of today")
    today = as_of.date() if as_of else dt.date.today()
    home = working_folder()
    try:
        prepare_dagster_home(home)
        agreement = retention_agreement(home, agreement_file(None))
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
    except (AgreementError, MissingKeyError, DagsterSettingError) as exc:
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
