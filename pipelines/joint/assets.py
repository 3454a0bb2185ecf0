"""The joint view of a month across sources, and the tables published from it: the steps in
warehouse/joint.py and warehouse/release.py, their results turned into Dagster's."""

from functools import partial

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    asset_check,
    multi_asset,
)

from pipelines.lib.leak_checks import findings_metadata, scanner_for
from pipelines.lib.warehouse_steps import warehouse_steps_lock
from pipelines.partitions import month_of_partition, monthly_partitions
from pipelines.resources import IstvResource
from report.page import render_report
from schemas.model import SOURCES
from sharing_agreements import auditing
from warehouse.joint import build_joint_incidents, joint_risk
from warehouse.release import CheckedTable, ReleaseRefused, release_month, withheld_tables
from warehouse.tables import table_description, table_specs


@asset(
    group_name="joint",
    partitions_def=monthly_partitions,
    deps=[AssetKey(f"{s}_pseudonymised") for s in SOURCES],
    kinds={"parquet"},
)
def joint_incidents(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
    """Every shared incident of the month, ED and police, in one table of pseudonymised and
    generalised columns: source, provider, month, hour of the week, spatial cell, venue, method,
    age band and sex. Row level: seen by the pipeline only, unless the agreement says otherwise."""
    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="joint_incidents")
    rows = build_joint_incidents(istv.istv_home, month, istv.record_keys(agreement))
    return MaterializeResult(metadata={f"rows_{s}": n for s, n in rows.items()} | {"rows": sum(rows.values())})


@asset_check(
    asset=joint_incidents,
    name="k_anonymity",
    blocking=False,
    description="k-anonymity of the row-level zone over the agreement's quasi-identifiers; "
    "warns the board when groups fall below the agreement's k.",
)
def joint_k_anonymity(context, istv: IstvResource) -> AssetCheckResult:
    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="joint_k_anonymity")
    report = joint_risk(istv.istv_home, month, agreement.risk.quasi_identifiers, agreement.risk.k)
    return AssetCheckResult(
        passed=not report.below_target, severity=AssetCheckSeverity.WARN, metadata=report.as_metadata()
    )


# A month's rolling windows (hotspot_areas) read the joint rows of the months before it: a backfill
# running several months at once (the queued run coordinator) must join those first, so the
# published tables of a month depend on the joint_incidents of every month the longest window an
# agreement may declare (24 months) reaches back to. Months before the first partition are none.
WINDOW_OF_JOINT_MONTHS = AssetDep(
    "joint_incidents",
    partition_mapping=TimeWindowPartitionMapping(
        start_offset=-23, end_offset=0, allow_nonexistent_upstream_partitions=True
    ),
)


@multi_asset(
    specs=[
        AssetSpec(
            s.name,
            description=table_description(s),
            group_name="published",
            deps=[WINDOW_OF_JOINT_MONTHS],
            kinds={"duckdb"},
            skippable=True,
        )
        for s in table_specs()
    ],
    check_specs=[
        AssetCheckSpec(
            "disclosure_control",
            asset=s.name,
            blocking=True,
            description="No published count between 1 and the suppression threshold; keys present; "
            "the leak scanner finds no identifier (checked before anything is published).",
        )
        for s in table_specs()
    ],
    partitions_def=monthly_partitions,
    pool="warehouse",
)
def published_tables(context: AssetExecutionContext, istv: IstvResource):
    """Aggregate the month, apply disclosure control, check every table, then publish them all
    to the shared warehouse in one atomic swap (analysts never see half a month)."""
    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="published_tables")
    home = istv.istv_home
    if withheld := withheld_tables(agreement):
        context.log.info(f"Not published (not permitted by {agreement.label}): {', '.join(withheld)}")
    try:
        with warehouse_steps_lock(home.warehouse):  # its swap reads the live file
            release = release_month(
                home,
                month,
                agreement,
                record_keys=istv.record_keys(agreement),
                disclosure_policy=partial(istv.disclosure_policy, agreement),
                scanner=lambda tables: scanner_for(home, month, tables=tables),
                audit=istv.audit,
                audit_entries=auditing.reader(home).entries,
            )
    except ReleaseRefused as refused:
        for table in refused.release.tables.values():
            yield _disclosure_check(table)
        raise
    for name in release.withheld:
        # Nothing published, nothing disclosed; the check records why the table is absent.
        yield AssetCheckResult(
            asset_key=name,
            check_name="disclosure_control",
            passed=True,
            metadata={"published": False, "reason": f"not permitted by {agreement.label}"},
        )
    for table in release.tables.values():
        yield MaterializeResult(
            asset_key=table.name,
            metadata={
                "rows": table.rows,
                "cells_suppressed": table.cells_suppressed,
                "warehouse": str(home.warehouse),
                "agreement": f"{agreement.id} v{agreement.version}",
            },
            check_results=[_disclosure_check(table)],
        )


def _disclosure_check(table: CheckedTable) -> AssetCheckResult:
    """The blocking check of a permitted table: its disclosure-control suite and leak scan."""
    return AssetCheckResult(
        asset_key=table.name,
        check_name="disclosure_control",
        passed=table.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata=table.validation.as_metadata() | findings_metadata(table.findings),
    )


@asset(
    group_name="reports",
    partitions_def=monthly_partitions,
    # After the evaluations, so the report shows the month's mission progress and effects.
    deps=[AssetKey("hotspot_cells"), AssetKey("mission_progress"), AssetKey("intervention_effects")],
    kinds={"html"},
)
def hotspot_report(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
    """The month's hotspot report for the community safety board: one self-contained HTML file
    (map of hotspot cells, hour-of-week heat map, trend, methods, venues, hidden violence,
    coverage) that opens offline, rendered from the published warehouse only."""
    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="hotspot_report")
    with warehouse_steps_lock(istv.istv_home.warehouse):
        out = render_report(istv.istv_home.warehouse, month, istv.istv_home.report_file(month), agreement=agreement)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(out)), "bytes": out.stat().st_size})
