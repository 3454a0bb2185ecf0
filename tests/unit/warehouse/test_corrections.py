"""Corrected re-deliveries: a figure is republished only when its records changed by at least the
threshold; smaller changes keep the released value exactly, and reveal nothing."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd

from anonymise.cellkey import RecordKeys
from anonymise.disclosure import SHOWN_SUFFIX, DisclosurePolicy
from warehouse.corrections import Corrections, released_figures
from warehouse.tables import DELIVERY_SUMMARY_COLUMNS, HotspotAreas, build_tables

KEYS = RecordKeys.from_secret(b"corrections-test-secret")
MONTH = dt.date(2026, 9, 1)
CELLS = ["89195879b4bffff", "8919586b4a3ffff", "8919586b4bbffff", "89195879b5bffff"]
HOURS = [(6, 23), (6, 1), (5, 22), (7, 2)]
DEFAULT_POLICY = DisclosurePolicy()
TABLES = ("hotspot_cells", "hotspot_areas", "hour_of_week", "assault_methods", "monthly_trend")


def _rows(counts: dict[str, int], tag: str = "") -> pd.DataFrame:
    rows = []
    for c, (cell, n) in enumerate(counts.items()):
        for i in range(n):
            weekday, hour = HOURS[c % len(HOURS)]
            rows.append(
                {
                    "source": "ed",
                    "month": MONTH,
                    "weekday": weekday,
                    "hour": hour,
                    "event_hour": pd.Timestamp("2026-09-05") + pd.Timedelta(hours=hour),
                    "cell_id": cell,
                    "place_status": "street",
                    "place_id": None,
                    "place_name": None,
                    "method": ["fist", "knife", "glass", "foot"][c % 4],
                    "record_key": KEYS.of(hashlib.sha256(f"{tag}{cell}{i}".encode()).hexdigest()),
                }
            )
    return pd.DataFrame(rows).astype({"weekday": "Int64", "hour": "Int64", "record_key": "int64"})


def _release(
    joint: pd.DataFrame, corrections: Corrections | None, policy: DisclosurePolicy = DEFAULT_POLICY
) -> dict[str, pd.DataFrame]:
    return build_tables(
        joint,
        pd.DataFrame(columns=DELIVERY_SUMMARY_COLUMNS),
        policy,
        "a",
        1,
        record_keys=KEYS,
        areas=HotspotAreas((9, 8), (1,)),
        corrections=corrections,
    )


def _ledger_of(corrections: Corrections) -> dict[str, pd.DataFrame]:
    return corrections.figures


FIRST = {CELLS[0]: 3, CELLS[1]: 12, CELLS[2]: 30}


def test_a_one_row_correction_changes_no_published_figure():
    first = Corrections(7)
    released = _release(_rows(FIRST), first)
    for removed in range(3):  # remove one row of the small cell, of the middle one, of the large one
        joint = _rows(FIRST)
        joint = joint.drop(index=joint.index[joint.cell_id == CELLS[removed]][0])
        again = Corrections(7, _ledger_of(first))
        corrected = _release(joint, again)
        for table in TABLES:
            pd.testing.assert_frame_equal(corrected[table], released[table])
        assert sum(again.kept.values()) > 0
    added = pd.concat([_rows(FIRST), _rows({CELLS[3]: 1}, tag="new")], ignore_index=True)
    corrected = _release(added, Corrections(7, _ledger_of(first)))
    for table in TABLES:  # a new cell of one record stays unpublished, and moves nothing else
        pd.testing.assert_frame_equal(corrected[table], released[table])


def test_a_figure_that_changed_by_the_threshold_is_published_afresh_and_others_kept():
    first = Corrections(7)
    released = _release(_rows(FIRST), first)
    bigger = dict(FIRST, **{CELLS[2]: 37})
    corrected = _release(_rows(bigger), Corrections(7, _ledger_of(first)))
    before = released["hotspot_cells"].set_index("cell_id")
    after = corrected["hotspot_cells"].set_index("cell_id")
    counts = ["ed_assaults", "police_violence", "combined"]
    assert after.loc[CELLS[:2], counts].equals(before.loc[CELLS[:2], counts])  # rank and Gi* follow the others
    assert abs(after.loc[CELLS[2], "ed_assaults"] - 37) <= DisclosurePolicy().max_deviation


def test_a_figure_whose_records_all_went_keeps_its_row_and_value():
    first = Corrections(7)
    released = _release(_rows(FIRST), first)
    corrected = _release(_rows({CELLS[1]: 12, CELLS[2]: 30}), Corrections(7, _ledger_of(first)))
    before = released["hotspot_cells"].set_index("cell_id")
    after = corrected["hotspot_cells"].set_index("cell_id")
    assert after.loc[CELLS[0], "ed_assaults"] == before.loc[CELLS[0], "ed_assaults"]


def test_the_ledger_carries_over_corrections_one_after_another():
    """Seven one-row corrections of one cell, each published: the figure stays until the seventh,
    and is then fresh; no intermediate release differs from the first."""
    first = Corrections(7)
    released = _release(_rows(FIRST), first)
    ledger = _ledger_of(first)
    for extra in range(1, 8):
        counts = dict(FIRST, **{CELLS[1]: 12 + extra})
        step = Corrections(7, ledger)
        corrected = _release(_rows(counts), step)
        ledger = _ledger_of(step)
        cell = corrected["hotspot_cells"].set_index("cell_id").loc[CELLS[1], "ed_assaults"]
        if extra < 7:
            assert cell == released["hotspot_cells"].set_index("cell_id").loc[CELLS[1], "ed_assaults"]
    assert abs(cell - 19) <= DisclosurePolicy().max_deviation


def test_a_release_under_changed_noise_shows_every_kept_figure_as_released(tmp_path):
    """The board changes the perturbation table; a month published before is corrected by one row
    (or re-run): each figure kept shows the value it was released with, read back from the ledger
    as the pipeline saves it, not a second perturbation of the same records."""
    first = Corrections(7)
    released = _release(_rows(FIRST), first)
    first.save(tmp_path / "released")
    wider = DisclosurePolicy(max_deviation=5, variance=4.0)
    joint = _rows(FIRST)
    joint = joint.drop(index=joint.index[joint.cell_id == CELLS[1]][0])
    corrected = _release(joint, Corrections(7, released_figures(tmp_path / "released")), wider)
    for table in TABLES:
        pd.testing.assert_frame_equal(corrected[table], released[table])
    # The attack this stops: the same month published afresh under the new table moves figures.
    afresh = _release(_rows(FIRST), None, wider)
    assert any(not afresh[table].equals(released[table]) for table in TABLES)


def test_a_ledger_written_before_values_were_remembered_still_keeps_its_figures(tmp_path):
    """A ledger from before (counts and record keys, no values shown): kept figures are perturbed
    from their earlier records, as then, and the new ledger remembers their values."""
    first = Corrections(7)
    released = _release(_rows(FIRST), first)
    first.save(tmp_path / "released")
    ledger = {
        table: frame.drop(columns=[c for c in frame.columns if c.endswith(SHOWN_SUFFIX)])
        for table, frame in released_figures(tmp_path / "released").items()
    }
    again = Corrections(7, ledger)
    corrected = _release(_rows(FIRST).iloc[1:], again)
    for table in TABLES:
        pd.testing.assert_frame_equal(corrected[table], released[table])
    assert all(any(c.endswith(SHOWN_SUFFIX) for c in frame.columns) for frame in again.figures.values())


def test_after_a_switch_to_suppression_kept_figures_follow_the_new_method(tmp_path):
    """Values remembered under the cell-key method are not shown by suppress_and_round, whose
    checks refuse small published counts: its figures are withheld and rounded as it says."""
    first = Corrections(7)
    _release(_rows(FIRST), first)
    first.save(tmp_path / "released")
    suppress = DisclosurePolicy(method="suppress_and_round")
    corrected = _release(_rows(FIRST), Corrections(7, released_figures(tmp_path / "released")), suppress)
    cells = corrected["hotspot_cells"].set_index("cell_id")
    assert cells.loc[CELLS[0], "ed_assaults_suppressed"] and pd.isna(cells.loc[CELLS[0], "ed_assaults"])
    assert cells.loc[CELLS[2], "ed_assaults"] == 30  # rounded to 5
