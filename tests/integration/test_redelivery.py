"""Re-delivery and faults: a corrected extract replaces the month, quarantined rows can be
exported and fixed, re-runs give identical tables, and a run killed mid-publish leaves the
warehouse as it was."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import signal
import time

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.runs import run_month
from pipelines.synthetic import generate_month
from schemas import schema_for_source
from sharing_agreements import auditing

pytestmark = pytest.mark.slow
MONTH = "2026-06"
WHEN = dt.date(2026, 6, 1)
TABLES = (
    "hotspot_cells",
    "hotspot_venues",
    "hour_of_week",
    "assault_methods",
    "monthly_trend",
    "hidden_violence",
    "coverage",
)


def _table_digest(warehouse) -> dict[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t: hashlib.sha256(
                con.execute(f"SELECT * FROM {t} ORDER BY ALL").df().to_csv(index=False).encode()
            ).hexdigest()
            for t in TABLES
        }


def _ingest(runner, path, source):
    result = runner.invoke(cli, ["ingest", str(path), "--source", source])
    assert result.exit_code == 0, result.output


def test_quarantine_export_fix_and_redeliver(istv_home, tmp_path):
    runner = CliRunner()
    paths = generate_month(MONTH, tmp_path / "first", seed=21, ed_rows=150)
    _ingest(runner, paths["ed"], "ed")
    _ingest(runner, paths["police"], "police")
    assert runner.invoke(cli, ["run", "--month", MONTH]).exit_code == 0
    first = json.loads(istv_home.summary_file("ed", WHEN).read_text())["files"][0]
    assert first["rows_quarantined"] > 0

    listed = runner.invoke(cli, ["quarantine", "list"])
    assert listed.exit_code == 0 and "ed/2026-06" in listed.output
    exported = tmp_path / "to-fix.csv"
    assert (
        runner.invoke(
            cli, ["quarantine", "export", "--source", "ed", "--month", MONTH, "--out", str(exported)]
        ).exit_code
        == 0
    )
    bad = pd.read_csv(exported, dtype=str, keep_default_na=False)
    assert len(bad) == first["rows_quarantined"]

    # The provider fixes the rows in its system and re-sends the whole month.
    schema = schema_for_source("ed")
    original = pd.read_csv(paths["ed"], dtype=str, keep_default_na=False)
    good = original.drop(index=bad["source_line"].astype(int) - 2)
    fixed = bad[[f.header for f in schema.fields]].copy()
    fixed["ASSAULT METHOD"] = "01"
    fixed["NHS NUMBER"] = ""
    fixed["ATTENDANCE IDENTIFIER"] = [f"EDFIX{i:05d}" for i in range(len(fixed))]
    fixed["ASSAULT DATE AND TIME"] = "12/06/2026 23:10"
    fixed["ARRIVAL DATE AND TIME AT A&E"] = "12/06/2026 23:50"
    fixed["PERSON BIRTH DATE"] = "01/01/1990"
    corrected = tmp_path / "ed_2026-06_corrected.csv"
    pd.concat([good, fixed]).to_csv(corrected, index=False)
    _ingest(runner, corrected, "ed")
    rerun = runner.invoke(cli, ["run", "--month", MONTH])
    assert rerun.exit_code == 0, rerun.output

    second = json.loads(istv_home.summary_file("ed", WHEN).read_text())["files"][0]
    assert second["rows_quarantined"] == 0 and second["rows_received"] == len(original)
    joint = pd.read_parquet(istv_home.pseudonymised_file("joint", WHEN))
    assert (joint.source == "ed").sum() + 0 <= len(original)  # replaced, not appended
    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM coverage WHERE source = 'ed'").fetchone()[0] == 1
        # A handful of fixed rows moves figures by fewer than 7 records: they keep their values, and coverage says so.
        (status,) = con.execute("SELECT release_status FROM coverage WHERE source = 'ed'").fetchone()
    assert status == "corrected"
    publishes = [e for e in auditing.reader(istv_home).entries() if e.kind == "publish"]
    assert [p.details["corrected_release"] for p in publishes] == [False, True]
    assert sum(publishes[1].details["figures_kept"].values()) > 0
    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT month) FROM hour_of_week").fetchone()[0] == 1
    deliveries = [json.loads(line) for line in (istv_home.audit / "log.jsonl").read_text().splitlines()]
    ed_deliveries = [e for e in deliveries if e["kind"] == "delivery" and e["details"]["source"] == "ed"]
    assert len(ed_deliveries) == 2 and ed_deliveries[1]["details"]["superseded"] == [first["sha256"]]
    assert list((istv_home.quarantine / "ed" / MONTH).glob("*")) == []


def test_a_rerun_gives_identical_tables(istv_home, tmp_path):
    runner = CliRunner()
    paths = generate_month(MONTH, tmp_path, seed=22, ed_rows=120)
    _ingest(runner, paths["ed"], "ed")
    _ingest(runner, paths["police"], "police")
    assert run_month(WHEN, istv_home).success
    before = _table_digest(istv_home.warehouse)
    assert run_month(WHEN, istv_home).success
    assert _table_digest(istv_home.warehouse) == before


def _publish_slowly(home_root: str, marker: str) -> None:
    """A run whose publish stalls after its first table, so the test can kill it there."""
    import warehouse.publish as publish_module

    original = publish_module._build

    def stalling(con, month, tables, has_live):
        original(con, month, tables, has_live)
        open(marker, "w").close()
        time.sleep(120)

    publish_module._build = stalling
    os.environ["ISTV_HOME"] = home_root
    from ingest.home import IstvHome

    run_month(WHEN, IstvHome.from_env())


def test_a_run_killed_mid_publish_leaves_the_warehouse_unchanged(istv_home, tmp_path):
    runner = CliRunner()
    paths = generate_month(MONTH, tmp_path / "one", seed=23, ed_rows=100)
    _ingest(runner, paths["ed"], "ed")
    _ingest(runner, paths["police"], "police")
    assert run_month(WHEN, istv_home).success
    clean = _table_digest(istv_home.warehouse)
    before = istv_home.warehouse.read_bytes()

    corrected = generate_month(MONTH, tmp_path / "two", seed=24, ed_rows=140)
    _ingest(runner, corrected["ed"], "ed")
    marker = tmp_path / "publishing"
    child = mp.get_context("spawn").Process(target=_publish_slowly, args=(str(istv_home.root), str(marker)))
    child.start()
    deadline = time.time() + 180
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert marker.exists(), "the child never reached the publish"
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert child.exitcode == -signal.SIGKILL

    assert istv_home.warehouse.read_bytes() == before
    assert _table_digest(istv_home.warehouse) == clean

    assert run_month(WHEN, istv_home).success
    after_kill = _table_digest(istv_home.warehouse)
    assert after_kill != clean  # the corrected delivery is published (figures that moved by 7 or more)
    assert run_month(WHEN, istv_home).success  # and publishing it again changes nothing
    assert _table_digest(istv_home.warehouse) == after_kill
