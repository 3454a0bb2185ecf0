"""A month's release: the published tables built from its joint_incidents, every table the
agreement permits checked (disclosure control by Great Expectations, identifiers by the leak
scanner) before anything is published, then all published to the shared warehouse in one atomic
swap (analysts never see half a month), the privacy budget spent and the audit log told.

What belongs to the stages above is handed in: the agreement in force, the month's leak scanner,
the keys, and how to write and read the audit log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from anonymise.cellkey import RecordKeys
from anonymise.differential_privacy import BudgetExceeded, check_budget
from anonymise.disclosure import DisclosurePolicy
from anonymise.leaks import Finding, LeakScanner
from ingest.home import IstvHome
from schemas.expectations import ValidationSummary, published_suite, validate
from schemas.model import SOURCES
from warehouse.corrections import Corrections, released_figures, released_folder
from warehouse.joint import CONTENT_DIGEST, earlier_joint_files, month_content_sha256
from warehouse.publish import publish
from warehouse.tables import (
    DeliverySummary,
    HotspotAreas,
    RowOutcomes,
    TableSpec,
    build_tables,
    delivery_summaries_frame,
    table_specs,
)

if TYPE_CHECKING:
    from sharing_agreements.audit import Entry
    from sharing_agreements.model import Agreement

Audit = Callable[[str, dict], None]  # records an entry (kind, details) in the audit log
# The audit log's entries as they stand when called: another run may have published meanwhile.
AuditEntries = Callable[[], Iterable["Entry"]]


@dataclass(frozen=True)
class CheckedTable:
    """A table the agreement permits, and what the checks before publication found in it."""

    name: str
    frame: pd.DataFrame
    validation: ValidationSummary  # its disclosure-control suite
    findings: list[Finding]  # what the leak scanner found: where and how many, never what

    @property
    def passed(self) -> bool:
        return self.validation.success and not self.findings

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def cells_suppressed(self) -> int:
        return int(sum(self.frame[c].sum() for c in self.frame.columns if c.endswith("_suppressed")))


@dataclass(frozen=True)
class Release:
    """A month's tables as checked: those the agreement permits, and the names of those it withholds."""

    month: dt.date
    content_sha256: str  # of the month's shared rows: seeds the noise, tells a corrected release
    tables: dict[str, CheckedTable]
    withheld: list[str]

    @property
    def failed(self) -> list[str]:
        return [name for name, table in self.tables.items() if not table.passed]


class ReleaseRefused(RuntimeError):
    """Nothing published: a permitted table failed its disclosure-control or leak check. The
    release says which, and what each check found."""

    def __init__(self, release: Release):
        super().__init__(f"not published: disclosure-control or leak checks failed for {', '.join(release.failed)}")
        self.release = release


class NothingDelivered(RuntimeError):
    """Nothing published: no source delivered anything for the month, so its tables would all
    be empty, and an empty month must not read as a month with no violence."""

    def __init__(self, month: dt.date):
        super().__init__(
            f"nothing has been delivered for {month:%Y-%m}, so nothing was published: land its extracts "
            f"first (`istv ingest FILE --source SOURCE --month {month:%Y-%m}`), then run the month again"
        )


class SourcesGone(RuntimeError):
    """Nothing published: the month's last release counted rows from sources that deliver none
    now (their row-level data deleted under retention, or removed), so a release now would show
    their incidents as none."""

    def __init__(self, month: dt.date, sources: list[str]):
        super().__init__(
            f"{month:%Y-%m} was published with {', '.join(sources)} rows that are no longer held (deleted under "
            "the agreement's retention, or removed) and were not delivered again, so nothing was published and "
            "the month's tables stand as they were. To correct the month, deliver every source's extract for it "
            f"again (`istv ingest FILE --source SOURCE --month {month:%Y-%m}`), then run the month again"
        )


