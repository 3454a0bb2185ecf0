"""Attack 5: reading which rows exist. A cell, venue or method has a row only where there are
records; an intruder who sees a row whose public count is 0 would learn it holds protected
records even when the method shows them as 0, and one who sees no row would know the count is 0.
A sparse table therefore leaves out every row that shows nothing."""

from __future__ import annotations

import pytest

from benchmarks import attacks as A
from benchmarks.attacks.attacks import draw_corrections
from benchmarks.attacks.release import as_day, first_release, row_ids
from warehouse.tables import table_specs

from .conftest import measured

SPARSE = {s.name: s for s in table_specs() if s.sparse}


def test_every_table_whose_rows_are_where_records_are_is_sparse():
    assert set(SPARSE) == {"hotspot_cells", "hotspot_areas", "hotspot_venues", "assault_methods"}


@pytest.mark.parametrize("name", sorted(SPARSE))
def test_no_published_row_shows_nothing(cell_key_releases, suppressed_releases, name):
    """A count above zero, or under suppress_and_round one suppressed ("a few")."""
    spec = SPARSE[name]
    for release in [*cell_key_releases, *suppressed_releases]:
        table = release.tables[name]
        shown = table[spec.counts].astype("Float64").fillna(0).to_numpy(dtype=float) != 0
        if release.policy.method != "cell_key":
            shown |= table[[f"{c}_suppressed" for c in spec.counts]].to_numpy(dtype=bool)
        assert len(table) and shown.any(axis=1).all(), name


def test_records_shown_as_nothing_have_no_row_as_a_true_zero_has_none(cell_key_releases):
    """The rows holding records whose every count the method moved to 0 (or withheld as quiet):
    none is published, so the intruder cannot tell them from the cells, areas, venues or methods
    that hold no record. (The methods of a synthetic month are all busy: none shows nothing.)"""
    hidden = dict.fromkeys(SPARSE, 0)
    for release in cell_key_releases:
        for name, spec in SPARSE.items():
            figures = release.figures[release.figures["table"].to_numpy() == name]
            rows = figures.assign(shows=figures["published"].fillna(0) != 0).groupby(["month", "key"])
            nothing = rows.agg(records=("protected", "sum"), shows=("shows", "any"))
            nothing = nothing[(nothing["records"] > 0) & ~nothing["shows"]]
            hidden[name] += len(nothing)
            published = {(as_day(m), k) for m, k in row_ids(release.tables[name], spec.keys)}
            assert not published & {(as_day(m), k) for m, k in nothing.index}, name
    for name in ("hotspot_cells", "hotspot_areas", "hotspot_venues"):
        assert hidden[name] > 0, f"{name}: no row with records showed nothing: the test would prove nothing"


@pytest.mark.slow
def test_a_cell_without_a_row_pins_no_count(months, default_policy):
    """An intruder who knows an incident was added to a cell that had no row in the first release
    cannot tell whether the cell held no record or a few shown as 0 (when no row meant none, the
    count with the incident was pinned at 1 for about one added incident in ten)."""
    month, trials = months[0], 60
    result = A.one_row_corrections(month, default_policy, trials, modes=("add",))["add"]
    assert result.first_only.pinned == 0 and result.pin.pinned == 0, measured(result.first_only)
    added, _, _ = draw_corrections(month, trials, "add", seed=0)
    first, _ = first_release(month.joint, default_policy, [month.police])
    cells = first.tables["hotspot_cells"]
    # What makes "no row" read as zeros: the release has no row that shows nothing.
    assert (cells[SPARSE["hotspot_cells"].counts].fillna(0) != 0).any(axis=1).all()
    without_a_row = ~added["cell_id"].isin(set(cells["cell_id"]))
    assert without_a_row.sum() > 0, "no incident was added to a cell without a row: the test would prove nothing"
