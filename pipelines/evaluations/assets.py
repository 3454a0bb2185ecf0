"""What the month's release achieved against the partnership's goals: the mission's progress and
the registered interventions' effects (outcomes/), evaluated after every monthly release.

Each asset materialises every month, saying in its metadata whether it published and, when not,
why (the agreement has no mission, does not permit the table, or nothing is registered), so the
report that follows always reads the month's evaluations, never last month's.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    asset,
    asset_check,
)

from pipelines.lib.warehouse_steps import warehouse_steps_lock
from pipelines.partitions import month_of_partition, monthly_partitions
from pipelines.resources import IstvResource
from sharing_agreements.auditing import agreement_details
from sharing_agreements.model import agreement_path


def _not_published(reason: str) -> MaterializeResult:
    return MaterializeResult(metadata={"published": False, "reason": reason})


@asset(
    group_name="outcomes",
    partitions_def=monthly_partitions,
    deps=[AssetKey("monthly_trend")],
    kinds={"duckdb"},
    pool="warehouse",
)
def mission_progress(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
    """The mission's metric for the month against its target line, with a seasonally adjusted
    trend and its band, from the published monthly totals (outcomes/mission.py)."""
    from outcomes.mission import TABLE, publish_mission_progress, status_text

    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="mission_progress")
    if agreement.mission is None:
        return _not_published(f"{agreement.label} declares no mission")
    if TABLE not in agreement.published_tables:
        return _not_published(f"{agreement.label} does not permit the table {TABLE}")
    with warehouse_steps_lock(istv.istv_home.warehouse):
        rows = publish_mission_progress(istv.istv_home, agreement, month)
    row = next((r for r in rows if r["month"] == month), None)
    istv.audit(TABLE, {**agreement_details(agreement, agreement_path(istv.agreement_file)), "month": f"{month:%Y-%m}"})
    said = status_text(row, agreement.mission) if row else "not available"
    return MaterializeResult(metadata={"published": True, "status": said})


@asset_check(
    asset=mission_progress,
    name="on_track",
    blocking=False,
    description="Warns the board when the mission's metric has been off track for three months in a row.",
)
def mission_on_track(context, istv: IstvResource) -> AssetCheckResult:
    from outcomes.mission import OFF_TRACK_WARNING_MONTHS, mission_rows, months_off_track

    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="mission_on_track")
    if agreement.mission is None:
        return AssetCheckResult(passed=True, metadata={"reason": f"{agreement.label} declares no mission"})
    with warehouse_steps_lock(istv.istv_home.warehouse):
        rows = mission_rows(istv.istv_home.warehouse, agreement)
    off = months_off_track(rows, month)
    return AssetCheckResult(
        passed=off < OFF_TRACK_WARNING_MONTHS,
        severity=AssetCheckSeverity.WARN,
        metadata={"months_off_track": off, "goal": agreement.mission.goal},
    )


@asset(
    group_name="outcomes",
    partitions_def=monthly_partitions,
    deps=[AssetKey("joint_incidents"), AssetKey("hotspot_cells")],
    kinds={"duckdb"},
    pool="warehouse",
)
def intervention_effects(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
    """Every registered intervention evaluated on the months up to this one, and the places whose
    violence fell more than comparable ones (outcomes/effects.py, outcomes/deviance.py)."""
    from outcomes.effects import evaluate_month

    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="intervention_effects")
    with warehouse_steps_lock(istv.istv_home.warehouse):
        published = evaluate_month(istv.istv_home, agreement, month, audit=istv.audit)
    if not published:
        return _not_published("nothing registered or permitted to evaluate")
    return MaterializeResult(metadata={"published": True, **published})