def sources_gone(released: dict[str, pd.DataFrame] | None, summaries: list[DeliverySummary]) -> list[str]:
    """The sources whose rows the month's last release counted (its ledger's coverage) and which
    deliver none now."""
    if not released or "coverage" not in released:
        return []
    coverage = released["coverage"]
    before = set(coverage.loc[coverage["rows_received"].fillna(0) > 0, "source"])
    return sorted(before - {s.source for s in summaries if s.rows_received > 0})


def delivery_summaries(home: IstvHome, month: dt.date) -> list[DeliverySummary]:
    """Coverage input: one per source and provider (several EDs, several forces a month), from
    the pseudonymisation summaries: what each provider's files delivered, and what became of its
    rows (scope, area, location), counted per provider as the rows were pseudonymised."""
    summaries = []
    for source in SOURCES:
        summary = json.loads(home.summary_file(source, month).read_text())
        delivered: dict[str, dict[str, int]] = {}
        for file in summary["files"]:
            totals = delivered.setdefault(file["provider"], {"rows_received": 0, "rows_quarantined": 0})
            totals["rows_received"] += file["rows_received"]
            totals["rows_quarantined"] += file["rows_quarantined"]
        # A summary written before counts were kept per provider held one provider's rows.
        by_provider = summary.get("providers_counts", {p: summary for p in delivered if len(delivered) == 1})
        for provider, totals in delivered.items():
            # A provider with no row left to pseudonymise (all quarantined) has no counts: zeros.
            outcomes = RowOutcomes.from_counts(by_provider.get(provider, {}))
            summaries.append(DeliverySummary(month, source, provider, **totals, outcomes=outcomes))
    return summaries


def hotspot_areas(agreement: Agreement) -> HotspotAreas:
    return HotspotAreas(tuple(agreement.spatial.hotspot_resolutions), tuple(agreement.spatial.hotspot_windows_months))


def withheld_tables(agreement: Agreement) -> list[str]:
    """The tables the agreement does not permit: built, but never written anywhere."""
    return sorted({s.name for s in table_specs()} - set(agreement.published_tables))


def release_month(
    home: IstvHome,
    month: dt.date,
    agreement: Agreement,
    *,
    record_keys: RecordKeys,
    disclosure_policy: Callable[[str], DisclosurePolicy],
    scanner: Callable[[list[pd.DataFrame]], LeakScanner],
    audit: Audit,
    audit_entries: AuditEntries,
) -> Release:
    """Build, check and publish the month's tables under the agreement; `disclosure_policy` gives
    its policy for the month's content digest (differential-privacy noise is seeded by it), and
    `scanner` makes the month's leak scanner for the tables it is given.
    Raises ReleaseRefused, with nothing published, when a table fails its checks,
    NothingDelivered when no source delivered anything for the month (the command line refuses
    such a month before it runs; a run started from the Dagster UI is refused here), SourcesGone
    (audited) when a source the month was published with delivers nothing now, and
    BudgetExceeded (audited) when the release would pass the month's privacy budget."""
    summaries = delivery_summaries(home, month)
    if not summaries:
        raise NothingDelivered(month)
    joint = home.pseudonymised_file("joint", month)
    # The month as last published, if it was: figures that barely moved keep their released values.
    released = released_figures(released_folder(joint))
    gone = sources_gone(released, summaries)
    if gone:
        refusal = SourcesGone(month, gone)
        details = {"agreement_id": agreement.id, "month": f"{month:%Y-%m}", "sources": gone, "reason": str(refusal)}
        audit("release_refused", {"refusal": "source_missing", **details})
        raise refusal
    first = first_release(audit_entries(), month)
    digest_kind = CONTENT_DIGEST if first is None else first.get("content_digest", 1)
    content = month_content_sha256(joint, home.pseudonymised, digest_kind)
    policy = disclosure_policy(content)
    corrections = Corrections(policy.suppression_threshold, released)
    areas = hotspot_areas(agreement)
    built = build_tables(
        joint,
        delivery_summaries_frame(summaries),
        policy,
        agreement.id,
        agreement.version,
        record_keys=record_keys,
        public_sources=agreement.public_sources(),
        spill_zone=home.pseudonymised,
        history=earlier_joint_files(home, month, areas),
        areas=areas,
        corrections=corrections,
    )
    if first is not None and first.get("content_sha256", "") != content:
        built["coverage"]["release_status"] = "corrected"
    release = Release(month, content, checked_tables(built, policy, agreement, scanner), withheld_tables(agreement))
    if release.failed:
        raise ReleaseRefused(release)
    permitted = [s for s in table_specs() if s.name in release.tables]
    epsilon = privacy_budget_spend(agreement, month, content, permitted, audit_entries, audit)
    publish(home.warehouse, month, {name: table.frame for name, table in release.tables.items()})
    corrections.save(released_folder(joint))
    if epsilon:
        audit(
            "dp_release",
            {
                "agreement_id": agreement.id,
                "agreement_version": agreement.version,
                "month": f"{month:%Y-%m}",
                "content_sha256": content,
                "epsilon": epsilon,
            },
        )
    audit(
        "publish",
        {
            "month": f"{month:%Y-%m}",
            "agreement_id": agreement.id,
            "agreement_version": agreement.version,
            "agreement_sha256": agreement.content_hash(),
            "withheld": release.withheld,
            "tables": {
                name: {"rows": table.rows, "cells_suppressed": table.cells_suppressed}
                for name, table in release.tables.items()
            },
            "content_sha256": content,
            "content_digest": digest_kind,
            "corrected_release": corrections.released is not None,
            # Figures whose records changed by fewer than the threshold and so kept their released values.
            "figures_kept": corrections.kept,
        },
    )
    return release


