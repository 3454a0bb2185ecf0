"""`istv run --processes N` runs each step in a process of its own (what keeps a national month's
memory per step), at most N at once, and publishes exactly what a run in one process publishes."""

from __future__ import annotations

import datetime as dt
import multiprocessing.forkserver

import duckdb
import pytest
from click.testing import CliRunner
from dagster import DagsterEventType, DagsterInstance

from pipelines.cli import cli
from pipelines.lib.instance import prepare_dagster_home
from pipelines.runs import run_month
from pipelines.synthetic import generate_month
from warehouse.tables import published_table_names

pytestmark = pytest.mark.slow
MONTH = dt.date(2026, 9, 1)


def _tables(home) -> dict[str, list[tuple]]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in published_table_names()}


def _most_steps_at_once(home) -> int:
    """Of the newest run, the most step processes alive at one time (from starting to ending)."""
    prepare_dagster_home(home)
    with DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        changes = []
        for entry in instance.all_logs(run.run_id):
            kind = entry.dagster_event.event_type if entry.dagster_event else None
            if kind == DagsterEventType.STEP_WORKER_STARTING:
                changes.append((entry.timestamp, 1))
            elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                changes.append((entry.timestamp, -1))
    alive, most = 0, 0
    for _, change in sorted(changes, key=lambda c: (c[0], c[1])):
        alive += change
        most = max(most, alive)
    return most


def test_separate_processes_publish_what_one_process_publishes(istv_home, tmp_path):
    paths = generate_month(f"{MONTH:%Y-%m}", tmp_path / "extracts", seed=5, ed_rows=300)
    runner = CliRunner()
    for source in ("ed", "police"):
        landed = runner.invoke(cli, ["ingest", str(paths[source]), "--source", source, "--month", f"{MONTH:%Y-%m}"])
        assert landed.exit_code == 0, landed.output
    assert run_month(MONTH, istv_home).success
    in_one = _tables(istv_home)
    done = runner.invoke(cli, ["run", "--month", f"{MONTH:%Y-%m}", "--processes", "2"])
    assert done.exit_code == 0, done.output
    assert "Published 2026-09" in done.output
    assert _tables(istv_home) == in_one
    assert sum(len(rows) for rows in in_one.values()) > 100
    assert _most_steps_at_once(istv_home) == 2
    # the steps' fork server ended with the run: the next starts from this process's environment
    assert multiprocessing.forkserver._forkserver._forkserver_pid is None

    one_by_one = runner.invoke(cli, ["run", "--month", f"{MONTH:%Y-%m}", "--processes", "1"])
    assert one_by_one.exit_code == 0, one_by_one.output
    assert _tables(istv_home) == in_one
    assert _most_steps_at_once(istv_home) == 1
