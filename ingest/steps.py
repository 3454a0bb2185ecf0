"""A source's month, step by step and without Dagster: parse its current deliveries into typed
rows (the rest quarantined), then pseudonymise those under the agreement in force.

The `<source>_extract` and `<source>_pseudonymised` assets call these functions. Each step
writes the summary JSON that later steps, the joint zone and the report read, and records what
it did through `audit`: the audit log and the agreement belong to governance, above ingestion,
so they are handed in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet

from anonymise.locate_batches import LocationResolver
from ingest.delivery import Audit
from ingest.home import IstvHome
from ingest.known_shapes import KnownShapesFile
from ingest.landing import Delivery, current_deliveries
from ingest.parse import arrow_schema, concatenate_parquet, parse_extract
from ingest.pseudonymise import pseudonymise_file
from ingest.quarantine import write_quarantine
from schemas import Schema, schema_for_source

if TYPE_CHECKING:  # the agreement is passed in: governance sits above ingestion
    from sharing_agreements.model import Agreement


class ExtractCountsError(AssertionError):
    """Rows in != rows passed + rows quarantined: a row was lost or counted twice, so the month stops."""


@dataclass(frozen=True)
class ParsedMonth:
    """What `parse_month` made of a source's month, over all its current deliveries."""

    sha256: tuple[str, ...]  # of each delivery parsed
    rows_received: int
    rows_passed: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int]  # reason -> rows

    def as_metadata(self) -> dict[str, int | str]:
        return {
            "files": len(self.sha256),
            "rows_received": self.rows_received,
            "rows_passed": self.rows_passed,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_reasons": json.dumps(self.quarantine_reasons),
            "sha256": ", ".join(self.sha256) or "none",
        }


@dataclass(frozen=True)
class PseudonymisedMonth:
    """What `pseudonymise_month` shared of a source's month, and under which agreement and key."""

    counts: dict[str, int]  # PseudonymisedFile.counts
    fields: dict[str, list[str]]  # what the rules did with each field
    agreement_id: str
    agreement_version: int
    agreement_sha256: str
    key_id: str  # of the master key the field keys were derived from

    def as_metadata(self) -> dict[str, int | str]:
        return {
            **self.counts,
            "agreement": f"{self.agreement_id} v{self.agreement_version}",
            "agreement_sha256": self.agreement_sha256,
            "key_id": self.key_id,
            **{f"fields_{k}": ", ".join(v) or "none" for k, v in self.fields.items()},
        }


def parse_month(
    home: IstvHome, source: str, month: dt.date, quarantine_cipher: Callable[[], Fernet], audit: Audit
) -> ParsedMonth:
    """Parse every current delivery of the source's month into the month's typed Parquet file,
    quarantine (encrypted, for their provider to fix) the rows that fail the schema, write the
    month's summary and audit each delivery. `quarantine_cipher` is asked for only when a row is
    quarantined."""
    schema = schema_for_source(source)
    typed, summary_path = home.parsed_extract(source, month)
    typed.parent.mkdir(parents=True, exist_ok=True)
    deliveries = current_deliveries(home, source, month)
    # A re-run or a corrected delivery replaces the month's quarantine: rows of a superseded
    # file are no longer anyone's to fix, and identifiable data is kept no longer than needed.
    quarantine_folder = home.quarantine / source / f"{month:%Y-%m}"
    for stale in quarantine_folder.glob("*"):
        stale.unlink()
    files, parts = [], []
    for delivery in deliveries:
        parts.append(typed.with_name(f"{delivery.sha256}.parquet"))
        ingested = _parse_delivery(delivery, schema, month, parts[-1], quarantine_folder, quarantine_cipher)
        files.append(ingested)
        audit("ingest", {"source": source, "month": f"{month:%Y-%m}", **ingested})
    concatenate_parquet(parts, typed, arrow_schema(schema))
    summary_path.write_text(json.dumps({"source": source, "month": f"{month:%Y-%m}", "files": files}, indent=2))
    reasons: Counter = Counter()
    for ingested in files:
        reasons.update(ingested["reasons"])
    return ParsedMonth(
        sha256=tuple(d.sha256 for d in deliveries),
        rows_received=sum(f["rows_received"] for f in files),
        rows_passed=sum(f["rows_passed"] for f in files),
        rows_quarantined=sum(f["rows_quarantined"] for f in files),
        quarantine_reasons=dict(reasons),
    )


