"""The benchmark harness runs end to end at size tiny and reports every figure it promises.
No time or memory target is asserted: this only checks that the harness works."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow
STAGES = ("parse", "validate", "pseudonymise", "scan", "joint", "aggregate", "publish")


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


def test_printed_table_has_the_ratio_columns(tiny_run):
    _, printed = tiny_run
    assert "x baseline" in printed and "% HMAC limit" in printed
    for stage in (*STAGES, "total", "naive baseline"):
        assert stage in printed