def checked_tables(
    built: dict[str, pd.DataFrame],
    policy: DisclosurePolicy,
    agreement: Agreement,
    scanner: Callable[[list[pd.DataFrame]], LeakScanner],
) -> dict[str, CheckedTable]:
    """Every table the agreement permits, in declared order, checked against the counts the
    policy never shows and scanned for the month's identifiers. `scanner` makes the leak scanner
    for the tables it is given, once they are built: it need digest only the identifiers that
    could be found in them (LeakScanner's scope)."""
    never_shown = policy.largest_withheld(with_public=bool(agreement.public_sources()))
    specs = [spec for spec in table_specs() if spec.name in agreement.published_tables]
    scan = scanner([built[spec.name] for spec in specs])
    checked = {}
    for spec in specs:
        frame = built[spec.name]
        suite = published_suite(spec.name, spec.counts, spec.keys, never_shown)
        checked[spec.name] = CheckedTable(spec.name, frame, validate(frame, suite), scan.scan_frame(frame))
    return checked


def first_release(entries: Iterable[Entry], month: dt.date) -> dict | None:
    """What the audit log says of the month's first published release (None: not published yet):
    its content digest, and the kind of digest (none given: the first kind)."""
    for entry in entries:
        if entry.kind == "publish" and entry.details.get("month") == f"{month:%Y-%m}":
            return entry.details
    return None


def privacy_budget_spend(
    agreement: Agreement,
    month: dt.date,
    content_sha256: str,
    permitted: Iterable[TableSpec],
    audit_entries: AuditEntries,
    audit: Audit,
) -> float | None:
    """The epsilon this release spends (0 when the same content was released before: the same
    noise), refused (BudgetExceeded, audited) when the month's budget would be passed; None
    without differential privacy. A record can count once in every count column of every
    published table, so a release spends epsilon times their number (sequential composition,
    an upper bound)."""
    dp = agreement.disclosure_control.differential_privacy
    if dp is None:
        return None
    spend = dp.epsilon * sum(len(spec.counts) for spec in permitted)
    try:
        return check_budget(audit_entries(), agreement.id, f"{month:%Y-%m}", content_sha256, spend, dp.budget_per_month)
    except BudgetExceeded as refusal:
        audit("dp_refused", {"agreement_id": agreement.id, "month": f"{month:%Y-%m}", "reason": str(refusal)})
        raise
