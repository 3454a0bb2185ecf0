"""The `istv` command line as a data officer and an analyst use it."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from tests.conftest import DATA

POLICE_UK = DATA / "police_uk" / "2018-10-south-wales-street.csv"


@pytest.fixture
def runner(istv_home):
    return CliRunner()


def test_every_command_has_help(runner):
    for command in (
        ["generate"],
        ["ingest"],
        ["run"],
        ["hotspots"],
        ["query"],
        ["keys", "generate"],
        ["quarantine", "list"],
        ["demo"],
        ["retention"],
    ):
        result = runner.invoke(cli, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_the_command_line_loads_dagster_only_for_a_command_that_runs_a_month():
    """An analyst's `istv query` or `istv --help` starts in a fraction of a second: Dagster, the
    slowest import by far, is loaded by the commands that run a month, not by the command line."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; import pipelines.cli; print('dagster' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False", loaded.stderr


def test_ingest_works_out_the_month_and_lands_the_file(runner, istv_home):
    result = runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"])
    assert result.exit_code == 0, result.output
    assert "police_uk extract of South Wales Police for 2018-10" in result.output
    landed = istv_home.landing_dir("police_uk", dt.date(2018, 10, 1)) / "South_Wales_Police"
    assert (landed / POLICE_UK.name).read_bytes() == POLICE_UK.read_bytes()
    assert (landed / (POLICE_UK.name + ".manifest.json")).exists()


def test_ingest_of_the_wrong_kind_of_file_says_what_is_wrong(runner, istv_home):
    result = runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "ed"])
    assert result.exit_code == 1
    assert "line 1" in result.output and "REPORTING PERIOD START DATE" in result.output
    assert "Traceback" not in result.output
    assert not any(istv_home.landing.rglob("*.csv"))


def test_a_redelivery_supersedes_the_earlier_file(runner, istv_home, tmp_path):
    first = tmp_path / "oct.csv"
    first.write_bytes(POLICE_UK.read_bytes())
    corrected = tmp_path / "oct-corrected.csv"
    corrected.write_bytes(POLICE_UK.read_bytes().rsplit(b"\n", 2)[0] + b"\n")
    assert runner.invoke(cli, ["ingest", str(first), "--source", "police_uk"]).exit_code == 0
    assert runner.invoke(cli, ["ingest", str(corrected), "--source", "police_uk"]).exit_code == 0
    landed = istv_home.landing_dir("police_uk", dt.date(2018, 10, 1)) / "South_Wales_Police"
    assert [p.name for p in landed.glob("*.csv")] == ["oct-corrected.csv"]
    assert len(list((landed / "superseded").glob("*.csv"))) == 1


def test_the_same_file_twice_is_refused(runner, istv_home):
    assert runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"]).exit_code == 0
    again = runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"])
    assert again.exit_code == 1 and "already ingested for 2018-10" in again.output
    log = (istv_home.audit / "log.jsonl").read_text()
    assert '"duplicate_refused"' in log


def test_bad_month_is_refused(runner):
    result = runner.invoke(cli, ["run", "--month", "October"])
    assert result.exit_code == 2 and "YYYY-MM" in result.output


def test_hotspots_before_any_run_says_what_to_do(runner):
    result = runner.invoke(cli, ["hotspots", "--month", "2018-10"])
    assert result.exit_code == 1 and "istv run --month" in result.output


def test_without_keys_nothing_moves_and_the_message_says_what_to_do(runner, istv_home):
    assert runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"]).exit_code == 0
    for key in istv_home.keys.iterdir():
        key.unlink()
    ingest = runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"])
    assert ingest.exit_code == 1 and "no audit signing key" in ingest.output
    run = runner.invoke(cli, ["run", "--month", "2018-10"])
    assert run.exit_code == 1
    assert "key" in run.output and "istv keys generate" in run.output
    assert not istv_home.warehouse.exists()


@pytest.mark.slow
def test_run_hotspots_and_query(runner, istv_home, tmp_path):
    from pipelines.synthetic import generate_month

    ed = generate_month("2018-10", tmp_path, seed=4, ed_rows=200)["ed"]
    for file, source in ((POLICE_UK, "police_uk"), (ed, "ed")):
        assert runner.invoke(cli, ["ingest", str(file), "--source", source]).exit_code == 0
    run = runner.invoke(cli, ["run", "--month", "2018-10"])
    assert run.exit_code == 0, run.output
    shown = runner.invoke(cli, ["hotspots", "--month", "2018-10", "--limit", "3"])
    assert shown.exit_code == 0 and "Top hotspot cells, 2018-10" in shown.output
    # Open data places no police record at a venue: not available, never withheld ("—") or 0.
    venues = shown.output.split("Top venues by ED assaults, 2018-10")[1]
    assert "n/a" in venues and "—" not in venues
    assert (
        "n/a: not available (not withheld): the police records this month are data.police.uk open data, which have "
        "no location description"
    ) in " ".join(venues.split())
    query = runner.invoke(cli, ["query", "SELECT count(*) AS n FROM hour_of_week"])
    assert query.exit_code == 0 and "168" in query.output
    risk = runner.invoke(cli, ["risk", "--month", "2018-10"])
    assert risk.exit_code == 0 and "target_k" in risk.output and "smallest_group_sizes" in risk.output
    bad = runner.invoke(cli, ["query", "SELECT * FROM no_such_table"])
    assert bad.exit_code == 1 and "no_such_table" in bad.output


