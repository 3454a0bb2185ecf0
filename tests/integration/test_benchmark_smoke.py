"""The benchmark harness runs end to end at size tiny and reports every figure it promises,
issue 19's yardsticks (the DuckDB SQL peer, HMAC on every core) beside the earlier ones. No time
or memory target is asserted: this only checks that the harness works."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
STAGES = ("parse", "validate", "pseudonymise", "scan", "joint", "aggregate", "publish")
ISSUE_19_TARGETS = (
    "total_vs_peer_at_most_2",
    "pseudonymise_vs_hmac_all_cores_at_least_0.6",
    "peak_rss_under_1gib",
    "second_month_locates_in_a_fifth",
)
EARLIER_TARGETS = ("peak_rss_under_2gib", "total_vs_baseline_at_least_10", "pseudonymise_vs_hmac_limit_at_least_0.4")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "tiny.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--size", "tiny", "--out", str(out), "--work", str(folder / "work")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_every_stage_has_a_rate_and_a_peak(tiny_run):
    results, _ = tiny_run
    assert results["inputs"]["ed_rows"] == 200 and results["inputs"]["police_rows"] == 600
    for stage in STAGES:
        figures = results["stages"][stage]
        assert figures["rows_per_second"] > 0 and figures["peak_rss_mb"] > 0, stage
    assert results["total"]["rows_per_second"] > 0 and results["total"]["peak_rss_mb"] > 0
    assert results["stages"]["scan"]["findings"] == 0  # the leak scan ran and found nothing to stop


def test_baseline_and_limits_are_measured(tiny_run):
    results, _ = tiny_run
    assert results["baseline"]["rows_per_second"] > 0 and results["baseline"]["peak_rss_mb"] > 0
    assert results["limits"]["hmac"]["values_per_second"] > 0
    assert results["limits"]["arrow_csv"]["rows_per_second"] > 0 and results["limits"]["arrow_csv"]["mb_per_second"] > 0
    assert results["ratios"]["total_vs_baseline"] > 0 and results["ratios"]["pseudonymise_vs_hmac_limit"] > 0


def test_the_references_count_at_their_faster_of_two_runs(tiny_run):
    # Measured before and after the stages: a machine slowing during the run cannot flatter a ratio.
    results, printed = tiny_run
    baseline, hmac_limit = results["baseline"], results["limits"]["hmac"]
    assert len(baseline["rows_per_second_measured"]) == 2 and len(hmac_limit["values_per_second_measured"]) == 2
    assert baseline["rows_per_second"] == max(baseline["rows_per_second_measured"])
    assert hmac_limit["values_per_second"] == max(hmac_limit["values_per_second_measured"])
    assert "the faster of runs before and after the stages counts" in printed


def test_the_duckdb_sql_peer_is_measured_on_the_same_inputs(tiny_run):
    results, _ = tiny_run
    peer = results["peer"]
    assert peer["files"]["ed"]["rows"] == 200 and peer["files"]["police"]["rows"] == 600 and peer["rows"] == 800
    assert peer["seconds"] > 0 and peer["rows_per_second"] > 0 and peer["peak_rss_mb"] > 0
    measured = peer["rows_per_second_measured"]
    assert len(measured) == 2 and peer["rows_per_second"] == max(measured)


def test_the_all_core_hmac_limit_is_the_fastest_way_on_every_core(tiny_run):
    results, _ = tiny_run
    every = results["limits"]["hmac_all_cores"]
    assert every["cores"] == os.cpu_count()
    ways = (every["duckdb_sql_per_second"], every["python_processes_per_second"])
    assert min(ways) > 0 and every["values_per_second_all_cores"] == max(ways)
    assert every["values_per_second_all_cores"] == max(every["values_per_second_all_cores_measured"])
    assert results["limits"]["hmac"]["values_per_second"] > 0  # the single-core figure stays


def test_the_issue_19_ratios_and_targets_are_reported_beside_the_earlier_ones(tiny_run):
    results, printed = tiny_run
    ratios = results["ratios"]
    assert ratios["total_vs_peer"] > 0 and ratios["pseudonymise_vs_hmac_all_cores"] > 0
    assert ratios["total_vs_baseline"] > 0 and ratios["pseudonymise_vs_hmac_limit"] > 0
    for key in (*ISSUE_19_TARGETS, *EARLIER_TARGETS):
        check = results["target_checks"][key]
        assert check["figure"] > 0 and results["targets"][key] == check["met"]
        assert check["missed_by"] == 0 if check["met"] else check["missed_by"] > 0
    assert "targets (issue 19):" in printed and "earlier targets:" in printed
    target_lines = [line for line in printed.splitlines() if "; target " in line]
    assert len(target_lines) == len(ISSUE_19_TARGETS) + len(EARLIER_TARGETS)
    assert all(line.endswith(": met") or ": MISSED by " in line for line in target_lines)


def test_a_second_month_is_located_with_what_the_first_learned(tiny_run):
    results, printed = tiny_run
    relocated = results["relocate"]
    assert relocated["rows"] > 0 and relocated["first_seconds"] > 0 and relocated["second_seconds"] > 0
    assert relocated["second_vs_first"] == relocated["second_seconds"] / relocated["first_seconds"]
    assert f"locating the ED month's {relocated['rows']:,} place texts" in printed


def test_printed_table_has_the_ratio_columns(tiny_run):
    _, printed = tiny_run
    assert "x baseline" in printed and "% HMAC limit" in printed
    assert "x peer time" in printed and "% all-core HMAC" in printed
    for stage in (*STAGES, "total", "naive baseline", "DuckDB SQL peer"):
        assert stage in printed
    assert "HMAC-SHA256 on all" in printed and "DuckDB SQL on" in printed
