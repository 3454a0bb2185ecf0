"""Retention: delete what the agreement's retention periods say is due, and audit it.

What "age" means, zone by zone:
- landing, quarantine, pseudonymised and hotspot reports: the month the data is about. Data
  about 2024-01 kept N days is due once 2024-01-31 plus N full days have passed (from
  2024-01-31 + N + 1), however late it was delivered or re-run;
- Dagster's run history (runs, event logs, compute logs): the day the run ended (for a run
  that never finished, its last update); the run's log file under `logs/` (what `istv run`
  printed), the day it was last written;
- the board's audit reports, which cover every month: the day they were written;
- a DuckLake warehouse's superseded releases (its snapshots, warehouse/lake.py): kept as long as
  the board's reports, so that "what did the report show then?" can be answered while a report
  of then is kept; the published tables themselves stay.

Everything under `landing/<source>/<YYYY-MM>/` (deliveries, manifests, `superseded/`,
`_parsed/`, any provider folders) goes with its month folder; in the pseudonymised zone every
entry named after the month goes together (the source's rows and summary, the joint rows) but
the `.released` ledger of what was published: figures, not rows, kept as long as the published
tables, so that a correction delivered later is still published against it (warehouse.corrections).
The published warehouse and the audit log are never touched:
the audit log records what retention deleted, by path relative to ISTV_HOME or Dagster run id.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingest.home import IstvHome
from sharing_agreements import auditing
from sharing_agreements.model import Agreement, AgreementError, Retention
from sharing_agreements.signing import load_verified
from warehouse.corrections import is_ledger

ZONES = ("landing", "quarantine", "pseudonymised", "dagster", "reports", "releases")
# A month folder (2024-01), a month's files (2024-01.parquet, 2024-01.released) and their
# half-written forms (.2024-01.parquet.partial).
_MONTH_NAMED = re.compile(r"^\.?(\d{4})-(\d{2})(?:\.|$)")


class RunHistory(Protocol):
    """The orchestrator's run history (pipelines.run_history holds Dagster's): runs last updated
    before a moment, and their deletion with everything they logged."""

    def runs_updated_before(self, cutoff: dt.datetime) -> Iterable[tuple[str, str, dt.date]]:
        """(run id, job name, the day the run ended or was last updated)."""

    def delete(self, run_id: str) -> None: ...


@dataclass(frozen=True)
class Due:
    """One thing retention deletes: a file or folder under `root`, or a Dagster run."""

    zone: str
    item: str  # path relative to ISTV_HOME, or "run <id>"
    rule: str
    due_since: dt.date
    path: Path | None = None
    root: Path | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Plan:
    today: dt.date
    retention: Retention
    due: tuple[Due, ...]

    def counts(self) -> dict[str, int]:
        """Items due per zone; superseded releases only when some are (only a DuckLake keeps any)."""
        found = Counter(d.zone for d in self.due)
        return {zone: found[zone] for zone in ZONES if zone != "releases" or found[zone]}


@dataclass(frozen=True)
class Outcome:
    deleted: dict[str, list[str]]
    failed: dict[str, list[str]]


def retention_agreement(home: IstvHome, path: Path) -> Agreement:
    """The agreement whose periods apply: well-formed and signed by a trusted board, but not
    necessarily in force, since its periods still bind what was collected under it after it
    expires. A refusal is audited and raised."""
    try:
        agreement, _ = load_verified(path)
    except AgreementError as refusal:
        auditing.record(home, "verification_failure", {"file": path.name, "step": "retention", "reason": str(refusal)})
        raise
    return agreement


def plan_retention(home: IstvHome, retention: Retention, today: dt.date, runs: RunHistory) -> Plan:
    """What is due on `today`, zone by zone; nothing is deleted."""
    due = [
        *_month_named(home, "landing", home.landing, _source_folders(home.landing), retention.landing, today),
        *_month_named(
            home, "quarantine", home.quarantine, _source_folders(home.quarantine), retention.quarantine, today
        ),
        *_month_named(
            home,
            "pseudonymised",
            home.pseudonymised,
            _source_folders(home.pseudonymised),
            retention.pseudonymised,
            today,
        ),
        *_runs(runs, retention.dagster, today),
        *_written_files(home, "dagster", home.logs, retention.dagster, today),
        *_month_named(home, "reports", home.reports, [home.reports], retention.reports, today),
        *_written_files(home, "reports", home.audit_reports, retention.reports, today),
        *_superseded_releases(home, retention.reports, today),
    ]
    return Plan(today, retention, tuple(due))


def apply_retention(home: IstvHome, plan: Plan, runs: RunHistory, agreement: Agreement) -> Outcome:
    """Delete what the plan holds and write one `retention` audit entry. The audit key is
    loaded first: nothing is deleted that could not be recorded."""
    log = auditing.writer(home)
    deleted: dict[str, list[str]] = {zone: [] for zone in plan.counts()}
    failed: dict[str, list[str]] = {zone: [] for zone in plan.counts()}
    try:
        for due in plan.due:
            try:
                if due.run_id is not None:
                    runs.delete(due.run_id)
                elif due.zone == "releases":
                    _expire_releases(home, due.due_since)
                else:
                    _delete(due.path, due.root)
            except OSError:
                failed[due.zone].append(due.item)
            else:
                deleted[due.zone].append(due.item)
    finally:  # whatever stopped the loop, what was deleted is on record
        log.append(
            "retention",
            {
                "agreement_id": agreement.id,
                "agreement_version": agreement.version,
                "agreement_sha256": agreement.content_hash(),
                "as_of": plan.today.isoformat(),
                "periods_days": plan.retention.model_dump(),
                "deleted": {zone: len(items) for zone, items in deleted.items()},
                "deleted_items": {zone: items for zone, items in deleted.items() if items},
                "failed_items": {zone: items for zone, items in failed.items() if items},
            },
        )
    return Outcome(deleted, failed)


def due_since(last_day: dt.date, days: int) -> dt.date:
    """The first day something whose age counts from `last_day` may no longer be kept."""
    return last_day + dt.timedelta(days=days + 1)


def month_end(month: dt.date) -> dt.date:
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _source_folders(zone: Path) -> list[Path]:
    if not zone.is_dir():
        return []
    # Dot-folders are DuckDB's spill folders and other work in progress, not a source.
    return sorted(p for p in zone.iterdir() if p.is_dir() and not p.name.startswith("."))


def _month_of(name: str) -> dt.date | None:
    match = _MONTH_NAMED.match(name)
    if not match:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), 1)
    except ValueError:
        return None


def _month_named(
    home: IstvHome, zone: str, root: Path, folders: list[Path], days: int, today: dt.date
) -> Iterator[Due]:
    """The entries of `folders` named after a month that is due."""
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            month = _month_of(entry.name)
            if month is None or is_ledger(entry):
                continue
            since = due_since(month_end(month), days)
            if today >= since:
                yield Due(
                    zone,
                    str(entry.relative_to(home.root)),
                    f"{days} days after the end of {month:%Y-%m}",
                    since,
                    path=entry,
                    root=root,
                )


def _written_files(home: IstvHome, zone: str, folder: Path, days: int, today: dt.date) -> Iterator[Due]:
    """Files whose age is the day they were last written: the board's audit reports (which cover
    every month) and the run logs."""
    if not folder.is_dir():
        return
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        written = dt.date.fromtimestamp(file.stat().st_mtime)
        since = due_since(written, days)
        if today >= since:
            yield Due(
                zone,
                str(file.relative_to(home.root)),
                f"{days} days after it was written on {written}",
                since,
                path=file,
                root=folder,
            )


def _runs(runs: RunHistory, days: int, today: dt.date) -> Iterator[Due]:
    # Only runs last updated before this local midnight can have ended long enough ago.
    cutoff = dt.datetime.combine(today - dt.timedelta(days=days), dt.time.min).astimezone(dt.UTC)
    for run_id, job_name, ended in runs.runs_updated_before(cutoff):
        since = due_since(ended, days)
        if today >= since:
            yield Due(
                "dagster",
                f"run {run_id}",
                f"{days} days after the {job_name} run ended on {ended}",
                since,
                run_id=run_id,
            )


def _superseded_releases(home: IstvHome, days: int, today: dt.date) -> Iterator[Due]:
    """The DuckLake warehouse's releases superseded more than `days` ago, as one item (none for
    the embedded file, which keeps only the latest release)."""
    from warehouse import lake

    configured = lake.configured(home.warehouse.parent)
    if configured is None:
        return
    cutoff = today - dt.timedelta(days=days)
    kept = lake.releases(configured)
    # The latest release is the warehouse itself: only those before it can be superseded.
    if any(when.date() < cutoff for _, when in kept[:-1]):
        yield Due("releases", f"warehouse releases superseded before {cutoff}", f"reports: {days} days", cutoff)


def _expire_releases(home: IstvHome, cutoff: dt.date) -> None:
    from warehouse import lake

    configured = lake.configured(home.warehouse.parent)
    try:
        lake.expire_releases(configured, dt.datetime.combine(cutoff, dt.time(), tzinfo=dt.UTC))
    except lake.LakeError as exc:
        raise OSError(str(exc)) from None


def _delete(path: Path, root: Path) -> None:
    """Delete a file, a link (never what it points to) or a folder inside `root`, then the
    folders it leaves empty up to `root`."""
    root = root.resolve()
    parent = path.parent.resolve()
    if not parent.is_relative_to(root):
        raise OSError(f"{path.name} is outside its zone")
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    while parent != root and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
