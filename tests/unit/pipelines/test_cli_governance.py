"""The governance commands as a board and a data officer meet them: every refusal at ingest lands
in the audit log with its kind and no value from the file, the board's report counts each kind,
and `agreements show` and `diff` speak plain words."""

from __future__ import annotations

import csv
import json
import re

import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from sharing_agreements.model import DEFAULT_AGREEMENT
from tests.conftest import DATA

POLICE_UK = DATA / "police_uk" / "2018-10-south-wales-street.csv"
CITY_OF_LONDON = DATA / "police_uk" / "2024-06-city-of-london-street.csv"
PYTHON = re.compile(r"[{}\[\]=]|\bNone\b")


@pytest.fixture
def runner(istv_home):
    return CliRunner()


def _log(home) -> list[dict]:
    path = home.audit / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _refusals(home) -> dict[str, str]:
    """File -> the refusal its delivery_refused entry names."""
    return {e["details"]["file"]: e["details"]["refusal"] for e in _log(home) if e["kind"] == "delivery_refused"}


def test_every_refusal_at_ingest_is_audited_with_its_kind(runner, istv_home, tmp_path, board, monkeypatch):
    from pipelines.synthetic import generate_month

    paths = generate_month("2026-07", tmp_path, seed=2, ed_rows=40)
    empty = tmp_path / "empty.csv"
    empty.write_text("")

    def ingest(file, source, *more):
        result = runner.invoke(cli, ["ingest", str(file), "--source", source, *more])
        assert result.exit_code == 1, result.output
        return result

    ingest(paths["ed"], "police")  # an ED extract declared as the police one
    ingest(empty, "ed")
    ingest(paths["police"], "police", "--month", "2026-05")
    ingest(CITY_OF_LONDON, "police_uk")
    assert runner.invoke(cli, ["ingest", str(POLICE_UK), "--source", "police_uk"]).exit_code == 0
    ingest(POLICE_UK, "police_uk")
    monkeypatch.setenv(
        "ISTV_AGREEMENT",
        str(board.variant("expired", lambda a: a.update(valid_from="2019-01-01", valid_to="2020-01-01"))),
    )
    ingest(paths["police"], "police")
    monkeypatch.delenv("ISTV_AGREEMENT")

    assert _refusals(istv_home) == {
        "ed_2026-07.csv": "wrong_kind",
        "empty.csv": "unreadable",
        "police_2026-07.csv": "wrong_month",
    }
    kinds = [e["kind"] for e in _log(istv_home)]
    assert kinds.count("provider_refused") == 1 and kinds.count("duplicate_refused") == 1
    at_ingest = [e["details"] for e in _log(istv_home) if e["kind"] == "verification_failure"]
    assert (
        len(at_ingest) == 1 and at_ingest[0]["step"] == "ingest" and "expired on 2020-01-01" in at_ingest[0]["reason"]
    )
    assert at_ingest[0]["delivery"] == "police_2026-07.csv"

    # File names, never a row's contents: no value of the refused files is in the log.
    log = (istv_home.audit / "log.jsonl").read_text()
    for file in (paths["ed"], paths["police"]):
        with file.open(newline="") as rows:
            values = {v for row in list(csv.DictReader(rows))[:20] for v in row.values() if len(v) >= 6}
        assert values and not [v for v in values if v in log]

    report = runner.invoke(cli, ["audit", "report"])
    assert report.exit_code == 0, report.output
    text = istv_home.audit_report_file.read_text()
    counts = dict(re.findall(r"^\| ([^:|]+): [^|]+ \| (\d+) \|$", text, re.MULTILINE))
    assert counts == {
        "Duplicate delivery": "1",
        "Wrong kind of file": "1",
        "Damaged file": "1",
        "Wrong month": "1",
        "Provider not a party": "1",
        "Agreement not in force": "1",
        "Agreement signature failed": "0",
        "Agreement invalid": "0",
        "Privacy budget spent": "0",
        "Source missing from a re-release": "0",
    }
    # The landed delivery, waiting for its run, by the name the agreement gives its provider.
    assert "| police_uk | South Wales Police | 2018-10 |" in text and "waiting for a run of its month" in text


def test_show_prints_plain_words_and_explains_its_terms(runner):
    result = runner.invoke(cli, ["agreements", "show", str(DEFAULT_AGREEMENT)])
    assert result.exit_code == 0, result.output
    assert not PYTHON.search(result.output), PYTHON.search(result.output)
    assert 'pseudonymised under the key scope "person"' in result.output
    assert result.output.count("Key scope: fields pseudonymised under the same key scope") == 1
    assert "Dataset police_uk (only {" not in result.output and "differential_privacy" not in result.output


def test_diff_says_what_changed_in_sentences(runner, board):
    def v2(agreement):
        agreement["version"] = 2
        agreement["datasets"]["ed"]["fields"]["sex"] = {"action": "drop"}
        agreement["retention"]["quarantine"] = 30

    result = runner.invoke(cli, ["agreements", "diff", str(DEFAULT_AGREEMENT), str(board.variant("v2", v2))])
    assert result.exit_code == 0, result.output
    assert not PYTHON.search(result.output), PYTHON.search(result.output)
    assert "- Version 1 becomes version 2." in result.output
    assert "- Retention of the quarantine shortened from 180 to 30 days." in result.output
    assert "may no longer share field sex: it is now dropped (it was kept)." in result.output
    assert result.output.count("Retention: how many days each zone keeps data") == 1
