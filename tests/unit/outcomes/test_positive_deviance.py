"""Positive deviance on synthetic months: a fall planted in a few places where nothing is
registered is found, none is found where none was planted, the places next to a registered
intervention and the places with too few records never are, no count is published, and
`istv interventions evaluate` publishes positive_deviants that `istv interventions deviants` reads."""

from __future__ import annotations

import re

import duckdb
import h3
import pytest
from click.testing import CliRunner

from outcomes.deviance import COLUMNS, POSITIVE_DEVIANTS, Deviant, Search, deviant_rows, search
from outcomes.evaluate import BUFFER_RINGS, Estimate
from pipelines.cli import cli
from sharing_agreements.auditing import reader
from tests.unit.outcomes.synthetic_months import (
    CENTRE,
    MONTHS,
    RECENT,
    area_cells,
    joint_rows,
    monthly_counts,
    treated_venues,
    venue_cell,
)

THRESHOLD = 7  # the bundled agreement's suppression threshold
LAST = MONTHS[-1]
FEW = 30  # candidates tested here: enough for the planted places (the busiest), and fast
SEED = 3


@pytest.fixture(scope="module")
def venues() -> list[str]:
    return treated_venues(area_cells())


@pytest.fixture(scope="module")
def registered(venues) -> set[str]:
    """The cells of the registered intervention (three venues)."""
    return {venue_cell(v) for v in venues}


@pytest.fixture(scope="module")
def cluster(registered) -> list[str]:
    """Three neighbouring cells well away from the intervention: a street where something changed."""
    centre = next(
        c
        for c in area_cells()
        if h3.grid_distance(CENTRE, c) <= 5 and min(h3.grid_distance(c, v) for v in registered) >= 5
    )
    return [centre, *sorted(set(h3.grid_disk(centre, 1)) - {centre})[:2]]


@pytest.fixture(scope="module")
def next_door(registered) -> str:
    """A cell touching one of the intervention's."""
    return sorted(set(h3.grid_disk(sorted(registered)[0], 1)) - registered)[0]


def planted_counts(registered, cluster, next_door, seed=SEED):
    """A 30% drop at the intervention from month 13, and a 40% fall over the latest six months in
    the cluster and in the cell next door to the intervention: busy places (40 incidents a month),
    where a fall of that size stands out whatever the seed."""
    return monthly_counts(
        seed=seed,
        treated_cells=sorted(registered),
        effect=-0.3,
        deviant_cells=[*cluster, next_door],
        deviant_effect=-0.4,
        treated_level=40,
    )


@pytest.fixture(scope="module")
def planted(registered, cluster, next_door):
    return planted_counts(registered, cluster, next_door)


@pytest.fixture(scope="module")
def found(planted, registered) -> Search:
    return search(planted, LAST, registered, THRESHOLD, max_candidates=FEW)


def totals(counts, cell: str) -> tuple[int, int]:
    """The exact (before, after) records of a cell in the search's windows."""
    of = counts[counts["cell_id"] == cell]
    before = of[(of["month"] < RECENT) & (of["month"] >= MONTHS[-18])]["incidents"].sum()
    return int(before), int(of[of["month"] >= RECENT]["incidents"].sum())


def test_a_planted_fall_where_nothing_is_registered_is_found(found, cluster):
    assert (found.months_before, found.months_after, found.tested, found.reason) == (12, 6, FEW, None)
    cells = {d.cell for d in found.deviants}
    assert set(cluster) <= cells and len(cells - set(cluster)) <= 1
    rows = deviant_rows(found, THRESHOLD, "cardiff-violence-prevention", 1)
    assert {r["cell_id"] for r in rows} == cells
    for row in rows:
        assert row["verdict"].startswith("fell by about") and row["verdict"].endswith("more than comparable places")
        assert row["ci_low_pct"] <= row["change_pct"] < 0 and row["ci_high_pct"] <= 0
        assert all(row[k] % 5 == 0 for k in ("change_pct", "ci_low_pct", "ci_high_pct"))
        assert h3.latlng_to_cell(row["cell_lat"], row["cell_lon"], 9) == row["cell_id"]
    planted_rows = [r for r in rows if r["cell_id"] in cluster]
    assert all(r["ci_low_pct"] <= -40 <= r["ci_high_pct"] for r in planted_rows)


def test_a_place_next_to_a_registered_intervention_is_never_a_deviant(found, planted, registered, next_door):
    assert not any(h3.grid_distance(d.cell, r) <= BUFFER_RINGS for d in found.deviants for r in registered)
    assert next_door not in {d.cell for d in found.deviants}
    # Nor tested: with nothing registered there it is, as busy as the other places where a fall was planted.
    assert next_door not in found.tested_cells
    unregistered = search(planted, LAST, set(), THRESHOLD, max_candidates=FEW)
    assert next_door in unregistered.tested_cells


def test_no_fall_planted_nothing_is_found(registered):
    found = [search(monthly_counts(seed=seed), LAST, registered, THRESHOLD, max_candidates=FEW) for seed in (11, 12)]
    assert all(f.tested == FEW for f in found)
    assert sum(len(f.deviants) for f in found) <= 1  # what a false discovery rate of 5% allows


