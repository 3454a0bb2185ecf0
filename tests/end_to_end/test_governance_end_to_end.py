"""A governance board's view across agreement versions: two months under v1, a third under a
signed v2 that drops a field; the audit log verifies, the report shows both versions and the
change, and tampering with the real log is caught at the right entry."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.synthetic import generate_month

pytestmark = pytest.mark.slow
MONTHS = ("2026-07", "2026-08", "2026-09")


@pytest.fixture
def three_months(board, istv_home, tmp_path, monkeypatch):
    runner = CliRunner()
    for key in istv_home.keys.iterdir():
        key.unlink()
    assert runner.invoke(cli, ["keys", "generate"]).exit_code == 0

    def run(month):
        paths = generate_month(month, tmp_path / month, seed=5, ed_rows=80)
        for source in ("ed", "police"):
            assert runner.invoke(cli, ["ingest", str(paths[source]), "--source", source]).exit_code == 0
        result = runner.invoke(cli, ["run", "--month", month])
        assert result.exit_code == 0, result.output

    run(MONTHS[0])
    run(MONTHS[1])

    def v2(agreement):
        agreement["version"] = 2
        agreement["datasets"]["ed"]["fields"]["sex"] = {"action": "drop"}

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("v2", v2)))
    run(MONTHS[2])
    return runner


def test_report_shows_both_versions_and_the_change(three_months, istv_home):
    verify = three_months.invoke(cli, ["audit", "verify"])
    assert verify.exit_code == 0 and "audit log verified" in verify.output
    analysts = istv_home.root / "reports"  # the monthly hotspot reports the runs wrote, and nothing else
    before = sorted(analysts.rglob("*")) if analysts.exists() else []
    assert not any(p.name.startswith("audit") for p in before)
    report = three_months.invoke(cli, ["audit", "report"])
    assert report.exit_code == 0, report.output
    # Exact counts: in the audit zone for the board, never in the folder analysts read.
    assert (sorted(analysts.rglob("*")) if analysts.exists() else []) == before
    assert istv_home.audit_report_file.parent == istv_home.audit / "reports"
    assert str(istv_home.audit_report_file) in report.output.replace("\n", "")
    text = istv_home.audit_report_file.read_text()
    assert "exact counts, for the governance board only" in text.splitlines()[0]
    assert "## Agreement cardiff-violence-prevention version 1" in text
    assert "## Agreement cardiff-violence-prevention version 2" in text
    assert "- ed: field sex was kept, is now dropped." in text
    v1, v2 = text.split("version 2", 1)
    ed = "| ed | Cardiff and Vale University Health Board (7A4BV) |"
    assert f"{ed} 2026-07 |" in v1 and f"{ed} 2026-08 |" in v1 and f"{ed} 2026-09 |" in v2
    assert "| police | South Wales Police | 2026-07 |" in v1 and "| SWP |" not in text
    # One row per run, each with its Dagster run id, each the month's first publish.
    runs = re.findall(r"^\| [\d-]+ [\d:]+ \| ([0-9a-f]{8}) \| (\d{4}-\d\d) \| ([^|]+) \|", text, re.MULTILINE)
    assert sorted((month, result.strip()) for _, month, result in runs) == [(m, "published") for m in MONTHS]


def _fails_at(runner, expected: str):
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert expected in result.output, result.output


def test_tampering_with_the_real_log_is_caught_at_the_right_entry(three_months, istv_home):
    log = istv_home.audit / "log.jsonl"
    original = log.read_text().splitlines()

    def tampered(change):
        lines = list(original)
        change(lines)
        log.write_text("\n".join(lines) + "\n")

    publish = next(i for i, line in enumerate(original) if json.loads(line)["kind"] == "publish")

    def edit(lines):
        entry = json.loads(lines[publish])
        entry["details"]["tables"]["hotspot_cells"]["cells_suppressed"] += 1
        lines[publish] = json.dumps(entry, separators=(",", ":"))

    tampered(edit)
    _fails_at(three_months, f"entry {publish + 1} (line {publish + 1}) was altered")
    tampered(lambda lines: lines.pop(3))
    _fails_at(three_months, "entry 4")
    tampered(lambda lines: lines.insert(6, lines[2]))
    _fails_at(three_months, "line 7")
    tampered(lambda lines: lines.__setitem__(slice(5, 7), [lines[6], lines[5]]))
    _fails_at(three_months, "line 6")
    tampered(lambda lines: lines.__delitem__(slice(-2, None)))
    _fails_at(three_months, "entries were removed from the end")

    tampered(lambda lines: None)
    assert three_months.invoke(cli, ["audit", "verify"]).exit_code == 0

    for key in istv_home.keys.iterdir():
        assert key.read_bytes().strip() not in log.read_bytes()
    kinds = {json.loads(line)["kind"] for line in original}
    assert {"key_event", "delivery", "ingest", "agreement_loaded", "pseudonymise", "publish"} <= kinds


def test_report_tells_a_rerun_and_a_failed_run_from_a_sharing(board, istv_home, tmp_path, monkeypatch):
    """A month run twice from the same deliveries reads as shared once; a run that failed reads as
    failed; each row carries the run id Dagster gave it."""
    from dagster import DagsterInstance

    runner = CliRunner()
    month = "2026-07"
    paths = generate_month(month, tmp_path, seed=6, ed_rows=60)
    for source in ("ed", "police"):
        assert runner.invoke(cli, ["ingest", str(paths[source]), "--source", source]).exit_code == 0
    for _ in range(2):
        assert runner.invoke(cli, ["run", "--month", month]).exit_code == 0
    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("unsigned", signed=False)))
    assert runner.invoke(cli, ["run", "--month", month]).exit_code == 1
    monkeypatch.delenv("ISTV_AGREEMENT")

    assert runner.invoke(cli, ["audit", "report"]).exit_code == 0
    text = istv_home.audit_report_file.read_text()
    with DagsterInstance.get() as instance:
        ids = sorted(run.run_id[:8] for run in instance.get_runs())
    rows = re.findall(r"^\| [\d-]+ [\d:]+ \| ([0-9a-f]{8}) \| 2026-07 \| ([^|]+) \|", text, re.MULTILINE)
    assert sorted(run_id for run_id, _ in rows) == ids and len(ids) == 3
    # The entries name their run themselves, so the ids outlive Dagster's run history.
    written = [json.loads(line) for line in (istv_home.audit / "log.jsonl").read_text().splitlines()]
    publishes = [e["details"] for e in written if e["kind"] == "publish"]
    assert len(publishes) == 2 and {d["run_id"][:8] for d in publishes} < set(ids)
    results = [result.strip() for _, result in rows]
    assert results[0] == "published"
    assert results[1].startswith(f"re-run of the same delivery as run {rows[0][0]}")
    assert "failed: nothing published" in results[2]
    deliveries = text.split("### Deliveries shared", 1)[1].split("### Runs", 1)[0]
    assert deliveries.count("| 2026-07 |") == 2  # the ED and the police delivery, each once
    assert "| Agreement signature failed: " in text and re.search(r"Agreement signature failed: [^|]+\| 1 \|", text)
