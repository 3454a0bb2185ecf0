"""Run a month as soon as a complete extract lands (a file whose manifest has been written)."""

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from ingest.home import IstvHome
from ingest.landing import landed_months
from pipelines.jobs import monthly_job


@sensor(job=monthly_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def landing_sensor(context: SensorEvaluationContext):
    """One run per month and set of delivered files: a re-delivery gets a new run key."""
    months = landed_months(IstvHome.from_env())
    if not months:
        yield SkipReason("nothing has landed")
        return
    for partition_key, fingerprints in sorted(months.items()):
        yield RunRequest(partition_key=partition_key, run_key=f"{partition_key}|{'|'.join(sorted(fingerprints))}")
