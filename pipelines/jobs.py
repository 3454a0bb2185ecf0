"""The jobs: one materialises a whole month (every source, the joint table and the published
tables); one enforces the agreement's retention periods."""

import datetime as dt

from dagster import (
    AssetSelection,
    Failure,
    OpExecutionContext,
    define_asset_job,
    in_process_executor,
    job,
    op,
)

from pipelines.resources import IstvResource
from pipelines.run_history import DagsterRunHistory
from sharing_agreements.model import agreement_path
from sharing_agreements.retention import apply_retention, plan_retention, retention_agreement

monthly_job = define_asset_job(
    "istv_monthly",
    selection=AssetSelection.all(),
    description="Ingest, validate, pseudonymise and publish one month under the agreement in force.",
)


@op(description="Delete what the agreement's retention periods say is due, and write a retention audit entry.")
def enforce_retention(context: OpExecutionContext, istv: IstvResource) -> None:
    home = istv.istv_home
    agreement = retention_agreement(home, agreement_path(istv.agreement_file))
    runs = DagsterRunHistory(context.instance)
    plan = plan_retention(home, agreement.retention, dt.date.today(), runs)
    outcome = apply_retention(home, plan, runs, agreement)
    context.log.info(
        "retention deleted: " + ", ".join(f"{zone} {len(items)}" for zone, items in outcome.deleted.items())
    )
    failed = sum(len(items) for items in outcome.failed.values())
    if failed:
        raise Failure(f"retention could not delete {failed} item(s); the audit log's retention entry names them")


@job(
    name="istv_retention",
    # One short step: a process of its own would only add start-up time.
    executor_def=in_process_executor,
    description="Delete landing, quarantine, row-level data, Dagster run history and reports past the "
    "agreement's retention periods; never the published warehouse or the audit log.",
)
def retention_job():
    enforce_retention()
