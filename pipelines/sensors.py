"""Run a month as soon as a complete extract lands (a file whose manifest has been written), unless
the month is already published from exactly the deliveries now landed.

What was published from what is read from the audit log in ISTV_HOME, never from the Dagster
instance evaluating the sensor: `istv run`, the demo and `istv ui` may each keep a run history of
their own (another DAGSTER_HOME, an ephemeral instance), and a run started outside the sensor
carries no run key, so Dagster's own de-duplication of run keys would re-run every month they had
already published."""

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
from pipelines.partitions import month_of_partition
from sharing_agreements.audit import AuditLog
from warehouse.published_from import published_deliveries


@sensor(job=monthly_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def landing_sensor(context: SensorEvaluationContext):
    """One run per month and set of delivered files: a new or corrected delivery gets a new run
    key; a month whose latest publish was made from the same files gets none, in any instance.
    A month whose run failed is not published from its files, so it is asked for again (once per
    run key in an instance: Dagster does not repeat a run key it has run)."""
    home = IstvHome.from_env()
    months = landed_months(home)
    if not months:
        yield SkipReason("nothing has landed")
        return
    # Read unverified (no key needed); a malformed log fails the tick, naming the line.
    published = published_deliveries(AuditLog(home.audit, None).entries())
    done = 0
    for partition_key, fingerprints in sorted(months.items()):
        if published.get(month_of_partition(partition_key)) == frozenset(fingerprints):
            done += 1
            continue
        yield RunRequest(partition_key=partition_key, run_key=f"{partition_key}|{'|'.join(sorted(fingerprints))}")
    if done == len(months):
        yield SkipReason(f"{_months(done)} already published from their deliveries; nothing new has landed")
    elif done:
        context.log.info(f"{_months(done)} already published from their deliveries: not run again")


def _months(n: int) -> str:
    return f"{n} month{'s' if n != 1 else ''}"
