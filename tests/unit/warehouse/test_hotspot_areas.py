"""hotspot_areas: coarser cells and rolling windows, protected like every other figure."""

from __future__ import annotations

import datetime as dt
import hashlib

import h3
import pandas as pd

from anonymise.cellkey import RecordKeys
from anonymise.disclosure import DisclosurePolicy
from warehouse.tables import DELIVERY_SUMMARY_COLUMNS, HotspotAreas, build_tables

KEYS = RecordKeys.from_secret(b"hotspot-areas-test-secret")
CENTRE = h3.latlng_to_cell(51.4816, -3.1791, 9)
CELLS = sorted(h3.grid_disk(CENTRE, 2))[:12]


def _month(month: dt.date, counts: dict[str, int], source: str = "ed") -> pd.DataFrame:
    rows = []
    for cell, n in counts.items():
        for i in range(n):
            pseudonym = hashlib.sha256(f"{month}{cell}{source}{i}".encode()).hexdigest()
            rows.append(
                {
                    "source": source,
                    "month": month,
                    "weekday": 6,
                    "hour": 23,
                    "event_hour": pd.Timestamp(month) + pd.Timedelta(hours=23),
                    "cell_id": cell,
                    "place_status": "street",
                    "place_id": None,
                    "place_name": None,
                    "method": "fist",
                    "record_key": KEYS.of(pseudonym),
                }
            )
    return pd.DataFrame(rows).astype({"weekday": "Int64", "hour": "Int64", "record_key": "int64"})


# Every area shown, quiet ones too: how areas and windows are merged, apart from the area minimum.
EVERY_AREA = DisclosurePolicy(area_minimum=0)


def _tables(joint, history=(), public=(), policy=EVERY_AREA):
    summaries = pd.DataFrame(columns=DELIVERY_SUMMARY_COLUMNS)
    return build_tables(
        joint,
        summaries,
        policy,
        "a",
        1,
        record_keys=KEYS,
        public_sources=public,
        history=list(history),
        areas=HotspotAreas((9, 8, 7), (1, 3)),
    )


OCT, NOV, DEC = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)


def test_the_same_records_show_the_same_figure_in_cells_and_areas():
    tables = _tables(_month(DEC, {c: 3 + i for i, c in enumerate(CELLS)}))
    cells = tables["hotspot_cells"].set_index("cell_id")
    areas = tables["hotspot_areas"]
    fine = areas[(areas.window_months == 1) & (areas.resolution == 9)].set_index("cell_id")
    assert sorted(fine.index) == sorted(cells.index)
    for column in ("ed_assaults", "combined"):
        assert (fine[column] == cells.loc[fine.index, column]).all()
    # With no earlier month the 3-month window holds the same records: the same figures, and says so.
    window = areas[(areas.window_months == 3) & (areas.resolution == 9)].set_index("cell_id")
    assert (window.combined == fine.loc[window.index, "combined"]).all()
    assert set(window.months_available) == {1}


def test_coarser_areas_and_windows_hold_every_incident_within_the_perturbation():
    months = {OCT: dict.fromkeys(CELLS, 2), NOV: dict.fromkeys(CELLS[:6], 1), DEC: dict.fromkeys(CELLS[3:], 4)}
    tables = _tables(_month(DEC, months[DEC]), history=[_month(OCT, months[OCT]), _month(NOV, months[NOV])])
    areas = tables["hotspot_areas"]
    assert set(areas.month) == {pd.Timestamp(DEC)}  # the window ends with the month published
    for resolution in (9, 8, 7):
        truth = {}
        for counts in months.values():
            for cell, n in counts.items():
                parent = h3.cell_to_parent(cell, resolution)
                truth[parent] = truth.get(parent, 0) + n
        window = areas[(areas.window_months == 3) & (areas.resolution == resolution)].set_index("cell_id")
        assert set(window.index) == set(truth)
        assert set(window.months_available) == {3}
        for cell, n in truth.items():
            assert abs(int(window.loc[cell, "ed_assaults"]) - n) <= DisclosurePolicy().max_deviation
    # rank runs within each window and resolution
    for _, group in areas.groupby(["window_months", "resolution"]):
        assert group["rank"].min() == 1


def test_public_records_are_exact_in_areas_too():
    police = _month(DEC, {CELLS[0]: 5, CELLS[1]: 1}, source="police_uk")
    tables = _tables(police, public=("police_uk",))
    areas = tables["hotspot_areas"]
    fine = areas[(areas.window_months == 1) & (areas.resolution == 9)].set_index("cell_id")
    assert fine.loc[CELLS[0], "police_violence"] == 5 and fine.loc[CELLS[1], "police_violence"] == 1
    parent = h3.cell_to_parent(CELLS[0], 7)
    coarse = areas[(areas.window_months == 1) & (areas.resolution == 7)].set_index("cell_id")
    assert coarse.loc[parent, "police_violence"] == sum(
        5 if c == CELLS[0] else 1 for c in CELLS[:2] if h3.cell_to_parent(c, 7) == parent
    )


