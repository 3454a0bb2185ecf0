"""Bringing a month in as a data officer does: every refusal is a line or two that names the cause
and the fix, a run shows its stages as they go and what each delivery came to, and a failed run
keeps Dagster's whole trace in a log file instead of printing it."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from tests.conftest import DATA

POLICE_UK = DATA / "police_uk" / "2018-10-south-wales-street.csv"
OCTOBER = dt.date(2018, 10, 1)


@pytest.fixture
def runner(istv_home):
    return CliRunner()


def _refused(result, exit_code: int = 1) -> list[str]:
    """The lines a command printed as it failed, once checked that it failed as istv fails: its
    own exit status, one or two lines, and no error escaping as a traceback."""
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2 and "Traceback" not in result.output and "Stack Trace" not in result.output, (
        result.output
    )
    return lines


def _ingest(runner, file, source: str) -> None:
    landed = runner.invoke(cli, ["ingest", str(file), "--source", source])
    assert landed.exit_code == 0, landed.output


def test_generate_refuses_a_month_that_has_not_ended(runner, tmp_path):
    this_month = f"{dt.date.today():%Y-%m}"
    out = tmp_path / "extracts"
    (line,) = _refused(runner.invoke(cli, ["generate", "--month", this_month, "--out", str(out)]))
    assert f"{this_month} has not ended" in line and "earlier --month" in line
    assert not list(out.glob("*.csv"))


def test_a_month_not_written_yyyy_mm_is_refused(runner, tmp_path):
    (line,) = _refused(runner.invoke(cli, ["generate", "--month", "2026-1", "--out", str(tmp_path)]), exit_code=2)
    assert "'2026-1'" in line and "YYYY-MM" in line


def test_generate_names_an_out_folder_it_cannot_write(runner, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    (line,) = _refused(runner.invoke(cli, ["generate", "--month", "2018-10", "--out", str(a_file / "extracts")]))
    assert str(a_file / "extracts") in line and "another --out" in line


def test_a_missing_option_is_one_line_that_points_at_the_help(runner):
    (line,) = _refused(runner.invoke(cli, ["run"]), exit_code=2)
    assert "--month" in line and "--help" in line


def test_ingest_of_a_file_that_is_not_there_names_it(runner, tmp_path):
    (line,) = _refused(runner.invoke(cli, ["ingest", str(tmp_path / "oct.csv"), "--source", "ed"]), exit_code=2)
    assert "oct.csv" in line and "does not exist" in line


def test_a_working_folder_that_cannot_be_made_names_istv_home(runner, tmp_path, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    monkeypatch.setenv("ISTV_HOME", str(a_file / "home"))
    (line,) = _refused(runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"]))
    assert "ISTV_HOME" in line and str(a_file / "home") in line


def test_ingest_says_how_many_rows_landed(runner):
    landed = runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"])
    assert landed.exit_code == 0, landed.output
    rows = len(pd.read_csv(POLICE_UK))
    assert f"police_uk extract of South Wales Police for 2018-10 ({rows:,} rows, sha256 " in landed.output


def test_ingest_names_the_provider_as_the_agreement_does(runner, tmp_path):
    from pipelines.synthetic import generate_month

    landed = runner.invoke(
        cli, ["ingest", str(generate_month("2018-10", tmp_path, seed=4, ed_rows=60)["ed"]), "--source", "ed"]
    )
    assert landed.exit_code == 0, landed.output
    # The file writes the ED's site code; the agreement names its party.
    assert "ed extract of Cardiff and Vale University Health Board (7A4BV) for 2018-10" in landed.output


def test_a_month_with_nothing_delivered_is_refused_before_anything_runs(runner, istv_home):
    _ingest(runner, POLICE_UK, "police_uk")  # another month's delivery does not count
    (line,) = _refused(runner.invoke(cli, ["run", "--month", "2018-11"]))
    assert "2018-11" in line and "istv ingest FILE --source" in line
    assert not (istv_home.dagster / "history").exists()  # Dagster never started a run
    assert not istv_home.warehouse.exists()
    entries = [json.loads(line) for line in (istv_home.audit / "log.jsonl").read_text().splitlines()]
    assert "publish" not in {entry["kind"] for entry in entries}


def test_processes_with_an_executor_that_runs_steps_its_own_way_are_refused(runner, istv_home, monkeypatch):
    _ingest(runner, POLICE_UK, "police_uk")
    monkeypatch.setenv("ISTV_EXECUTOR", "in_process")
    (line,) = _refused(runner.invoke(cli, ["run", "--month", "2018-10", "--processes", "2"]))
    assert "--processes" in line and "ISTV_EXECUTOR=in_process" in line
    assert not istv_home.warehouse.exists() and not list((istv_home.root / "logs").glob("*.log"))


def test_a_failing_run_prints_the_cause_and_keeps_the_trace_in_a_log(runner, istv_home, tmp_path, monkeypatch):
    _ingest(runner, POLICE_UK, "police_uk")
    missing = tmp_path / "vault" / "pseudonym.key"
    monkeypatch.setenv("ISTV_PSEUDONYM_KEY_FILE", str(missing))
    cause, where = _refused(runner.invoke(cli, ["run", "--month", "2018-10"]))
    assert "police_uk_pseudonymised failed" in cause
    assert f"ISTV_PSEUDONYM_KEY_FILE names {missing}, which is not there" in cause
    log = Path(where.removeprefix("Dagster's full log of the run: "))
    assert log.parent == istv_home.root / "logs" and re.fullmatch(r"run-2018-10-\d{8}T\d{6}\.log", log.name)
    trace = log.read_text()
    assert "STEP_FAILURE" in trace and "Stack Trace:" in trace and "MissingKeyError" in trace
    assert not istv_home.warehouse.exists()


def test_a_quarantine_key_that_cannot_be_used_is_named_and_never_shown(runner, istv_home, tmp_path, monkeypatch):
    from pipelines.synthetic import generate_month

    # 60 rows: enough for the synthetic extract to hold a bad row, which needs the key to quarantine.
    _ingest(runner, generate_month("2018-10", tmp_path, seed=4, ed_rows=60)["ed"], "ed")
    monkeypatch.setenv("ISTV_QUARANTINE_KEY", "not-a-fernet-key")
    cause, _ = _refused(runner.invoke(cli, ["run", "--month", "2018-10"]))
    assert "step ed_extract failed: ISTV_QUARANTINE_KEY does not hold a usable quarantine key" in cause
    assert "not-a-fernet-key" not in cause


@pytest.mark.slow
def test_a_run_shows_each_stage_and_what_each_delivery_came_to(runner, istv_home, tmp_path):
    from pipelines.synthetic import generate_month

    _ingest(runner, POLICE_UK, "police_uk")
    _ingest(runner, generate_month("2018-10", tmp_path, seed=4, ed_rows=200)["ed"], "ed")
    run = runner.invoke(cli, ["run", "--month", "2018-10"])
    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    for stage in ("ed_extract", "police_uk_pseudonymised", "joint_incidents", "published_tables", "hotspot_report"):
        started = lines.index(f"  {stage} started")
        finished = next(i for i, line in enumerate(lines) if re.fullmatch(rf"  {stage} finished \(\d+\.\d s\)", line))
        assert started < finished
    # The asset checks' steps are no stages of their own; Dagster's own log lines stay out.
    assert "passed_rows_meet_schema" not in run.output and "DEBUG" not in run.output
    assert not (istv_home.root / "logs").exists() or not any((istv_home.root / "logs").iterdir())

    joint = pd.read_parquet(istv_home.pseudonymised_file("joint", OCTOBER))
    for source, received in (("ed", 200), ("police_uk", len(pd.read_csv(POLICE_UK)))):
        summary = json.loads(istv_home.summary_file(source, OCTOBER).read_text())["files"][0]
        shared = (joint.source == source).sum()
        assert (
            f"{source}: {received:,} rows received, {summary['rows_quarantined']:,} quarantined, {shared:,} shared"
            in lines
        )
    warning = next(line for line in lines if line.startswith("Warning: k-anonymity: "))
    assert re.search(r"[\d,]+ of [\d,]+ rows .* smaller than k = \d+", warning)
    assert "`istv risk --month 2018-10`" in warning
    assert lines[-1].startswith("Published 2018-10 to ")


def test_ui_takes_a_port(runner):
    shown = runner.invoke(cli, ["ui", "--help"])
    assert shown.exit_code == 0 and "--port" in shown.output and "default: 3000" in shown.output


def test_ui_on_a_port_in_use_says_so(runner):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (line,) = _refused(runner.invoke(cli, ["ui", "--port", str(port)]))
    assert f"port {port}" in line and "--port" in line


def test_ui_stops_its_whole_process_group_on_term(runner, tmp_path, monkeypatch):
    """A stand-in for dagster dev that starts a child of its own, as dagster dev does."""
    pids = tmp_path / "pids"
    fake = tmp_path / "bin" / "dagster"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $$ $! > {pids}.part && mv {pids}.part {pids}\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(fake.with_name("python")))
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]

    def stop_once_started():
        deadline = time.monotonic() + 30
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # handled by `istv ui`, which is running by then

    threading.Thread(target=stop_once_started, daemon=True).start()
    stopped = runner.invoke(cli, ["ui", "--port", str(port)])
    assert stopped.exit_code == 0 and "Dagster UI stopped" in stopped.output, stopped.output
    for pid in map(int, pids.read_text().split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
