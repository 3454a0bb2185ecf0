"""The two assets every source has (`<source>_extract`, `<source>_pseudonymised`) and the
blocking Great Expectations check between them, built once for ed, police and police_uk.

The steps themselves are `ingest.steps`, without Dagster: an asset hands them its month, the
resources and its audit log, and turns their results into metadata."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
    asset_check,
)

from anonymise.scan import scan_parquet_rows
from ingest.pseudonymise import pseudonymise_processes
from ingest.secrets import known_shapes_key
from ingest.steps import parse_month, pseudonymise_month
from ingest.validate import validate_parquet, validate_processes
from pipelines.lib.leak_checks import findings_metadata, scanner_for
from pipelines.partitions import month_of_partition, monthly_partitions
from pipelines.resources import IstvResource
from schemas import schema_for_source

GROUP = {"ed": "ed", "police": "police", "police_uk": "police"}


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
        parsed = parse_month(istv.istv_home, source, month, istv.quarantine_cipher, istv.audit)
        if not parsed.sha256:
            context.log.info(f"No complete {source} extract has landed for {month:%Y-%m}")
        return MaterializeResult(metadata=parsed.as_metadata())

    @asset_check(
        asset=extract,
        name="passed_rows_meet_schema",
        blocking=True,
        description=f"Great Expectations suite generated from schemas/{schema.name}.yaml, on the rows that passed.",
    )
    def extract_expectations(context, istv: IstvResource) -> AssetCheckResult:
        month = month_of_partition(context.partition_key)
        parquet, _ = istv.istv_home.parsed_extract(source, month)
        summary = validate_parquet(parquet, schema, processes=validate_processes())
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
        keys, master_key_id = istv.field_keys(agreement, source)
        shared = pseudonymise_month(
            istv.istv_home,
            source,
            month,
            agreement,
            keys,
            master_key_id,
            istv.location_resolver,
            istv.audit,
            pseudonymise_processes(),
            known_shapes_key(istv.istv_home),
        )
        return MaterializeResult(metadata=shared.as_metadata())

    @asset_check(
        asset=pseudonymised,
        name="no_identifiers",
        blocking=True,
        description="Leak scan: no NHS number, postcode, phone, e-mail, date of birth, free text or value "
        "from the extract's own identifier columns in the pseudonymised rows.",
    )
    def pseudonymised_leak_scan(context, istv: IstvResource) -> AssetCheckResult:
        month = month_of_partition(context.partition_key)
        scanner = scanner_for(istv.istv_home, month, sources=(source,))
        findings = scan_parquet_rows(istv.istv_home.pseudonymised_file(source, month), scanner)
        return AssetCheckResult(
            passed=not findings, severity=AssetCheckSeverity.ERROR, metadata=findings_metadata(findings)
        )

    return [extract, pseudonymised], [extract_expectations, pseudonymised_leak_scan]
