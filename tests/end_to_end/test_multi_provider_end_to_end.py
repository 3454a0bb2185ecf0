"""A month delivered as a region delivers it, on real open data: two EDs, the party force's
data.police.uk file and a non-party force's file (City of London Police), through ingest and
Dagster to the warehouse. Each force's published counts are checked against an independent
count of its own rows inside the area (by the bundled ONS list of Cardiff's LSOAs)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import h3
import pandas as pd
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.runs import run_month
from pipelines.synthetic import generate_month
from tests.conftest import DATA

pytestmark = pytest.mark.slow

DECEMBER = dt.date(2018, 12, 1)
SOUTH_WALES = DATA / "police_uk" / "2018-12-south-wales-street.csv"
CITY_OF_LONDON = DATA / "police_uk" / "2024-06-city-of-london-street.csv"
CARDIFF_LSOAS = DATA / "boundaries" / "W06000015-lsoas.csv"


@pytest.fixture
def december(istv_home, tmp_path):
    runner = CliRunner()
    eds = [
        generate_month("2018-12", tmp_path, seed=5, ed_rows=300)["ed"],
        generate_month("2018-12", tmp_path, seed=6, ed_rows=120, site_code="7A5B1")["ed"],
    ]
    outcomes = {
        file.name: runner.invoke(cli, ["ingest", str(file), "--source", source])
        for source, file in [("ed", eds[0]), ("ed", eds[1]), ("police_uk", SOUTH_WALES), ("police_uk", CITY_OF_LONDON)]
    }
    assert run_month(DECEMBER, istv_home).success
    return outcomes


def _table(home, name: str) -> pd.DataFrame:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM {name} WHERE month = DATE '2018-12-01'").df()


def _inside_south_wales_violence() -> pd.DataFrame:
    """Independently of istv's code: the file's violent crimes whose LSOA is one of Cardiff's."""
    crimes = pd.read_csv(SOUTH_WALES)
    lsoas = set(pd.read_csv(CARDIFF_LSOAS, dtype=str).iloc[:, 0])
    violence = crimes[crimes["Crime type"] == "Violence and sexual offences"]
    return violence[violence["LSOA code"].isin(lsoas)]


def test_each_force_publishes_its_own_rows_inside_the_area_and_the_stranger_none(istv_home, december):
    for name, outcome in december.items():
        assert outcome.exit_code == (1 if name == CITY_OF_LONDON.name else 0), outcome.output
    assert "not a party to agreement cardiff-violence-prevention" in " ".join(
        december[CITY_OF_LONDON.name].output.split()
    )

    inside = _inside_south_wales_violence()
    crimes = pd.read_csv(SOUTH_WALES)
    no_location = crimes[(crimes["Crime type"] == "Violence and sexual offences") & crimes["Latitude"].isna()]
    assert len(no_location) > 0 and len(inside) > 500  # the test has something to tell apart
    direct = inside.apply(lambda r: h3.latlng_to_cell(r.Latitude, r.Longitude, 9), axis=1).value_counts()

    cells = _table(istv_home, "hotspot_cells").set_index("cell_id")
    published = cells.police_violence.reindex(direct.index)
    assert (published == direct).all(), published[published != direct]
    # Nothing else: no row without a location and no row outside Cardiff adds to any cell.
    assert int(cells.police_violence.sum()) == len(inside)

    joint = pd.read_parquet(istv_home.pseudonymised_file("joint", DECEMBER))
    police = joint[joint.source == "police_uk"]
    assert len(police) == len(inside) and police.cell_id.notna().all()
    shared = pd.read_parquet(istv_home.pseudonymised_file("police_uk", DECEMBER))
    assert set(shared.reported_by) == {"South Wales Police"} and set(shared.lsoa_code) <= set(
        pd.read_csv(CARDIFF_LSOAS, dtype=str).iloc[:, 0]
    )


def test_coverage_has_a_row_per_provider_and_none_for_the_refused_force(istv_home, december):
    coverage = _table(istv_home, "coverage")
    assert sorted(zip(coverage.source, coverage.provider)) == [
        ("ed", "7A4BV"),
        ("ed", "7A5B1"),
        ("police_uk", "South Wales Police"),
    ]
    summary = json.loads(istv_home.summary_file("ed", DECEMBER).read_text())
    assert {f["provider"] for f in summary["files"]} == {"7A4BV", "7A5B1"}
    assert sum(f["rows_received"] for f in summary["files"]) == 420
    assert set(pd.read_parquet(istv_home.pseudonymised_file("ed", DECEMBER)).site_code) == {"7A4BV", "7A5B1"}
    # Each ED's coverage reconciles: received = quarantined + out of scope or area + unlocated + shared.
    counts = summary["providers_counts"]
    for site in ("7A4BV", "7A5B1"):
        received = sum(f["rows_received"] for f in summary["files"] if f["provider"] == site)
        quarantined = sum(f["rows_quarantined"] for f in summary["files"] if f["provider"] == site)
        c = counts[site]
        assert (
            received
            == quarantined + c["rows_out_of_scope"] + c["rows_out_of_area"] + c["rows_unlocated"] + c["rows_shared"]
        ), c
