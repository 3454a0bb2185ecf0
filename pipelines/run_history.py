"""Dagster's run history as retention sees it (sharing_agreements.retention.RunHistory)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from dagster import DagsterInstance, RunsFilter


class DagsterRunHistory:
    def __init__(self, instance: DagsterInstance):
        self.instance = instance

    def runs_updated_before(self, cutoff: dt.datetime) -> Iterator[tuple[str, str, dt.date]]:
        # Dagster compares in UTC, ignoring the time zone it is given.
        for record in self.instance.get_run_records(RunsFilter(updated_before=cutoff)):
            ended = dt.date.fromtimestamp(record.end_time or record.update_timestamp.timestamp())
            yield record.dagster_run.run_id, record.dagster_run.job_name, ended

    def delete(self, run_id: str) -> None:
        # Compute logs first: once the run is gone nothing would point at them.
        self.instance.compute_log_manager.delete_logs(prefix=[run_id])
        self.instance.delete_run(run_id)
