"""The pipeline refuses to move data under anything but a valid, signed agreement in force,
publishes only what the agreement permits, and rotates pseudonyms with the agreement version."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from ingest.landing import place
from pipelines.cli import cli
from pipelines.runs import run_month
from sharing_agreements.model import load_agreement
from sharing_agreements.signing import generate_board_key, load_private_key, sign
from tests.conftest import DATA

OCTOBER = dt.date(2018, 10, 1)
POLICE_UK = DATA / "police_uk" / "2018-10-south-wales-street.csv"


def _check(path):
    return CliRunner().invoke(cli, ["agreements", "check", str(path)])


def test_the_bundled_agreement_is_signed_and_in_force(board):
    result = _check(load_agreement.__defaults__[0])
    assert result.exit_code == 0, result.output
    assert "signed by Cardiff Community Safety Partnership Board" in result.output


@pytest.mark.parametrize(
    "name, change, signed, message",
    [
        ("unsigned", lambda a: None, False, "is not signed: a governance board must sign it"),
        (
            "not-yet",
            lambda a: a.update(valid_from=dt.date(2030, 1, 1)),
            True,
            "is not yet valid: it starts on 2030-01-01",
        ),
        (
            "expired",
            lambda a: a.update(valid_from=dt.date(2019, 1, 1), valid_to=dt.date(2020, 1, 1)),
            True,
            "expired on 2020-01-01",
        ),
    ],
)
def test_refusals(board, name, change, signed, message):
    result = _check(board.variant(name, change, signed))
    assert result.exit_code == 1 and message in result.output


def test_an_agreement_altered_after_signing_is_refused(board):
    path = board.variant("altered")
    path.write_text(path.read_text().replace("rounding_base: 5", "rounding_base: 1"))
    result = _check(path)
    assert result.exit_code == 1
    assert "has been altered since Test Board signed it" in result.output


def test_reformatting_an_agreement_keeps_its_signature(board):
    path = board.variant("reformatted")
    path.write_text("# a comment the board added\n" + path.read_text())
    assert _check(path).exit_code == 0


def test_an_unknown_signer_is_refused(board, tmp_path):
    path = board.variant("stranger", signed=False)
    generate_board_key(tmp_path / "stranger.pem", tmp_path / "stranger.pub")
    sign(path, load_agreement(path), load_private_key(tmp_path / "stranger.pem"), "Someone Else")
    result = _check(path)
    assert result.exit_code == 1 and "signed by an unknown key" in result.output and "Someone Else" in result.output


def test_a_field_the_schema_does_not_know_is_refused_with_its_line(board):
    path = board.variant(
        "unknown-field", lambda a: a["datasets"]["ed"]["fields"].update(shoe_size={"action": "keep"}), signed=False
    )
    result = _check(path)
    assert result.exit_code == 1 and "shoe_size" in result.output and "does not declare" in result.output
    bad_action = board.variant(
        "bad-action", lambda a: a["datasets"]["ed"]["fields"].update(sex={"action": "share"}), signed=False
    )
    result = _check(bad_action)
    line = next(i for i, text in enumerate(bad_action.read_text().splitlines(), 1) if "action: share" in text)
    assert f"line {line}" in result.output and "datasets.ed.fields.sex.action" in result.output


def test_a_run_under_a_refused_agreement_moves_nothing(board, istv_home, monkeypatch):
    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("unsigned-run", signed=False)))
    place(istv_home, "police_uk", OCTOBER, POLICE_UK)
    result = run_month(OCTOBER, istv_home)
    assert not result.success
    assert not istv_home.warehouse.exists()
    assert not any(istv_home.pseudonymised.rglob("*.parquet"))


def test_diff_names_the_field_change(board):
    v2 = board.variant(
        "v2", lambda a: (a.update(version=2), a["datasets"]["ed"]["fields"].update(sex={"action": "drop"}))
    )
    result = CliRunner().invoke(cli, ["agreements", "diff", str(load_agreement.__defaults__[0]), str(v2)])
    assert result.exit_code == 0
    assert "Version 1 becomes version 2." in result.output
    assert "(ed) may no longer share field sex: it is now dropped (it was kept)." in result.output


@pytest.mark.slow
def test_withheld_tables_are_not_published_and_versions_do_not_link(board, istv_home, monkeypatch):
    place(istv_home, "police_uk", OCTOBER, POLICE_UK)
    assert run_month(OCTOBER, istv_home).success
    v1 = pd.read_parquet(istv_home.pseudonymised_file("police_uk", OCTOBER))

    def v2(a):
        a.update(version=2)
        a["published_tables"].remove("hour_of_week")

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("v2", v2)))
    istv_home.warehouse.unlink()
    assert run_month(OCTOBER, istv_home).success
    second = pd.read_parquet(istv_home.pseudonymised_file("police_uk", OCTOBER))
    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        versions = con.execute("SELECT DISTINCT agreement_version FROM hotspot_cells").fetchall()
    assert "hour_of_week" not in tables and "hotspot_cells" in tables
    assert versions == [(2,)]
    assert len(v1) == len(second) > 0
    assert set(v1.crime_id_pseudonym.dropna()).isdisjoint(set(second.crime_id_pseudonym.dropna()))


@pytest.mark.slow
def test_an_agreement_that_keeps_an_identifier_is_stopped_by_the_leak_scan(board, istv_home, monkeypatch, tmp_path):
    from pipelines.synthetic import generate_month

    month = dt.date(2026, 5, 1)
    leaky = board.variant("leaky", lambda a: a["datasets"]["ed"]["fields"].update(nhs_number={"action": "keep"}))
    monkeypatch.setenv("ISTV_AGREEMENT", str(leaky))
    paths = generate_month("2026-05", tmp_path, seed=3, ed_rows=80)
    place(istv_home, "ed", month, paths["ed"])
    result = run_month(month, istv_home)
    assert not result.success
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    leak = next(
        e.event_specific_data
        for e in checks
        if e.event_specific_data.check_name == "no_identifiers"
        and e.event_specific_data.asset_key.to_user_string() == "ed_pseudonymised"
    )
    assert not leak.passed
    assert "nhs_number in column nhs_number" in leak.metadata["where"].value
    assert not istv_home.warehouse.exists()


def _show(path):
    return CliRunner().invoke(cli, ["agreements", "show", str(path)])


def test_the_review_names_the_cell_key_method_and_the_public_source(board):
    from sharing_agreements.review import summary_lines

    lines = summary_lines(load_agreement())
    method = next(line for line in lines if line.startswith("Disclosure control:"))
    assert "cell-key" in method and "at most 4 (variance 2)" in method
    assert "1 to 7" not in method and "rounded" not in method
    assert "Public sources, counted exactly (never perturbed or rounded): police_uk" in lines
    assert "Differential privacy: not declared" in lines
    shown = _show(load_agreement.__defaults__[0])
    assert shown.exit_code == 0 and "cell-key perturbation" in shown.output and "police_uk" in shown.output


def test_the_review_describes_suppression_with_the_agreements_own_values(board):
    def strict(a):
        a["disclosure_control"].update(method="suppress_and_round", suppression_threshold=10, rounding_base=10)
        a["datasets"]["police_uk"]["public"] = False

    result = _show(board.variant("strict", strict, signed=False))
    assert result.exit_code == 0, result.output
    assert (
        "suppression and rounding: counts 1 to 10 are withheld (suppressed), the others rounded to the nearest 10"
        in result.output
    )
    assert "1 to 7" not in result.output and "nearest 5" not in result.output and "cell-key" not in result.output
    assert "Public sources: none declared" in result.output


def test_the_review_gives_differential_privacy_epsilon_and_budget(board):
    path = board.variant(
        "dp",
        lambda a: a["disclosure_control"].update(differential_privacy={"epsilon": 0.5, "budget_per_month": 1.5}),
        signed=False,
    )
    result = _show(path)
    assert result.exit_code == 0, result.output
    assert "Differential privacy: epsilon 0.5 per published count, at most 1.5 per month" in result.output
