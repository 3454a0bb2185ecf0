"""Retention: what the agreement's periods say is due goes, and nothing else."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, job, op

from pipelines.cli import cli
from pipelines.lib.instance import prepare_dagster_home
from pipelines.run_history import DagsterRunHistory
from sharing_agreements.auditing import reader, record
from sharing_agreements.model import Retention, load_agreement
from sharing_agreements.retention import apply_retention, due_since, month_end, plan_retention

TODAY = dt.date.today()
OLD = "2020-01"  # past every period on any day this test runs
RECENT = f"{TODAY:%Y-%m}"  # within every period


def _write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _zone_files(home, month: str) -> list[Path]:
    """Every kind of file each zone holds for a month."""
    return [
        _write(home.landing / "ed" / month / "ed.csv"),
        _write(home.landing / "ed" / month / "ed.csv.manifest.json"),
        _write(home.landing / "ed" / month / "superseded" / "20200205T101010_ed.csv"),
        _write(home.landing / "ed" / month / "_parsed" / "extract.parquet"),
        _write(home.landing / "police" / month / "SWP" / "police.csv"),  # the per-provider layout
        _write(home.quarantine / "ed" / month / "ed.parquet.fernet"),
        _write(home.quarantine / "ed" / month / "ed.summary.json"),
        _write(home.pseudonymised / "ed" / f"{month}.parquet"),
        _write(home.pseudonymised / "ed" / f"{month}.summary.json"),
        _write(home.pseudonymised / "joint" / f"{month}.parquet"),
        _write(home.reports / f"{month}.html"),
    ]


@pytest.fixture
def zones(istv_home):
    """A working folder with an old and a recent month in every zone, the warehouse and the
    audit log, and files retention must leave alone."""
    old, recent = _zone_files(istv_home, OLD), _zone_files(istv_home, RECENT)
    old.append(_write(istv_home.quarantine / "police" / OLD / "police.parquet.fernet"))  # a source with no recent month
    audit_report = _write(istv_home.audit_report_file)
    old_log = _write(istv_home.logs / f"run-{OLD}-20200101T000000.log")  # what an old `istv run` printed
    written = (dt.datetime.now() - dt.timedelta(days=400)).timestamp()
    for file in (audit_report, old_log):
        os.utime(file, (written, written))
    recent.append(_write(istv_home.logs / f"run-{RECENT}-20200101T000000.log"))  # written today
    untouched = [
        _write(istv_home.warehouse, "published tables"),
        _write(istv_home.pseudonymised / ".duckdb-spill-abc" / f"{OLD}.tmp"),  # work in progress, not a source
        _write(istv_home.landing / "ed" / "notes.txt"),  # not named after a month
        # The ledger of what was published: kept with the published tables, for a later correction.
        _write(istv_home.pseudonymised / "joint" / f"{OLD}.released" / "hotspot_cells.parquet"),
    ]
    record(istv_home, "delivery", {"source": "ed", "month": OLD})
    return {"old": old + [audit_report, old_log], "recent": recent, "untouched": untouched}


@pytest.fixture(autouse=True)
def dagster_home(istv_home, monkeypatch):
    # Set here so that what `prepare_dagster_home` sets is undone after each test.
    monkeypatch.setenv("DAGSTER_HOME", str(istv_home.dagster))


@pytest.fixture
def instance(istv_home):
    prepare_dagster_home(istv_home)
    with DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def runs(instance):
    return DagsterRunHistory(instance)


def _snapshot(paths: list[Path]) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


def test_a_month_is_kept_its_full_period_after_it_ends():
    assert month_end(dt.date(2024, 2, 1)) == dt.date(2024, 2, 29)
    assert month_end(dt.date(2024, 12, 1)) == dt.date(2024, 12, 31)
    # 90 days after 2024-01-31 is 2024-04-30: kept that day, due the next.
    assert due_since(dt.date(2024, 1, 31), 90) == dt.date(2024, 5, 1)


def test_due_on_the_day_after_the_period_and_not_before(istv_home, runs):
    folder = _write(istv_home.landing / "ed" / "2024-01" / "ed.csv").parent
    retention = load_agreement().retention
    assert not plan_retention(istv_home, retention, dt.date(2024, 4, 30), runs).due
    (due,) = plan_retention(istv_home, retention, dt.date(2024, 5, 1), runs).due
    assert (due.zone, due.item, due.due_since, due.path) == (
        "landing",
        "landing/ed/2024-01",
        dt.date(2024, 5, 1),
        folder,
    )
    assert due.rule == "90 days after the end of 2024-01"


def test_the_plan_lists_every_zone_of_the_old_month_and_nothing_recent(istv_home, zones, runs):
    plan = plan_retention(istv_home, load_agreement().retention, TODAY, runs)
    assert sorted(d.item for d in plan.due) == sorted(
        [
            f"landing/ed/{OLD}",
            f"landing/police/{OLD}",
            f"quarantine/ed/{OLD}",
            f"quarantine/police/{OLD}",
            f"pseudonymised/ed/{OLD}.parquet",
            f"pseudonymised/ed/{OLD}.summary.json",
            f"pseudonymised/joint/{OLD}.parquet",
            f"reports/{OLD}.html",
            "audit/reports/audit.md",
            f"logs/run-{OLD}-20200101T000000.log",
        ]
    )
    # No superseded release: the embedded warehouse keeps none.
    assert plan.counts() == {"landing": 2, "quarantine": 2, "pseudonymised": 3, "dagster": 1, "reports": 2}


def test_a_dry_run_lists_what_is_due_and_deletes_nothing(zones, istv_home):
    everything = zones["old"] + zones["recent"] + zones["untouched"] + [istv_home.audit / "log.jsonl"]
    before = _snapshot(everything)
    result = CliRunner().invoke(cli, ["retention", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"landing/ed/{OLD}" in result.output and f"pseudonymised/joint/{OLD}.parquet" in result.output
    assert f"pseudonymised/joint/{OLD}.released" not in result.output
    assert f"landing/ed/{RECENT}" not in result.output
    assert (
        "Dry run: nothing deleted (landing 2, quarantine 2, pseudonymised 3, dagster 1, reports 2 due)" in result.output
    )
    assert _snapshot(everything) == before


def test_a_dry_run_can_preview_a_later_day(zones):
    result = CliRunner().invoke(cli, ["retention", "--dry-run", "--today", f"{TODAY.year + 3}-01-01"])
    assert result.exit_code == 0, result.output
    assert f"landing/ed/{RECENT}" in result.output
    assert all(p.exists() for p in zones["recent"])


def test_a_later_day_is_never_applied(zones):
    result = CliRunner().invoke(cli, ["retention", "--today", f"{TODAY.year + 3}-01-01"])
    assert result.exit_code == 2 and "needs --dry-run" in result.output
    assert all(p.exists() for p in zones["recent"] + zones["old"])


def test_apply_deletes_exactly_what_is_due_and_audits_it(zones, istv_home):
    keep = zones["recent"] + zones["untouched"]
    before, log_before = _snapshot(keep), (istv_home.audit / "log.jsonl").read_bytes()
    result = CliRunner().invoke(cli, ["retention"])
    assert result.exit_code == 0, result.output
    assert "Deleted landing 2, quarantine 2, pseudonymised 3, dagster 1, reports 2" in result.output
    assert not any(p.exists() for p in zones["old"])
    assert _snapshot(keep) == before
    assert (istv_home.audit / "log.jsonl").read_bytes().startswith(log_before)
    # Folders left empty go too; the zone folders stay.
    assert not (istv_home.quarantine / "police").exists()
    assert istv_home.quarantine.is_dir() and istv_home.reports.is_dir() and istv_home.audit_reports.is_dir()

    log = reader(istv_home)
    assert log.verify().ok
    entry = log.entries()[-1]
    assert entry.kind == "retention"
    assert entry.details["deleted"] == {"landing": 2, "quarantine": 2, "pseudonymised": 3, "dagster": 1, "reports": 2}
    assert entry.details["deleted_items"]["dagster"] == [f"logs/run-{OLD}-20200101T000000.log"]
    assert entry.details["deleted_items"]["pseudonymised"] == [
        f"pseudonymised/ed/{OLD}.parquet",
        f"pseudonymised/ed/{OLD}.summary.json",
        f"pseudonymised/joint/{OLD}.parquet",
    ]
    assert entry.details["periods_days"] == load_agreement().retention.model_dump()
    assert entry.details["agreement_id"] == "cardiff-violence-prevention" and "failed_items" in entry.details
    assert not entry.details["failed_items"]

    again = CliRunner().invoke(cli, ["retention"])
    assert "Deleted landing 0, quarantine 0, pseudonymised 0, dagster 0, reports 0" in again.output


def test_a_link_is_deleted_never_what_it_points_to(istv_home, runs):
    _write(istv_home.warehouse, "published tables")
    link = istv_home.reports / f"{OLD}.html"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(istv_home.warehouse)
    retention = load_agreement().retention
    apply_retention(istv_home, plan_retention(istv_home, retention, TODAY, runs), runs, load_agreement())
    assert not link.is_symlink() and istv_home.warehouse.read_text() == "published tables"


def test_what_cannot_be_deleted_is_named_and_audited(zones, istv_home, monkeypatch):
    import shutil

    remove = shutil.rmtree

    def refuse_quarantine(path, *args, **kwargs):
        if "quarantine" in Path(path).parts:
            raise PermissionError(13, "Permission denied")
        remove(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", refuse_quarantine)
    result = CliRunner().invoke(cli, ["retention"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"could not delete 2 item(s): quarantine/ed/{OLD}, quarantine/police/{OLD}" in result.output
    entry = reader(istv_home).entries()[-1]
    assert entry.details["failed_items"] == {"quarantine": [f"quarantine/ed/{OLD}", f"quarantine/police/{OLD}"]}
    assert entry.details["deleted"]["landing"] == 2 and entry.details["deleted"]["quarantine"] == 0


def test_an_unsigned_agreement_deletes_nothing(zones, istv_home, board, monkeypatch):
    monkeypatch.setenv(
        "ISTV_AGREEMENT", str(board.variant("short", lambda a: a["retention"].update(landing=1), signed=False))
    )
    result = CliRunner().invoke(cli, ["retention"])
    assert result.exit_code == 1 and "is not signed" in result.output and "Traceback" not in result.output
    assert all(p.exists() for p in zones["old"])
    entry = reader(istv_home).entries()[-1]
    assert entry.kind == "verification_failure" and entry.details["step"] == "retention"


@op
def _noop() -> None:
    pass


@job
def _tiny():
    _noop()


def test_dagster_runs_go_once_their_period_has_passed(istv_home, instance, runs):
    run_id = _tiny.execute_in_process(instance=instance).run_id
    logs = _write(istv_home.dagster / "storage" / run_id / "compute_logs" / "_noop.out")
    retention = Retention(landing=90, quarantine=180, pseudonymised=730, dagster=100)
    ended = dt.date.fromtimestamp(instance.get_run_record_by_id(run_id).end_time)

    assert not plan_retention(istv_home, retention, ended + dt.timedelta(days=100), runs).due
    plan = plan_retention(istv_home, retention, ended + dt.timedelta(days=101), runs)
    assert [(d.zone, d.item) for d in plan.due] == [("dagster", f"run {run_id}")]
    assert plan.due[0].rule == f"100 days after the _tiny run ended on {ended}"

    outcome = apply_retention(istv_home, plan, runs, load_agreement())
    assert outcome.deleted["dagster"] == [f"run {run_id}"]
    assert instance.get_run_record_by_id(run_id) is None
    assert not logs.exists() and not instance.all_logs(run_id)
    assert reader(istv_home).entries()[-1].details["deleted_items"] == {"dagster": [f"run {run_id}"]}


def test_the_scheduled_job_deletes_what_is_due_and_audits_it(zones, istv_home, instance):
    from pipelines.definitions import defs

    result = defs.resolve_job_def("istv_retention").execute_in_process(instance=instance)
    assert result.success
    assert not any(p.exists() for p in zones["old"])
    assert all(p.exists() for p in zones["recent"] + zones["untouched"])
    entry = reader(istv_home).entries()[-1]
    assert entry.kind == "retention" and entry.details["deleted"]["pseudonymised"] == 3
