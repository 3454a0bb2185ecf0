"""`istv interventions evaluate`: from the row-level joint zone to the protected table
intervention_effects in the warehouse, with no count in it."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from click.testing import CliRunner

from outcomes.publish import COLUMNS, TABLE
from pipelines.cli import cli
from sharing_agreements.auditing import reader
from tests.unit.outcomes.synthetic_months import (
    MONTHS,
    area_cells,
    joint_rows,
    monthly_counts,
    treated_venues,
    venue_cell,
)


@pytest.fixture
def zone(istv_home, monkeypatch):
    """24 months of a joint zone with a 30% drop planted at three venues from month 13, and the
    venues registered as an intervention."""
    from rich.console import Console

    from pipelines.commands import interventions

    monkeypatch.delenv("ISTV_AGREEMENT", raising=False)
    monkeypatch.setattr(interventions, "console", Console(width=400, soft_wrap=True))
    venues = treated_venues(area_cells())
    counts = monthly_counts(seed=7, treated_cells=[venue_cell(v) for v in venues], effect=-0.3)
    for month in MONTHS:
        file = istv_home.pseudonymised_file("joint", month)
        file.parent.mkdir(parents=True, exist_ok=True)
        joint_rows(counts, month).to_parquet(file, index=False)
    runner = CliRunner()
    places = [arg for v in venues for arg in ("--place", v)]
    added = runner.invoke(
        cli,
        ["interventions", "add", "glass", "--kind", "toughened_glass", *places, "--start", f"{MONTHS[12]}"]
        + ["--owner", "Cardiff CSP"],
    )
    assert added.exit_code == 0, added.output
    return runner


def published(istv_home) -> tuple[list[dict], dict[str, str], str]:
    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        result = con.execute(f"SELECT * FROM {TABLE} ORDER BY month")
        rows = [dict(zip([d[0] for d in result.description], r)) for r in result.fetchall()]
        comments = dict(
            con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [TABLE]).fetchall()
        )
        (table_comment,) = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = ?", [TABLE]).fetchone()
    return rows, comments, table_comment


def test_evaluate_publishes_the_protected_effect_and_no_count(zone, istv_home):
    result = zone.invoke(cli, ["interventions", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "fell by about" in result.output and "2026-12" in result.output

    rows, comments, table_comment = published(istv_home)
    assert list(rows[0]) == list(COLUMNS)
    assert not [c for c in rows[0] if any(w in c for w in ("count", "incident", "record", "assault", "violence"))]
    assert set(comments) == set(COLUMNS) and all(comments.values()) and "no count is published" in table_comment
    (row,) = rows
    assert (str(row["month"]), row["intervention_id"], row["months_before"], row["months_after"]) == (
        "2026-12-01",
        "glass",
        12,
        12,
    )
    assert row["verdict"].startswith("fell by about") and row["ci_low_pct"] <= -30 <= row["ci_high_pct"]
    assert all(v % 5 == 0 for k, v in row.items() if k.endswith("_pct") and v is not None)
    assert (row["agreement_id"], row["agreement_version"]) == ("cardiff-violence-prevention", 1)

    shown = zone.invoke(cli, ["interventions", "show", "glass"])
    assert "Latest evaluation, 2026-12: fell by about" in shown.output
    (entry,) = [e for e in reader(istv_home).entries() if e.kind == "intervention_effects"]
    assert entry.details["month"] == "2026-12" and entry.details["interventions"] == 1


def test_each_month_evaluated_is_kept_and_replaced_on_its_own(zone, istv_home):
    assert zone.invoke(cli, ["interventions", "evaluate", "--month", "2026-02"]).exit_code == 0
    assert zone.invoke(cli, ["interventions", "evaluate"]).exit_code == 0
    assert zone.invoke(cli, ["interventions", "evaluate", "--month", "2026-02"]).exit_code == 0
    rows, _, _ = published(istv_home)
    assert [(str(r["month"]), r["verdict"]) for r in rows][0] == ("2026-02-01", "too early")
    assert [str(r["month"]) for r in rows] == ["2026-02-01", "2026-12-01"]
    assert rows[0]["effect_pct"] is None and rows[0]["months_after"] == 2


def test_a_month_the_zone_does_not_hold_is_refused(zone):
    result = zone.invoke(cli, ["interventions", "evaluate", "--month", "2027-06"])
    assert result.exit_code == 1 and "holds no data for 2027-06 (it holds 2025-01 to 2026-12)" in result.output


def test_an_empty_register_is_refused(istv_home, monkeypatch):
    monkeypatch.delenv("ISTV_AGREEMENT", raising=False)
    result = CliRunner().invoke(cli, ["interventions", "evaluate"])
    assert result.exit_code == 1 and "register is empty" in result.output


def test_a_warehouse_held_open_by_a_reader_fails_in_one_line(zone, istv_home):
    assert zone.invoke(cli, ["interventions", "evaluate"]).exit_code == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); print(1, flush=True); input()",
        ]
        + [str(istv_home.warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "1"
        result = zone.invoke(cli, ["interventions", "evaluate"])
    finally:
        holder.communicate("\n", timeout=30)
    assert result.exit_code == 1
    assert "is open in another program" in result.output and len(result.output.strip().splitlines()) == 1


def test_nothing_is_evaluated_under_an_agreement_that_does_not_permit_the_table(zone, istv_home, board, monkeypatch):
    def without_the_table(raw):
        raw["published_tables"].remove("intervention_effects")

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("no-effects", without_the_table)))
    result = zone.invoke(cli, ["interventions", "evaluate"])
    assert result.exit_code == 1 and "does not permit the table intervention_effects" in result.output
    assert not istv_home.warehouse.exists()
