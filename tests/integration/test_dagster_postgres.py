"""Dagster's instance on PostgreSQL, chosen by the environment alone (ISTV_DAGSTER_POSTGRES_URL):
the same code location, its runs and materialisations recorded in a real PostgreSQL server,
several months at once against the one instance, queued runs ISTV_MAX_CONCURRENT_RUNS at a time,
retention deleting runs there, and the URL's password written nowhere."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.postgres_server import running_postgres
from pipelines.cli import cli
from pipelines.lib.instance import POSTGRES_URL_VARIABLE, prepare_dagster_home
from pipelines.synthetic import generate_month

pytestmark = pytest.mark.slow

ROLE, DATABASE = "istv_dagster", "istv_dagster"
PASSWORD = "Pg-pw-0f5e2c91d7"  # distinctive, so that finding it anywhere is telling
ISTV = str(Path(sys.executable).with_name("istv"))
DAGSTER_TABLES = {"runs", "run_tags", "event_logs", "asset_keys", "jobs", "job_ticks", "instigators"}


@pytest.fixture(scope="module")
def postgres():
    with running_postgres() as server:
        server.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        server.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        yield server


@pytest.fixture
def url(postgres) -> str:
    return f"postgresql://{ROLE}:{PASSWORD}@{postgres.host}:{postgres.port}/{DATABASE}"


@pytest.fixture
def on_postgres(istv_home, url, monkeypatch):
    """The working folder's Dagster instance on PostgreSQL, three queued runs at a time."""
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, url)
    monkeypatch.setenv("ISTV_MAX_CONCURRENT_RUNS", "3")
    # prepare_dagster_home sets DAGSTER_HOME: set here, it is restored after each test.
    monkeypatch.setenv("DAGSTER_HOME", str(istv_home.root / "dagster"))
    return istv_home


@pytest.fixture
def instance(on_postgres):
    from dagster import DagsterInstance

    prepare_dagster_home(on_postgres)
    with DagsterInstance.get() as instance:
        yield instance


def _tables(postgres) -> set[str]:
    import psycopg

    with psycopg.connect(postgres.dsn(DATABASE)) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return {name for (name,) in rows}


def _land(home, month: str, tmp_path: Path, seed: int) -> None:
    runner = CliRunner()
    paths = generate_month(month, tmp_path / f"extracts-{month}", seed=seed, ed_rows=40)
    for source in ("ed", "police"):
        landed = runner.invoke(cli, ["ingest", str(paths[source]), "--source", source, "--month", month])
        assert landed.exit_code == 0, landed.output


def _runs_of(instance, month: str) -> list:
    return list(instance.get_run_records(_of_month(month)))


def _of_month(month: str):
    from dagster import RunsFilter

    return RunsFilter(job_name="istv_monthly", tags={"dagster/partition": f"{month}-01"})


def _materialised(instance, run_id: str) -> set[str]:
    from dagster import DagsterEventType

    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=1000)
    return {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records.records}


def test_the_instance_istv_prepares_is_on_postgres(instance, on_postgres, postgres):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert DAGSTER_TABLES <= _tables(postgres)
    assert not list(on_postgres.dagster.rglob("*.db"))  # no SQLite beside it


def test_queued_runs_go_as_many_at_once_as_configured(instance, monkeypatch, on_postgres):
    from dagster import DagsterInstance, QueuedRunCoordinator

    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 3
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3
    monkeypatch.delenv("ISTV_MAX_CONCURRENT_RUNS")  # the default: two at once
    prepare_dagster_home(on_postgres)
    with DagsterInstance.get() as default:
        assert default.get_concurrency_config().run_queue_config.max_concurrent_runs == 2


def test_istv_run_records_the_run_and_its_materialisations_in_postgres(on_postgres, postgres, tmp_path):
    import psycopg
    from dagster import DagsterInstance, DagsterRunStatus

    _land(on_postgres, "2026-06", tmp_path, seed=1)
    done = CliRunner().invoke(cli, ["run", "--month", "2026-06"])
    assert done.exit_code == 0, done.output
    assert "Published 2026-06" in done.output

    with DagsterInstance.get() as instance:
        (record,) = _runs_of(instance, "2026-06")
        run = record.dagster_run
        assert run.status == DagsterRunStatus.SUCCESS
        made = _materialised(instance, run.run_id)
    assert {"ed_pseudonymised", "police_pseudonymised", "joint_incidents", "hotspot_cells"} <= made
    with psycopg.connect(postgres.dsn(DATABASE)) as con:
        (stored,) = con.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (run.run_id,),
        ).fetchone()
    assert stored == len(made) > 0
    assert not list(on_postgres.dagster.rglob("*.db"))


