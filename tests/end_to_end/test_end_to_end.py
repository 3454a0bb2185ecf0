"""Materialise the whole Dagster graph for a month in a temporary ISTV_HOME and check what
was published: counts reconcile with the inputs, disclosure control holds (the bundled agreement's
cell-key method: every figure the perturbation its own records select, at most 4 away, public
open data exact), private dwellings add to no cell, nothing identifiable reached the warehouse,
and real police open data gives exactly the police counts a direct count gives."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import h3
import numpy as np
import pandas as pd
import pytest

from anonymise.cellkey import KEY_MODULUS, perturb, perturbation_table
from anonymise.reference import gazetteer
from ingest.landing import place
from pipelines.runs import run_month
from pipelines.synthetic import generate_month
from sharing_agreements.model import load_agreement
from tests.conftest import DATA

pytestmark = pytest.mark.slow
OCTOBER = dt.date(2018, 10, 1)
RECENT = dt.date(2026, 9, 1)
AGREEMENT = load_agreement()
POLICY = AGREEMENT.disclosure_control.policy()
TABLE = perturbation_table(POLICY.max_deviation, POLICY.variance)
# Police records planted at a home (a full postcode in the location, as a home address is
# written), all at one point: their files give them this cell, the published tables must not.
HOME = (51.5080, -3.2330)
HOME_CELL = h3.latlng_to_cell(*HOME, 9)
PLANTED = 12


def _published(home, table, month):
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table} WHERE month = ?", [month]).df()


def _raw_identifiers(paths) -> set[str]:
    """Every value of every identifiable column of the synthetic inputs, except free text that
    is part of a public gazetteer name (a venue's name is meant to be published)."""
    public = "\n".join(p.name.casefold() for p in gazetteer())
    values = set()
    ed = pd.read_csv(paths["ed"], dtype=str, keep_default_na=False)
    police = pd.read_csv(paths["police"], dtype=str, keep_default_na=False)
    for frame, columns in (
        (
            ed,
            [
                "ATTENDANCE IDENTIFIER",
                "NHS NUMBER",
                "PERSON BIRTH DATE",
                "POSTCODE OF USUAL ADDRESS",
                "ASSAULT LOCATION DESCRIPTION",
            ],
        ),
        (police, ["CRIME REFERENCE", "LOCATION", "VICTIM DATE OF BIRTH"]),
    ):
        for column in columns:
            values |= {v for v in frame[column] if len(v) >= 6 and v.casefold() not in public}
    return values


@pytest.fixture(scope="module")
def synthetic_month(tmp_path_factory):
    paths = generate_month(f"{RECENT:%Y-%m}", tmp_path_factory.mktemp("synthetic"), seed=7, ed_rows=600)
    # Plant the home records among the police rows (rewriting rows keeps every reference unique).
    police = pd.read_csv(paths["police"], dtype=str, keep_default_na=False)
    planted = police.index[police["LATITUDE"].str.match(r"^51\.\d+$") & (police["LOCATION"] != "")][:PLANTED]
    police.loc[planted, "LOCATION"] = [f"FLAT {i + 1}, 7 PLANTED TERRACE, CARDIFF CF14 2ZZ" for i in range(PLANTED)]
    police.loc[planted, "LATITUDE"], police.loc[planted, "LONGITUDE"] = f"{HOME[0]:.6f}", f"{HOME[1]:.6f}"
    police.to_csv(paths["police"], index=False)
    return paths


def _figure(records: pd.DataFrame) -> int:
    """The published value of a figure made of these joint rows, worked out apart from the SQL:
    the protected records' count moved by the perturbation their summed keys select, plus the
    public records exactly."""
    public = records.source.isin(AGREEMENT.public_sources())
    protected = records[~public]
    key = int(protected.record_key.sum()) % KEY_MODULUS
    return int(perturb(np.array([len(protected)]), np.array([key]), TABLE)[0]) + int(public.sum())


def _withheld(records: pd.DataFrame) -> bool:
    """Whether a monthly cell's figure of these joint rows is withheld under the agreement's cell
    minimum: its protected part would show below it (worked out apart from the SQL, as _figure)."""
    public = records.source.isin(AGREEMENT.public_sources())
    return _figure(records[~public]) < POLICY.cell_minimum


def test_synthetic_month_publishes_and_reconciles(istv_home, synthetic_month):
    place(istv_home, "ed", RECENT, synthetic_month["ed"])
    place(istv_home, "police", RECENT, synthetic_month["police"])
    result = run_month(RECENT, istv_home)
    assert result.success

    cells = _published(istv_home, "hotspot_cells", RECENT)
    assert len(cells) > 0
    joint = pd.read_parquet(istv_home.pseudonymised_file("joint", RECENT))
    assert joint.record_key.between(0, KEY_MODULUS - 1).all()
    located = joint[joint.cell_id.notna()]
    raw = located.groupby(["cell_id", "source"]).size().unstack(fill_value=0)
    merged = cells.set_index("cell_id").join(raw)
    # Every count is its figure's records perturbed by at most 4, exactly the value the records'
    # keys select, or withheld (NULL, flagged, never 0) where that value is below the agreement's
    # cell minimum: both sources are protected here.
    assert POLICY.cell_minimum == 5
    for published, sources in (
        ("ed_assaults", ["ed"]),
        ("police_violence", ["police"]),
        ("combined", ["ed", "police"]),
    ):
        assert (merged[published].isna() == merged[f"{published}_suppressed"]).all(), published
        assert merged[published].isna().any() and merged[published].notna().any(), published
        for cell, row in merged.iterrows():
            records = located[(located.cell_id == cell) & located.source.isin(sources)]
            if _withheld(records):
                assert pd.isna(row[published]), (cell, published)
                continue
            n = int(sum(row.get(s, 0) or 0 for s in sources))
            assert abs(row[published] - n) <= POLICY.max_deviation and row[published] >= POLICY.cell_minimum
            assert row[published] == _figure(records), (cell, published)
    shown = merged[merged["combined"].notna()]
    moved = sum(int(row["combined"]) != int(row.get("ed", 0) + row.get("police", 0)) for _, row in shown.iterrows())
    assert moved > len(shown) / 2  # most counts are perturbed
    trend = _published(istv_home, "monthly_trend", RECENT).iloc[0]
    assert trend.ed_assaults == _figure(joint[joint.source == "ed"])
    assert trend.police_violence == _figure(joint[joint.source == "police"])

    # The planted home records: private in the police file, with the home's cell there ...
    police = pd.read_parquet(istv_home.pseudonymised_file("police", RECENT))
    at_home = police[(police.place_status == "private") & (police.cell_id == HOME_CELL)]
    assert len(at_home) >= PLANTED - 2  # (a planted row the generator made invalid is quarantined)
    # ... but no cell in joint_incidents, and no private dwelling anywhere keeps one.
    assert joint[joint.place_status == "private"].cell_id.isna().all()
    assert (joint.place_status == "private").sum() > len(at_home)  # the generator's own homes too
    homes = joint[joint.record_pseudonym.isin(at_home.crime_reference_pseudonym)]
    assert len(homes) == len(at_home) and homes.cell_id.isna().all()
    # The home's cell publishes only its other records: counting the planted ones would take
    # it further than 4 from them.
    others = int((located.cell_id == HOME_CELL).sum())
    home_cell = cells.set_index("cell_id").combined.get(HOME_CELL, 0)
    assert home_cell <= others + POLICY.max_deviation < others + len(at_home) - POLICY.max_deviation
    areas = _published(istv_home, "hotspot_areas", RECENT)
    fine = areas[(areas.resolution == 9) & (areas.window_months == 1)].set_index("cell_id")
    shown = fine.combined.get(HOME_CELL, 0)
    # The same records, the same figure; or, quiet, withheld as the area minimum says.
    assert shown == home_cell if pd.notna(shown) else home_cell < POLICY.area_minimum

    # Rows in = passed + quarantined, and the joint table holds every shared row.
    for source in ("ed", "police"):
        summary = json.loads(istv_home.summary_file(source, RECENT).read_text())
        delivered = pd.read_csv(synthetic_month[source], dtype=str)
        assert summary["files"][0]["rows_received"] == len(delivered)
        assert summary["files"][0]["rows_passed"] + summary["files"][0]["rows_quarantined"] == len(delivered)
        assert summary["files"][0]["rows_quarantined"] > 0  # the generator plants bad rows
        shared = (
            summary["rows_shared"]
            + summary["rows_out_of_scope"]
            + summary["rows_out_of_area"]
            + summary["rows_unlocated"]
        )
        assert shared == summary["files"][0]["rows_passed"]
        assert (joint.source == source).sum() == summary["rows_shared"]

    small = 0
    for table in (
        "hotspot_cells",
        "hotspot_areas",
        "hotspot_venues",
        "hour_of_week",
        "assault_methods",
        "coverage",
        "monthly_trend",
        "hidden_violence",
    ):
        frame = _published(istv_home, table, RECENT)
        assert len(frame) > 0, table
        assert set(frame.agreement_id) == {"cardiff-violence-prevention"}
        if table == "hotspot_areas":  # quiet areas (combined below the area minimum) show police only
            quiet = frame.combined_suppressed & (frame.combined.isna())
            assert frame.loc[quiet, "ed_assaults"].isna().all()
            assert (frame.loc[frame.combined.notna(), "combined"] >= POLICY.area_minimum).all()
        flags = [c for c in frame.columns if c.endswith("_suppressed")]
        counts = frame[[c.removesuffix("_suppressed") for c in flags]]
        if table in ("hotspot_cells", "hotspot_venues", "hotspot_areas"):  # small places withheld (cell minimum)
            withheld = frame[flags].to_numpy()
            assert (counts.isna().to_numpy() == withheld).all() and (
                counts.fillna(POLICY.cell_minimum) >= POLICY.cell_minimum
            ).all().all()
            continue
        assert flags and not frame[flags].any().any(), table  # the cell-key method withholds nothing else
        assert counts.notna().all().all() and (counts >= 0).all().all(), table
        small += int(counts.isin(range(1, 8)).sum().sum())
        assert not [c for c in frame.columns if c.endswith(("__key", "__public", "record_key"))], table
    assert small > 0  # small counts are published (perturbed), not withheld
    assert len(_published(istv_home, "hour_of_week", RECENT)) == 168

    # A re-run of the unchanged month publishes the same figures, to the value.
    before = {t: _published(istv_home, t, RECENT) for t in ("hotspot_cells", "hour_of_week", "monthly_trend")}
    assert run_month(RECENT, istv_home).success
    for table, frame in before.items():
        pd.testing.assert_frame_equal(_published(istv_home, table, RECENT), frame)

    # No identifier from the input anywhere in the warehouse file, bytes included.
    warehouse_bytes = istv_home.warehouse.read_bytes()
    leaked = [v for v in _raw_identifiers(synthetic_month) if v.encode() in warehouse_bytes]
    assert leaked == []


def test_real_south_wales_open_data_matches_a_direct_count(istv_home, synthetic_month):
    police_file = DATA / "police_uk" / "2018-10-south-wales-street.csv"
    place(istv_home, "police_uk", OCTOBER, police_file)
    ed = generate_month("2018-10", istv_home.root / "synthetic", seed=3, ed_rows=300)["ed"]
    place(istv_home, "ed", OCTOBER, ed)
    assert run_month(OCTOBER, istv_home).success

    crimes = pd.read_csv(police_file)
    violence = crimes[crimes["Crime type"] == "Violence and sexual offences"]
    # Independently of istv's code: the bundled ONS list of Cardiff's LSOAs.
    cardiff = set(pd.read_csv(DATA / "boundaries" / "W06000015-lsoas.csv", dtype=str)["lsoa_code"])
    inside = violence[violence["LSOA code"].isin(cardiff)]
    direct = inside.apply(lambda r: h3.latlng_to_cell(r.Latitude, r.Longitude, 9), axis=1).value_counts()

    cells = _published(istv_home, "hotspot_cells", OCTOBER).set_index("cell_id")
    assert set(direct.index) <= set(cells.index)
    # police_uk is public: its counts are published exactly, the small ones too.
    assert AGREEMENT.public_sources() == ("police_uk",)
    published = cells.police_violence.reindex(direct.index)
    assert (published == direct).all(), published[published != direct]
    assert not cells.police_violence_suppressed.any() and (direct <= 7).any()
    assert (cells.drop(direct.index).police_violence == 0).all()
    # The ED counts beside them are perturbed from the ED records alone; combined adds the
    # public count exactly to the perturbed ED part.
    joint = pd.read_parquet(istv_home.pseudonymised_file("joint", OCTOBER))
    ed = joint[(joint.source == "ed") & joint.cell_id.notna()]
    # Where that ED part would show below the agreement's cell minimum, both are withheld and the
    # police count stands alone.
    for cell, row in cells.iterrows():
        records = ed[ed.cell_id == cell]
        if _withheld(records):
            assert pd.isna(row.ed_assaults) and pd.isna(row.combined) and row.ed_assaults_suppressed, cell
            continue
        assert row.ed_assaults == _figure(records) and abs(row.ed_assaults - len(records)) <= POLICY.max_deviation
        assert row.combined == _figure(records) + direct.get(cell, 0)
    assert cells.ed_assaults.isna().any() and cells.ed_assaults.notna().any()
    top = cells.sort_values("rank").head(3)
    # Cardiff's busiest cells are in the city centre.
    assert top.cell_lat.between(51.46, 51.50).all() and top.cell_lon.between(-3.20, -3.15).all()