def test_a_place_with_fewer_records_than_the_threshold_is_never_published(registered, cluster):
    # A busy place whose violence all but stopped: the clearest fall there is, over too few records after.
    quiet = cluster[0]
    counts = monthly_counts(seed=SEED, deviant_cells=[quiet], deviant_effect=-0.97)
    before, after = totals(counts, quiet)
    assert before >= THRESHOLD > after
    assert quiet not in {d.cell for d in search(counts, LAST, registered, THRESHOLD, max_candidates=10).deviants}
    # And a deviant over too few records (never a candidate) gets no row all the same.
    fell = Estimate(-0.9, -0.95, -0.8, "poisson", 1e-9)
    few = Search(LAST, 12, 6, (quiet,), [Deviant(quiet, fell, 30, (before, after))])
    assert deviant_rows(few, THRESHOLD, "cardiff-violence-prevention", 1) == []


def test_too_few_months_search_nothing_and_say_why(planted, registered):
    found = search(planted, MONTHS[9], registered, THRESHOLD)
    assert found.deviants == [] and found.tested == 0
    assert found.reason == "the joint zone holds 10 months up to 2025-10; the search needs 12"


def test_the_published_rows_hold_no_count(found, planted, cluster):
    rows = deviant_rows(found, THRESHOLD, "cardiff-violence-prevention", 1)
    assert rows and all(list(r) == list(COLUMNS) for r in rows)
    assert not [c for c in COLUMNS if any(w in c for w in ("count", "incident", "record", "assault", "violence"))]
    for row in rows:
        before, after = totals(planted, row["cell_id"])
        numbers = {v for v in row.values() if isinstance(v, int)}
        assert not numbers & {before, after, before + after}


@pytest.fixture
def zone(istv_home, monkeypatch, venues, registered, cluster, next_door):
    """The planted months as a joint zone; the CLI tests fewer candidates, as the search above."""
    from rich.console import Console

    from outcomes import deviance
    from pipelines.commands import interventions

    monkeypatch.delenv("ISTV_AGREEMENT", raising=False)
    monkeypatch.setattr(interventions, "console", Console(width=400, soft_wrap=True))
    monkeypatch.setattr(deviance, "MAX_CANDIDATES", FEW)
    counts = planted_counts(registered, cluster, next_door)
    for month in MONTHS:
        file = istv_home.pseudonymised_file("joint", month)
        file.parent.mkdir(parents=True, exist_ok=True)
        joint_rows(counts, month).to_parquet(file, index=False)
    return counts


def register(venues) -> None:
    places = [arg for v in venues for arg in ("--place", v)]
    added = CliRunner().invoke(
        cli,
        ["interventions", "add", "glass", "--kind", "toughened_glass", *places, "--start", f"{MONTHS[12]}"]
        + ["--owner", "Cardiff CSP"],
    )
    assert added.exit_code == 0, added.output


def published(istv_home) -> tuple[list[dict], dict[str, str], set[str]]:
    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        result = con.execute(f"SELECT * FROM {POSITIVE_DEVIANTS.name} ORDER BY month, change_pct, cell_id")
        rows = [dict(zip([d[0] for d in result.description], r)) for r in result.fetchall()]
        comments = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = ?", [POSITIVE_DEVIANTS.name]
            ).fetchall()
        )
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return rows, comments, tables


def test_evaluate_publishes_the_deviants_and_deviants_shows_them(zone, istv_home, venues, cluster):
    register(venues)
    result = CliRunner().invoke(cli, ["interventions", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "Positive deviants, 2026-12" in result.output and "more than comparable places" in result.output
    assert all(cell in result.output for cell in cluster)

    rows, comments, tables = published(istv_home)
    assert {"intervention_effects", "positive_deviants"} <= tables
    assert set(cluster) <= {r["cell_id"] for r in rows} and {str(r["month"]) for r in rows} == {"2026-12-01"}
    assert list(rows[0]) == list(COLUMNS) and set(comments) == set(COLUMNS) and all(comments.values())
    assert (rows[0]["agreement_id"], rows[0]["agreement_version"]) == ("cardiff-violence-prevention", 1)
    (entry,) = [e for e in reader(istv_home).entries() if e.kind == "positive_deviants"]
    assert entry.details["month"] == "2026-12" and entry.details["positive_deviants"] == len(rows)
    assert entry.details["places_tested"] == FEW

    shown = CliRunner().invoke(cli, ["interventions", "deviants"])
    assert shown.exit_code == 0, shown.output
    assert all(r["cell_id"] in shown.output for r in rows) and "Positive deviants, 2026-12" in shown.output
    for output in (result.output, shown.output):  # no count printed: a cell's records before, or in all
        for cell in cluster:
            before, after = totals(zone, cell)
            assert not re.search(rf"\b({before}|{before + after})\b", output)


def test_an_empty_register_still_searches_for_deviants(zone, istv_home, cluster):
    result = CliRunner().invoke(cli, ["interventions", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "register is empty" in result.output and "searched for positive deviants all the same" in result.output
    rows, _, tables = published(istv_home)
    assert "intervention_effects" not in tables and set(cluster) <= {r["cell_id"] for r in rows}


def test_deviants_before_any_evaluation_says_so(istv_home):
    result = CliRunner().invoke(cli, ["interventions", "deviants"])
    assert result.exit_code == 0 and "No positive deviant published yet" in result.output


def test_no_deviant_is_published_under_an_agreement_that_does_not_permit_them(
    zone, istv_home, venues, board, monkeypatch
):
    def without_the_table(raw):
        raw["published_tables"].remove("positive_deviants")

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("no-deviants", without_the_table)))
    register(venues)
    result = CliRunner().invoke(cli, ["interventions", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "Positive deviants" not in result.output
    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"intervention_effects"}
