"""Materialise the whole Dagster graph for a month in a temporary ISTV_HOME and check what
was published: counts reconcile with the inputs, disclosure control holds, nothing identifiable
reached the warehouse, and real police open data gives the police counts a direct count gives."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import h3
import pandas as pd
import pytest

from pipelines.cli import run_month
from pipelines.lib.landing import place
from pipelines.lib.reference import gazetteer
from pipelines.synthetic import generate_month
from tests.conftest import DATA

pytestmark = pytest.mark.slow
OCTOBER = dt.date(2018, 10, 1)
RECENT = dt.date(2026, 9, 1)


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
        (ed, ["ATTENDANCE IDENTIFIER", "NHS NUMBER", "PERSON BIRTH DATE", "POSTCODE OF USUAL ADDRESS", "ASSAULT LOCATION DESCRIPTION"]),
        (police, ["CRIME REFERENCE", "LOCATION", "VICTIM DATE OF BIRTH"]),
    ):
        for column in columns:
            values |= {v for v in frame[column] if len(v) >= 6 and v.casefold() not in public}
    return values


@pytest.fixture(scope="module")
def synthetic_month(tmp_path_factory):
    return generate_month(f"{RECENT:%Y-%m}", tmp_path_factory.mktemp("synthetic"), seed=7, ed_rows=600)


def test_synthetic_month_publishes_and_reconciles(istv_home, synthetic_month):
    place(istv_home, "ed", RECENT, synthetic_month["ed"])
    place(istv_home, "police", RECENT, synthetic_month["police"])
    result = run_month(RECENT, istv_home)
    assert result.success

    cells = _published(istv_home, "hotspot_cells", RECENT)
    assert len(cells) > 0
    joint = pd.read_parquet(istv_home.pseudonymised_file("joint", RECENT))
    raw = joint[joint.cell_id.notna()].groupby(["cell_id", "source"]).size().unstack(fill_value=0)
    merged = cells.set_index("cell_id").join(raw)
    # Every published count is the raw count, suppressed (1-7) or rounded to 5.
    for published, flag, raw_col in (("ed_assaults", "ed_assaults_suppressed", "ed"), ("police_violence", "police_violence_suppressed", "police")):
        for _, row in merged.iterrows():
            n = int(row.get(raw_col, 0) or 0)
            if 1 <= n <= 7:
                assert row[flag] and pd.isna(row[published])
            else:
                assert not row[flag] and row[published] == 5 * ((n + 2) // 5)

    # Rows in = passed + quarantined, and the joint table holds every shared row.
    for source in ("ed", "police"):
        summary = json.loads(istv_home.summary_file(source, RECENT).read_text())
        delivered = pd.read_csv(synthetic_month[source], dtype=str)
        assert summary["files"][0]["rows_received"] == len(delivered)
        assert summary["files"][0]["rows_passed"] + summary["files"][0]["rows_quarantined"] == len(delivered)
        assert summary["files"][0]["rows_quarantined"] > 0  # the generator plants bad rows
        shared = summary["rows_shared"] + summary["rows_out_of_scope"] + summary["rows_out_of_area"]
        assert shared == summary["files"][0]["rows_passed"]
        assert (joint.source == source).sum() == summary["rows_shared"]

    for table in ("hotspot_cells", "hotspot_venues", "hour_of_week", "assault_methods", "coverage"):
        frame = _published(istv_home, table, RECENT)
        assert len(frame) > 0, table
        assert set(frame.agreement_id) == {"cardiff-violence-prevention"}
        counts = frame.select_dtypes("number").drop(columns=["weekday", "hour", "rank", "agreement_version", "cell_lat", "cell_lon"], errors="ignore")
        assert not counts.isin(range(1, 8)).any().any(), table
    assert len(_published(istv_home, "hour_of_week", RECENT)) == 168

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
    violence = crimes[(crimes["Crime type"] == "Violence and sexual offences") & crimes.Latitude.notna()]
    inside = violence[violence.Latitude.between(51.38, 51.56) & violence.Longitude.between(-3.35, -3.05)]
    direct = inside.apply(lambda r: h3.latlng_to_cell(r.Latitude, r.Longitude, 9), axis=1).value_counts()

    cells = _published(istv_home, "hotspot_cells", OCTOBER).set_index("cell_id")
    assert set(direct.index) <= set(cells.index)
    for cell, n in direct.items():
        row = cells.loc[cell]
        if n <= 7:
            assert row.police_violence_suppressed and pd.isna(row.police_violence)
        else:
            assert row.police_violence == 5 * ((n + 2) // 5)
    top = cells.sort_values("rank").head(3)
    # Cardiff's busiest cells are in the city centre.
    assert top.cell_lat.between(51.46, 51.50).all() and top.cell_lon.between(-3.20, -3.15).all()