@pytest.mark.slow
def test_saved_queries_and_output_formats(runner, istv_home, tmp_path):
    import pandas as pd

    assert runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"]).exit_code == 0
    assert runner.invoke(cli, ["run", "--month", "2018-10"]).exit_code == 0
    listed = runner.invoke(cli, ["query", "--list"])
    assert listed.exit_code == 0 and "top_cells" in listed.output
    latest = runner.invoke(cli, ["query", "--saved", "top_cells"])
    assert latest.exit_code == 0 and "No --month given: showing 2018-10" in latest.output
    out = tmp_path / "top.parquet"
    saved = runner.invoke(
        cli, ["query", "--saved", "top_cells", "--month", "2018-10", "--format", "parquet", "--out", str(out)]
    )
    assert saved.exit_code == 0, saved.output
    top = pd.read_parquet(out)
    assert list(top["rank"])[:3] == sorted(top["rank"])[:3] and len(top) > 3
    csv = runner.invoke(
        cli, ["query", "SELECT month, count(*) AS cells FROM hotspot_cells GROUP BY month", "--format", "csv"]
    )
    assert csv.exit_code == 0 and csv.output.splitlines()[0] == "month,cells"
    assert csv.output.splitlines()[1].startswith("2018-10-01,")  # a DATE, shown as the date it is


def test_scan_finds_planted_values_and_never_prints_them(runner, tmp_path):
    clean = tmp_path / "clean.csv"
    clean.write_text("month,cell_id,ed_assaults\n2026-09-01,89195879b4bffff,10\n")
    assert runner.invoke(cli, ["scan", str(clean)]).exit_code == 0
    dirty = tmp_path / "dirty"
    dirty.mkdir()
    (dirty / "notes.txt").write_text("patient 943 476 5919 lives at CF24 4HU, phone 07700 900461\n")
    result = runner.invoke(cli, ["scan", str(dirty)])
    assert result.exit_code == 1
    assert "nhs_number" in result.output and "postcode" in result.output and "phone" in result.output
    for value in ("943 476 5919", "CF24 4HU", "07700 900461"):
        assert value not in result.output


def test_keys_list_and_rotate(runner, istv_home):
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0 and "active" in listed.output
    secret_before = (istv_home.keys / "pseudonym.key").read_text()
    rotated = runner.invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    listed = runner.invoke(cli, ["keys", "list"])
    assert "retired" in listed.output and "active" in listed.output
    for secret in __import__("json").loads((istv_home.keys / "pseudonym.key").read_text())["keys"]:
        assert secret["secret"] not in listed.output and secret["secret"] not in rotated.output
    assert secret_before != (istv_home.keys / "pseudonym.key").read_text()


def test_audit_report_goes_to_the_audit_zone_never_to_the_analysts_reports(runner, istv_home):
    assert runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"]).exit_code == 0
    result = runner.invoke(cli, ["audit", "report"])
    assert result.exit_code == 0, result.output
    written = istv_home.audit_report_file
    assert written.is_file() and written.parent == istv_home.audit / "reports"
    assert str(written) in result.output.replace("\n", "")
    assert not (istv_home.root / "reports").exists() or not any((istv_home.root / "reports").rglob("*"))
    assert istv_home.reports == istv_home.root / "reports"
    text = written.read_text(encoding="utf-8")
    heading = text.splitlines()[0]
    assert heading.startswith("# ") and "exact counts" in heading and "governance board only" in heading
    assert "do not circulate" in text.lower()
    assert written.stat().st_mode & 0o077 == 0  # the board's eyes only, on a shared machine too


def test_audit_report_refuses_the_analysts_reports_folder(runner, istv_home):
    result = runner.invoke(cli, ["audit", "report", "--out", str(istv_home.reports / "audit.md")])
    assert result.exit_code == 1 and "exact counts" in result.output
    assert not istv_home.reports.exists() or not any(istv_home.reports.rglob("*"))


def test_hotspots_note_reads_the_policy_of_the_agreement_in_force(board, istv_home, monkeypatch):
    from pipelines.commands.warehouse import _disclosure_note
    from sharing_agreements.model import load_agreement

    bundled = load_agreement()
    rows = [(bundled.id, bundled.version)]
    note = _disclosure_note(rows)
    assert note == bundled.disclosure_control.policy().legend()
    assert "suppress" not in note and "perturbed" in note

    def suppress_10(raw):
        raw["disclosure_control"].update(method="suppress_and_round", suppression_threshold=10, rounding_base=10)

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("suppress-10", suppress_10, signed=False)))
    note = _disclosure_note(rows)
    assert "1 to 10" in note and "nearest 10" in note and "7" not in note and "5" not in note
    assert "another v4" in _disclosure_note([("another", 4)])


def test_hotspots_of_a_month_without_police_data_say_not_available(runner, istv_home, tmp_path):
    from pipelines.synthetic import generate_month

    ed = generate_month("2026-10", tmp_path, seed=6, ed_rows=200)["ed"]
    assert runner.invoke(cli, ["ingest", str(ed), "--source", "ed"]).exit_code == 0
    assert runner.invoke(cli, ["run", "--month", "2026-10"]).exit_code == 0
    shown = runner.invoke(cli, ["hotspots", "--month", "2026-10", "--limit", "3"])
    cells = shown.output.split("Top hotspot cells, 2026-10")[1].split("Top venues")[0]
    assert shown.exit_code == 0 and "n/a" in cells and "—" not in cells
    assert "n/a: not available (not withheld): no police data was shared for this month" in " ".join(
        shown.output.split()
    )
