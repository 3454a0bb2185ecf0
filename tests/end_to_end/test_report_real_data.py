"""On the real South Wales open data for October to December 2018 (with synthetic ED data),
the police counts of the report's top cells match an independent DuckDB query of the raw files
exactly: the bundled agreement declares police open data public, so its counts are published as
they are, while the ED counts beside them are perturbed (and withheld where they would show below
the agreement's cell minimum: such a cell's combined count is withheld too, so it is not ranked)."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import h3
import pandas as pd
import pytest

from ingest.landing import place
from pipelines.runs import run_month
from pipelines.synthetic import generate_month
from report.page import render_report
from tests.conftest import DATA

pytestmark = pytest.mark.slow
MONTHS = ("2018-10", "2018-11", "2018-12")
ROW = re.compile(r'<tr data-cell="([0-9a-f]{15})">(.*?)</tr>', re.S)


def _independent_police_counts(month: str) -> dict[str, int]:
    """Straight from the CSV: violence rows in Cardiff's LSOAs (the bundled ONS list), per H3 cell."""
    points = duckdb.sql(
        f"""SELECT "Latitude" AS lat, "Longitude" AS lon, count(*) AS n
            FROM read_csv('{DATA / "police_uk" / f"{month}-south-wales-street.csv"}', header = true)
            WHERE "Crime type" = 'Violence and sexual offences' AND "Latitude" IS NOT NULL
              AND "LSOA code" IN (SELECT lsoa_code FROM read_csv('{DATA / "boundaries" / "W06000015-lsoas.csv"}'))
            GROUP BY ALL"""
    ).fetchall()
    counts: dict[str, int] = {}
    for lat, lon, n in points:
        cell = h3.latlng_to_cell(lat, lon, 9)
        counts[cell] = counts.get(cell, 0) + n
    return counts


def test_report_top_cells_match_the_raw_police_files(istv_home, tmp_path):
    for month in MONTHS:
        when = dt.datetime.strptime(month, "%Y-%m").date()
        place(istv_home, "police_uk", when, DATA / "police_uk" / f"{month}-south-wales-street.csv")
        place(istv_home, "ed", when, generate_month(month, tmp_path, seed=9, ed_rows=300)["ed"])
        assert run_month(when, istv_home).success
        html = render_report(istv_home.warehouse, when, tmp_path / f"{month}.html").read_text()
        rows = ROW.findall(html)
        expected = _independent_police_counts(month)
        with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
            published = dict(
                con.execute("SELECT cell_id, ed_assaults FROM hotspot_cells WHERE month = ?", [when]).fetchall()
            )
            ranked = con.execute(
                "SELECT count(*) FROM hotspot_cells WHERE month = ? AND rank IS NOT NULL", [when]
            ).fetchone()[0]
        assert len(rows) == min(10, ranked) and len(rows) >= 5
        joint = pd.read_parquet(istv_home.pseudonymised_file("joint", when))
        raw_ed = joint[joint.source == "ed"].groupby("cell_id").size()
        for cell, cells_html in rows:
            _rank, ed, police, combined = re.findall(r'<td class="num">(.*?)</td>', cells_html)[:4]
            assert police == str(expected.get(cell, 0)), (month, cell, police, expected.get(cell))
            # The ED count is the published (perturbed) one; combined holds the same ED records,
            # so the same perturbation, plus the public police count exactly.
            assert int(ed) == published[cell] and abs(int(ed) - raw_ed.get(cell, 0)) <= 4
            assert int(combined) == int(ed) + expected.get(cell, 0), (month, cell)
