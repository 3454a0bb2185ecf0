"""Running a month through the Dagster graph, recorded in the instance: what `istv run`, the
demo, the tests and the Dagster benchmark share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ingest.home import IstvHome
from pipelines.partitions import partition_of_month


def run_month(month: dt.date, home: IstvHome, processes: int = 0):
    """Materialise every asset of the month through Dagster, recorded in the instance: in this
    process, or with `processes` > 0 each step in a fresh process, that many at once (each
    step's memory is then its own: what a national month needs to stay within 2 GiB)."""
    from dagster import DagsterInstance

    from pipelines.lib.instance import prepare_dagster_home

    prepare_dagster_home(home)
    partition = partition_of_month(f"{month:%Y-%m}")
    # The event log keeps everything; the terminal only needs warnings and the summary.
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with DagsterInstance.get() as instance:
        if processes:
            from dagster import execute_job, reconstructable

            config = quiet | {"execution": {"config": {"multiprocess": {"max_concurrent": processes}}}}
            with execute_job(
                reconstructable(monthly_job_definition),
                instance=instance,
                run_config=config,
                tags={"dagster/partition": partition},
                raise_on_error=False,
            ) as result:
                return _Outcome(result.success, list(result.all_events))
        return monthly_job_definition().execute_in_process(
            partition_key=partition, instance=instance, raise_on_error=False, run_config=quiet
        )


def monthly_job_definition():
    """The monthly job as the code location defines it (importable, so other processes can rebuild it)."""
    from pipelines.definitions import defs

    return defs.resolve_job_def("istv_monthly")


@dataclass(frozen=True)
class _Outcome:
    """What a run in separate processes leaves once its result is closed."""

    success: bool
    all_events: list