def test_quiet_areas_show_their_public_counts_only():
    """Under the agreement's area minimum (20), a coarser area or window whose published combined
    count is below it withholds its ED and combined figures (flagged), keeps its exact public
    police count, and takes no rank; busier ones are shown as before. A quiet area with no
    public record shows nothing, so it has no row."""
    policy = DisclosurePolicy()
    ed = _month(DEC, {CELLS[0]: 30, **dict.fromkeys(CELLS[1:], 2)})
    police = _month(DEC, {CELLS[5]: 3}, source="police_uk")
    areas = _tables(pd.concat([ed, police], ignore_index=True), public=("police_uk",), policy=policy)["hotspot_areas"]
    every = _tables(pd.concat([ed, police], ignore_index=True), public=("police_uk",))["hotspot_areas"]
    keys = ["window_months", "resolution", "cell_id"]
    left_out = every.merge(areas[keys], on=keys, how="left", indicator=True)["_merge"] == "left_only"
    assert left_out.any()
    assert (every.combined[left_out] < policy.area_minimum).all() and (every.police_violence[left_out] == 0).all()
    every = every[~left_out.to_numpy()].reset_index(drop=True)
    quiet = (every.combined < policy.area_minimum).to_numpy()
    assert quiet.any() and (~quiet).any()
    assert areas.loc[quiet, ["ed_assaults", "combined", "rank"]].isna().all().all()
    assert areas.loc[quiet, ["ed_assaults_suppressed", "combined_suppressed"]].all().all()
    pd.testing.assert_series_equal(areas.police_violence, every.police_violence)
    for column in ("ed_assaults", "combined"):
        assert (areas.loc[~quiet, column] == every.loc[~quiet, column]).all()
        assert not areas.loc[~quiet, f"{column}_suppressed"].any()
    assert (areas.loc[~quiet, "combined"] >= policy.area_minimum).all()
    # The monthly cells themselves are not touched: a small cell is shown there.
    cells = _tables(pd.concat([ed, police], ignore_index=True), public=("police_uk",), policy=policy)["hotspot_cells"]
    assert cells.ed_assaults.notna().all() and (cells.ed_assaults < policy.area_minimum).any()


def test_a_source_missing_from_a_window_is_not_available_never_zero():
    """Police data shared for October only, ED for every month: in December's own month the
    police count is not available (with the reason), never 0; the 3-month window counts the
    police records of October and says police data covers 1 of its 3 months."""
    police = _month(OCT, {CELLS[0]: 4}, source="police_uk")
    history = [pd.concat([_month(OCT, {CELLS[0]: 2}), police], ignore_index=True), _month(NOV, {CELLS[0]: 3})]
    areas = _tables(_month(DEC, {CELLS[0]: 5}), history=history, public=("police_uk",))["hotspot_areas"]
    fine = areas[areas.resolution == 9].set_index("window_months")
    month = fine.loc[1]
    assert pd.isna(month.police_violence) and not month.police_violence_suppressed
    assert month.not_available_reason == "no_police_data_in_window"
    assert (month.ed_months_available, month.police_months_available) == (1, 0)
    assert month.ed_assaults >= 1 and month.combined >= 1  # combined: the ED records only
    window = fine.loc[3]
    assert window.police_violence == 4 and pd.isna(window.not_available_reason)
    assert (window.months_available, window.ed_months_available, window.police_months_available) == (3, 3, 1)


def test_a_cell_minimum_withholds_alike_wherever_the_same_records_show():
    """A small ED count beside many public police records: hotspot_cells withholds it under the
    cell minimum, and so does every hotspot_areas figure of the same records (the one-month window
    at the cells' resolution, an area holding only that cell's records), though its combined count
    is far above the area minimum: shown there, the withholding would be void."""
    busy, quiet = CELLS[0], CELLS[1]
    ed = _month(DEC, {busy: 2, quiet: 30})
    police = _month(DEC, {busy: 40}, source="police_uk")
    strict = DisclosurePolicy(cell_minimum=5)
    tables = _tables(pd.concat([ed, police], ignore_index=True), public=("police_uk",), policy=strict)
    cells = tables["hotspot_cells"].set_index("cell_id")
    areas = tables["hotspot_areas"]
    assert pd.isna(cells.loc[busy, "ed_assaults"]) and cells.loc[busy, "police_violence"] == 40
    assert cells.loc[quiet, "ed_assaults"] >= 5
    alone = areas[(areas.resolution == 9) & (areas.cell_id == busy)]
    assert len(alone) == 2 and alone.ed_assaults.isna().all() and alone.combined.isna().all()
    assert (alone.police_violence == 40).all() and alone.ed_assaults_suppressed.all()
    # The coarser area holding both cells' records is another figure: shown, 32 ED perturbed.
    parent = areas[(areas.resolution == 7) & (areas.window_months == 1)]
    assert len(parent) == 1 and abs(parent.ed_assaults.iloc[0] - 32) <= strict.max_deviation
