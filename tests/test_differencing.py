"""Differencing attacks on hand-worked releases must fail to recover a suppressed count.

The attacker knows the rules (suppress 1-7, round to 5, totals rounded as a whole) and every
published figure, and looks for the raw counts consistent with all of them. A suppressed count
is recovered only if a single value from 1 to 7 remains."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd

from anonymise.disclosure import DisclosurePolicy, protect_count
from warehouse.tables import build_tables

POLICY = DisclosurePolicy()
MONTH = dt.date(2026, 9, 1)
CELLS = ["89195879b4bffff", "8919586b4a3ffff", "8919586b4bbffff"]


def _release(counts: list[int]) -> dict[str, pd.DataFrame]:
    rows = [
        {"source": "ed", "month": MONTH, "weekday": 6, "hour": 23, "event_hour": pd.Timestamp("2026-09-05 23:00"),
         "cell_id": cell, "place_status": "street", "place_id": None, "place_name": None, "method": "fist"}
        for cell, n in zip(CELLS, counts) for _ in range(n)
    ]
    joint = pd.DataFrame(rows).astype({"weekday": "Int64", "hour": "Int64"})
    summaries = pd.DataFrame(columns=["month", "source", "provider", "rows_received", "rows_quarantined", "rows_out_of_scope",
                                      "rows_out_of_area", "rows_shared", "rows_located", "rows_unlocated", "rows_private", "rows_ambiguous"])
    return build_tables(joint, summaries, POLICY, "a", 1)


def _consistent(release: dict[str, pd.DataFrame]) -> set[tuple[int, ...]]:
    """Every vector of raw cell counts that would have produced exactly these published tables."""
    cells = release["hotspot_cells"].set_index("cell_id").reindex(CELLS)
    total = release["monthly_trend"].ed_assaults.iloc[0]
    ranges = []
    for cell in CELLS:
        published = cells.loc[cell, "ed_assaults"]
        candidates = range(0, 60)
        ranges.append([n for n in candidates if n > 0 and protect_count(n, POLICY) == (None if pd.isna(published) else published)])
    return {combo for combo in itertools.product(*ranges) if protect_count(sum(combo), POLICY) == total}


def test_the_total_cannot_be_used_to_recover_a_suppressed_cell():
    release = _release([52, 48, 3])
    cells = release["hotspot_cells"].set_index("cell_id")
    assert cells.loc[CELLS[2], "ed_assaults_suppressed"] and pd.isna(cells.loc[CELLS[2], "ed_assaults"])
    assert release["monthly_trend"].ed_assaults.iloc[0] == 105  # 103 rounded as a whole
    naive = release["monthly_trend"].ed_assaults.iloc[0] - cells.ed_assaults.sum()
    assert naive == 5  # subtraction gives a number ...
    possible = {combo[2] for combo in _consistent(release)}
    assert possible == set(range(1, 8))  # ... but every suppressed value stays possible


def test_two_releases_of_one_month_cannot_be_differenced():
    first, corrected = _release([52, 48, 3]), _release([52, 48, 5])  # a re-delivery adds two assaults
    for table in ("hotspot_cells", "monthly_trend", "hour_of_week"):
        assert first[table].equals(corrected[table])  # nothing published changes
    both = _consistent(first) & _consistent(corrected)
    assert {combo[2] for combo in both} == set(range(1, 8))


def test_combined_and_component_counts_leave_the_suppressed_component_open():
    police_and_ed = [(ed, police) for ed in range(1, 8) for police in range(8, 60)
                     if protect_count(police, POLICY) == 40 and protect_count(ed + police, POLICY) == 45]
    assert len({ed for ed, _ in police_and_ed}) > 3  # ED suppressed beside police 40 and combined 45