def test_two_months_run_at_once_against_the_same_instance(on_postgres, tmp_path):
    from dagster import DagsterInstance, DagsterRunStatus

    months = ["2026-07", "2026-08"]
    for seed, month in enumerate(months, start=2):
        _land(on_postgres, month, tmp_path, seed)
    env = os.environ.copy()
    env.pop("DAGSTER_HOME")  # each `istv run` finds the instance in ISTV_HOME, as a data officer's would
    runs = [
        subprocess.Popen(
            [ISTV, "run", "--month", month],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for month in months
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for month, run, output in zip(months, runs, outputs, strict=True):
        assert run.returncode == 0, output
        assert f"Published {month}" in output
        assert PASSWORD not in output

    prepare_dagster_home(on_postgres)
    with DagsterInstance.get() as instance:
        records = []
        for month in months:
            (record,) = _runs_of(instance, month)
            assert record.dagster_run.status == DagsterRunStatus.SUCCESS
            assert "hotspot_cells" in _materialised(instance, record.dagster_run.run_id)
            records.append(record)
    # Both ran at once: each started before the other ended.
    first, second = records
    assert first.start_time < second.end_time and second.start_time < first.end_time


def test_retention_deletes_runs_from_postgres(instance, on_postgres, postgres):
    import psycopg
    from dagster import job, op

    from pipelines.run_history import DagsterRunHistory
    from sharing_agreements.model import Retention, load_agreement
    from sharing_agreements.retention import apply_retention, plan_retention

    @op
    def noop():
        pass

    @job
    def tiny():
        noop()

    run_id = tiny.execute_in_process(instance=instance).run_id
    runs = DagsterRunHistory(instance)
    ended = dt.date.fromtimestamp(instance.get_run_record_by_id(run_id).end_time)
    retention = Retention(landing=90, quarantine=180, pseudonymised=730, dagster=100)
    assert not plan_retention(on_postgres, retention, ended + dt.timedelta(days=100), runs).due
    plan = plan_retention(on_postgres, retention, ended + dt.timedelta(days=101), runs)
    assert f"run {run_id}" in [d.item for d in plan.due if d.zone == "dagster"]
    outcome = apply_retention(on_postgres, plan, runs, load_agreement())
    assert f"run {run_id}" in outcome.deleted["dagster"]
    assert instance.get_run_record_by_id(run_id) is None and not instance.all_logs(run_id)
    with psycopg.connect(postgres.dsn(DATABASE)) as con:
        for table in ("runs", "event_logs"):
            (left,) = con.execute(f"SELECT count(*) FROM {table} WHERE run_id = %s", (run_id,)).fetchone()
            assert left == 0, table


def test_the_url_and_its_password_are_written_nowhere(on_postgres, postgres, url, tmp_path, monkeypatch):
    import psycopg
    from dagster import DagsterInstance
    from dagster._serdes import serialize_value

    _land(on_postgres, "2026-05", tmp_path, seed=6)
    # A run that fails keeps Dagster's whole event log of it in a log file: the most it ever writes.
    monkeypatch.setenv("ISTV_PSEUDONYM_KEY_FILE", str(tmp_path / "vault" / "pseudonym.key"))
    failed = CliRunner().invoke(cli, ["run", "--month", "2026-05"])
    assert failed.exit_code == 1
    assert PASSWORD not in failed.output
    (log,) = on_postgres.logs.glob("run-2026-05-*.log")
    assert "Dagster's event log of run" in log.read_text()

    config = (on_postgres.dagster / "dagster.yaml").read_text()
    assert f"env: {POSTGRES_URL_VARIABLE}" in config
    assert url not in config and PASSWORD not in config
    with DagsterInstance.get() as instance:
        (record,) = _runs_of(instance, "2026-05")
        run = record.dagster_run
        assert not any(PASSWORD in serialize_value(entry) for entry in instance.all_logs(run.run_id))
        assert PASSWORD not in serialize_value(run)
    for file in (f for f in on_postgres.root.rglob("*") if f.is_file()):
        assert PASSWORD.encode() not in file.read_bytes(), file
    with psycopg.connect(postgres.dsn(DATABASE)) as con:
        for table, column in (("event_logs", "event"), ("runs", "run_body"), ("run_tags", "value")):
            (found,) = con.execute(
                f"SELECT count(*) FROM {table} WHERE {column} LIKE %s", (f"%{PASSWORD}%",)
            ).fetchone()
            assert found == 0, table


def test_the_password_may_come_from_pgpassword(istv_home, postgres, monkeypatch):
    from dagster import DagsterInstance
    from dagster_postgres import PostgresRunStorage

    monkeypatch.setenv(POSTGRES_URL_VARIABLE, f"postgresql://{ROLE}@{postgres.host}:{postgres.port}/{DATABASE}")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    monkeypatch.setenv("DAGSTER_HOME", str(istv_home.root / "dagster"))
    prepare_dagster_home(istv_home)
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        instance.get_runs(limit=1)  # connected with the password libpq read from PGPASSWORD


def test_without_the_variable_the_instance_is_back_on_sqlite(on_postgres, monkeypatch):
    from dagster import DagsterInstance
    from dagster._core.storage.runs import SqliteRunStorage

    prepare_dagster_home(on_postgres)
    monkeypatch.delenv(POSTGRES_URL_VARIABLE)
    prepare_dagster_home(on_postgres)
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, SqliteRunStorage)