def _parse_delivery(
    delivery: Delivery,
    schema: Schema,
    month: dt.date,
    part: Path,
    quarantine_folder: Path,
    quarantine_cipher: Callable[[], Fernet],
) -> dict:
    """Parse one delivery into `part`, quarantine its failed rows; its entry in the month's summary."""
    result = parse_extract(delivery.path, schema, month, part)
    if result.rows_in != result.rows_passed + len(result.quarantined):
        raise ExtractCountsError(f"{delivery.path.name}: rows in != rows passed + rows quarantined")
    if len(result.quarantined):
        # Named by provider too: two providers may send files of the same name.
        write_quarantine(
            result.quarantined,
            result.reason_counts,
            quarantine_folder,
            f"{delivery.path.parent.name}_{delivery.path.stem}",
            quarantine_cipher(),
        )
    return {
        "file": delivery.path.name,
        "sha256": delivery.sha256,
        "size": delivery.size,
        "provider": result.provider,
        "rows_received": result.rows_in,
        "rows_passed": result.rows_passed,
        "rows_quarantined": len(result.quarantined),
        "reasons": result.reason_counts,
        "undeclared_columns": result.undeclared_columns,
        # How the file was laid out: lines that were not data are counted, never dropped silently.
        "layout": {
            "encoding": result.encoding,
            "delimiter": result.delimiter,
            "title_rows": result.title_rows,
            "footer_rows": result.footer_rows,
            "blank_rows": result.blank_rows,
        },
    }


def pseudonymise_month(
    home: IstvHome,
    source: str,
    month: dt.date,
    agreement: Agreement,
    field_keys: dict[str, bytes],
    key_id: str,
    resolver: LocationResolver,
    audit: Audit,
    processes: int = 1,
    known_shapes_key: bytes | None = None,
) -> PseudonymisedMonth:
    """Apply the agreement's rules for `source` to the month's typed rows (parsed by
    `parse_month`), write the rows shared and the month's summary, and audit it. `field_keys`
    are the pseudonym keys derived under this agreement version from the master key `key_id`
    names; `processes` as for `pseudonymise_file`. With `known_shapes_key` (derived from the
    same master key: ingest.secrets.known_shapes_key), location texts whose shape an earlier
    month resolved are not resolved again (`IstvHome.known_shapes_file`); the rows are the same."""
    typed, extract_summary_path = home.parsed_extract(source, month)
    known_shapes = KnownShapesFile.in_home(home, resolver, known_shapes_key) if known_shapes_key else None
    result = pseudonymise_file(
        typed,
        home.pseudonymised_file(source, month),
        source,
        agreement,
        field_keys,
        resolver,
        processes=processes,
        known_shapes=known_shapes,
    )
    extract_summary = json.loads(extract_summary_path.read_text())
    agreement_sha256 = agreement.content_hash()
    summary = {
        **extract_summary,
        **result.counts,
        "providers_counts": result.counts_by_provider,
        "agreement_id": agreement.id,
        "agreement_version": agreement.version,
        "agreement_sha256": agreement_sha256,
        "key_id": key_id,
        "fields": result.fields,
    }
    home.summary_file(source, month).write_text(json.dumps(summary, indent=2))
    files = extract_summary["files"]
    audit(
        "pseudonymise",
        {
            "source": source,
            "month": f"{month:%Y-%m}",
            "agreement_id": agreement.id,
            "agreement_version": agreement.version,
            "key_id": key_id,
            "providers": sorted({f["provider"] for f in files}),
            "files": [f["sha256"] for f in files],
            "rows_received": sum(f["rows_received"] for f in files),
            "rows_quarantined": sum(f["rows_quarantined"] for f in files),
            **result.counts,
            "fields": result.fields,
        },
    )
    return PseudonymisedMonth(result.counts, result.fields, agreement.id, agreement.version, agreement_sha256, key_id)
