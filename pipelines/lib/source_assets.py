"""The two assets every source has (`<source>_extract`, `<source>_pseudonymised`) and the
blocking Great Expectations check between them, built once for ed, police and police_uk."""

import json

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
    asset_check,
)

from ingest.landing import current_deliveries
from ingest.parse import arrow_schema, concatenate_parquet, parse_extract
from ingest.pseudonymise import pseudonymise_file, pseudonymise_processes, read_batches
from ingest.quarantine import write_quarantine
from ingest.validate import validate_parquet
from pipelines.lib.leak_checks import findings_metadata, scanner_for
from pipelines.partitions import month_of_partition, monthly_partitions
from pipelines.resources import IstvResource
from schemas import schema_for_source

GROUP = {"ed": "ed", "police": "police", "police_uk": "police"}


class ExtractCountsError(AssertionError):
    pass


def build_source_assets(source: str, extract_doc: str, pseudonymised_doc: str) -> tuple[list, list]:
    """The source's assets, and its asset checks."""
    schema = schema_for_source(source)

    @asset(
        name=f"{source}_extract",
        group_name=GROUP[source],
        partitions_def=monthly_partitions,
        description=extract_doc,
        kinds={"csv"},
    )
    def extract(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
        month = month_of_partition(context.partition_key)
        parquet, summary_path = istv.istv_home.parsed_extract(source, month)
        parquet.parent.mkdir(parents=True, exist_ok=True)
        deliveries = current_deliveries(istv.istv_home, source, month)
        summary = {"source": source, "month": f"{month:%Y-%m}", "files": []}
        # A re-run or a corrected delivery replaces the month's quarantine: rows of a superseded
        # file are no longer anyone's to fix, and identifiable data is kept no longer than needed.
        quarantine_folder = istv.istv_home.quarantine / source / f"{month:%Y-%m}"
        for stale in quarantine_folder.glob("*"):
            stale.unlink()
        parts = []
        for delivery in deliveries:
            part = parquet.with_name(f"{delivery.sha256}.parquet")
            result = parse_extract(delivery.path, schema, month, part)
            parts.append(part)
            if result.rows_in != result.rows_passed + len(result.quarantined):
                raise ExtractCountsError(f"{delivery.path.name}: rows in != rows passed + rows quarantined")
            if len(result.quarantined):
                # Named by provider too: two providers may send files of the same name.
                write_quarantine(
                    result.quarantined,
                    result.reason_counts,
                    quarantine_folder,
                    f"{delivery.path.parent.name}_{delivery.path.stem}",
                    istv.quarantine_cipher(),
                )
            ingested = {
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
            summary["files"].append(ingested)
            istv.audit("ingest", {"source": source, "month": f"{month:%Y-%m}", **ingested})
        concatenate_parquet(parts, parquet, arrow_schema(schema))
        summary_path.write_text(json.dumps(summary, indent=2))
        received = sum(f["rows_received"] for f in summary["files"])
        quarantined = sum(f["rows_quarantined"] for f in summary["files"])
        if not deliveries:
            context.log.info(f"No complete {source} extract has landed for {month:%Y-%m}")
        return MaterializeResult(
            metadata={
                "files": len(deliveries),
                "rows_received": received,
                "rows_passed": sum(f["rows_passed"] for f in summary["files"]),
                "rows_quarantined": quarantined,
                "quarantine_reasons": json.dumps(_merge_reasons(summary["files"])),
                "sha256": ", ".join(d.sha256 for d in deliveries) or "none",
            }
        )

    @asset_check(
        asset=extract,
        name="passed_rows_meet_schema",
        blocking=True,
        description=f"Great Expectations suite generated from schemas/{schema.name}.yaml, on the rows that passed.",
    )
    def extract_expectations(context, istv: IstvResource) -> AssetCheckResult:
        month = month_of_partition(context.partition_key)
        parquet, _ = istv.istv_home.parsed_extract(source, month)
        summary = validate_parquet(parquet, schema)
        # An error blocks the month; a warning (e.g. locations less complete than usual) does not.
        severity = AssetCheckSeverity.ERROR if not summary.success else AssetCheckSeverity.WARN
        return AssetCheckResult(
            passed=summary.success and not summary.warned, severity=severity, metadata=summary.as_metadata()
        )

    @asset(
        name=f"{source}_pseudonymised",
        group_name=GROUP[source],
        partitions_def=monthly_partitions,
        deps=[AssetKey(f"{source}_extract")],
        description=pseudonymised_doc,
        kinds={"parquet"},
    )
    def pseudonymised(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
        month = month_of_partition(context.partition_key)
        agreement = istv.agreement_in_force(step=f"{source}_pseudonymised")
        rules = agreement.rules_for(source)
        parquet, summary_path = istv.istv_home.parsed_extract(source, month)
        keys, master_key_id = istv.field_keys(agreement, rules)
        out = istv.istv_home.pseudonymised_file(source, month)
        result = pseudonymise_file(
            parquet, out, source, agreement, keys, istv.location_resolver, processes=pseudonymise_processes()
        )
        extract_summary = json.loads(summary_path.read_text())
        summary = {
            **extract_summary,
            **result.counts,
            "providers_counts": result.counts_by_provider,
            "agreement_id": agreement.id,
            "agreement_version": agreement.version,
            "agreement_sha256": agreement.content_hash(),
            "key_id": master_key_id,
            "fields": result.fields,
        }
        istv.istv_home.summary_file(source, month).write_text(json.dumps(summary, indent=2))
        istv.audit(
            "pseudonymise",
            {
                "source": source,
                "month": f"{month:%Y-%m}",
                "agreement_id": agreement.id,
                "agreement_version": agreement.version,
                "key_id": master_key_id,
                "providers": sorted({f["provider"] for f in extract_summary["files"]}),
                "files": [f["sha256"] for f in extract_summary["files"]],
                "rows_received": sum(f["rows_received"] for f in extract_summary["files"]),
                "rows_quarantined": sum(f["rows_quarantined"] for f in extract_summary["files"]),
                **result.counts,
                "fields": result.fields,
            },
        )
        return MaterializeResult(
            metadata={
                **result.counts,
                "agreement": f"{agreement.id} v{agreement.version}",
                "agreement_sha256": agreement.content_hash(),
                "key_id": master_key_id,
                **{f"fields_{k}": ", ".join(v) or "none" for k, v in result.fields.items()},
            }
        )

    @asset_check(
        asset=pseudonymised,
        name="no_identifiers",
        blocking=True,
        description="Leak scan: no NHS number, postcode, phone, e-mail, date of birth, free text or value "
        "from the extract's own identifier columns in the pseudonymised rows.",
    )
    def pseudonymised_leak_scan(context, istv: IstvResource) -> AssetCheckResult:
        month = month_of_partition(context.partition_key)
        batches = read_batches(istv.istv_home.pseudonymised_file(source, month))
        findings = scanner_for(istv.istv_home, month, sources=(source,)).scan_frames(batches)
        return AssetCheckResult(
            passed=not findings, severity=AssetCheckSeverity.ERROR, metadata=findings_metadata(findings)
        )

    return [extract, pseudonymised], [extract_expectations, pseudonymised_leak_scan]


def _merge_reasons(files: list[dict]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for f in files:
        for reason, count in f["reasons"].items():
            merged[reason] = merged.get(reason, 0) + count
    return merged
