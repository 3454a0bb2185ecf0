"""The agreement's area is Cardiff's real geography: a row is inside when its LSOA is one of
Cardiff's, or, naming none, when its point is within Cardiff's boundary; a row with neither is
never inside. Checked on real data.police.uk files against counts made straight from the CSV."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anonymise.apply import COUNTS, apply_rules
from anonymise.locate import Resolution
from anonymise.locate_batches import LocationResolver
from anonymise.pseudonyms import NORMALISERS, pseudonymise
from ingest.parse import parse_extract
from ingest.pseudonymise import pseudonymise_file
from schemas import schema_for_source
from sharing_agreements.model import BOUNDARIES_DIR, AgreementError, load_agreement
from tests.conftest import DATA, REPO
from tests.unit.anonymise.test_apply_rules import AGREEMENT, _code_keys, _keys, _normalisers, _str, _ts

VIOLENCE = "Violence and sexual offences"
BUNDLED = DATA / "police_uk" / "2018-12-south-wales-street.csv"
LONDON = DATA / "police_uk" / "2024-06-city-of-london-street.csv"
EVERY_MONTH = sorted((DATA / "police_uk").glob("*-street.csv"))  # South Wales 2018-10 to 12, City of London 2024-06
CITY_CENTRE, PENARTH, CAERPHILLY = (51.4816, -3.1791), (51.4386, -3.1742), (51.5750, -3.2180)


def _cardiff_lsoas() -> set[str]:
    """Read here with the csv module, apart from the code under test."""
    with (BOUNDARIES_DIR / "W06000015-lsoas.csv").open(newline="", encoding="utf-8") as rows:
        return {row["lsoa_code"] for row in csv.DictReader(rows)}


def _violence(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return raw[raw["Crime type"] == VIOLENCE]


def _typed(path: Path, folder: Path) -> Path:
    typed = folder / f"{path.stem}.parquet"
    extract = parse_extract(
        path,
        schema_for_source("police_uk"),
        dt.date.fromisoformat(f"{path.name[:7]}-01"),
        typed,
        now=dt.datetime(2026, 12, 1),
    )
    assert extract.quarantined.empty  # so that the CSV's rows are the rows pseudonymised
    return typed


def _pseudonymised(typed: Path, out: Path):
    keys = _keys(AGREEMENT.rules_for("police_uk"))
    result = pseudonymise_file(typed, out, "police_uk", AGREEMENT, keys, LocationResolver(()))
    return result, pd.read_parquet(out), keys["crime_id"]


@pytest.fixture(scope="module", params=EVERY_MONTH, ids=lambda p: p.name)
def month(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("area")
    result, rows, key = _pseudonymised(_typed(request.param, folder), folder / "out.parquet")
    violence = _violence(request.param)
    normalise = NORMALISERS[_normalisers("police_uk").get("crime_id", "reference")]
    violence = violence.assign(pseudonym=pseudonymise(violence["Crime ID"].tolist(), key, normalise))
    return violence, result, set(rows["crime_id_pseudonym"])


def test_rows_kept_are_the_violence_rows_in_cardiffs_lsoas(month):
    violence, result, shared = month
    in_cardiff = violence["LSOA code"].isin(_cardiff_lsoas())
    assert result.counts["rows_shared"] == int(in_cardiff.sum()) == len(shared)
    assert shared == set(violence.loc[in_cardiff, "pseudonym"])


def test_rows_without_a_location_are_never_inside(month):
    violence, result, shared = month
    nowhere = (violence["LSOA code"] == "") & (violence["Latitude"] == "") & (violence["Longitude"] == "")
    assert nowhere.any()  # every one of these files has some
    assert shared.isdisjoint(violence.loc[nowhere, "pseudonym"])
    assert result.counts["rows_unlocated"] == int(nowhere.sum())


def test_the_bundled_month_has_rows_in_both_neighbours():
    names = _violence(BUNDLED)["LSOA name"]
    assert names.str.startswith("The Vale of Glamorgan").sum() > 50 and names.str.startswith("Rhondda").sum() > 50


def test_the_neighbours_lsoas_are_outside(month):
    violence, result, shared = month
    # data.police.uk names the Vale's LSOAs "The Vale of Glamorgan 001A" and so on.
    neighbours = violence["LSOA name"].str.startswith(("The Vale of Glamorgan", "Vale of Glamorgan", "Rhondda"))
    assert shared.isdisjoint(violence.loc[neighbours, "pseudonym"])
    located_elsewhere = (violence["LSOA code"] != "") & ~violence["LSOA code"].isin(_cardiff_lsoas())
    assert result.counts["rows_out_of_area"] == int(located_elsewhere.sum()) >= int(neighbours.sum())


def test_the_counts_add_up(month):
    violence, result, _ = month
    counts = result.counts
    assert counts["rows_in"] == (
        counts["rows_out_of_scope"] + counts["rows_out_of_area"] + counts["rows_unlocated"] + counts["rows_shared"]
    )
    assert counts["rows_located"] == counts["rows_shared"]  # police open data: a point wherever an LSOA
    assert result.counts_by_provider == {violence["Reported by"].iloc[0]: counts}  # one force's file


def test_a_file_of_several_forces_is_counted_for_each(tmp_path):
    """South Wales (Cardiff's force) and the City of London in one file: the City's rows are all
    outside, and each force's counts are its own file's."""
    alone = {}
    for path in (BUNDLED, LONDON):
        typed = _typed(path, tmp_path)
        alone[_violence(path)["Reported by"].iloc[0]] = _pseudonymised(typed, tmp_path / f"{path.stem}-out.parquet")[
            0
        ].counts
    both = tmp_path / "both.parquet"
    pq.write_table(pa.concat_tables([pq.read_table(_typed(p, tmp_path)) for p in (BUNDLED, LONDON)]), both)
    result, rows, _ = _pseudonymised(both, tmp_path / "both-out.parquet")
    assert result.counts_by_provider == alone
    assert alone["City of London Police"]["rows_shared"] == 0
    assert result.counts == {name: sum(counts[name] for counts in alone.values()) for name in COUNTS}
    assert set(rows["reported_by"]) == {"South Wales Police"}


# ---------------------------------------------------------------- points and LSOAs


def _police(points: list[tuple[float | None, float | None]], texts: list[str | None] | None = None) -> pd.DataFrame:
    """Police record-management rows: no LSOA, a point measured or resolved from the text."""
    n = len(points)
    return pd.DataFrame(
        {
            "force_code": _str(["62"] * n),
            "crime_reference": _str([f"SW/{100 + i}/18" for i in range(n)]),
            "offence_code": _str(["008/01"] * n),
            "offence_description": _str(["ABH"] * n),
            "committed_from": _ts(["2024-03-09 23:30:00"] * n, "datetime"),
            "committed_to": _ts([None] * n, "datetime"),
            "location_text": _str(texts or [None] * n),
            "latitude": pd.Series([p[0] for p in points], dtype="float64"),
            "longitude": pd.Series([p[1] for p in points], dtype="float64"),
            "victim_date_of_birth": _ts([None] * n, "date"),
            "victim_sex": _str(["2"] * n),
            "weapon_flag": _str(["N"] * n),
        }
    )


def _apply_police(frame: pd.DataFrame, resolved: dict | None = None):
    nowhere = Resolution("unlocated", None, None, None, None, None)
    rules = AGREEMENT.rules_for("police")
    return apply_rules(
        frame,
        rules,
        field_keys=_keys(rules),
        code_keys=_code_keys("police"),
        normalisers=_normalisers("police"),
        resolve_places=lambda column: (
            [(resolved or {}).get(t, nowhere) for t in column.to_pylist()],
            np.arange(len(column)),
        ),
        h3_resolution=9,
        area=AGREEMENT.area.geography(),
        provider_field="force_code",
    )


def test_a_point_is_inside_only_within_cardiffs_boundary():
    area = AGREEMENT.area.geography()
    latitude = pd.Series([CITY_CENTRE[0], PENARTH[0], CAERPHILLY[0]])
    longitude = pd.Series([CITY_CENTRE[1], PENARTH[1], CAERPHILLY[1]])
    placed = area.place(latitude, longitude)
    assert placed.inside.tolist() == [True, False, False]  # Penarth: the Vale of Glamorgan
    assert placed.located.all()


def test_police_rows_are_placed_by_their_point():
    result = _apply_police(_police([CITY_CENTRE, PENARTH, CAERPHILLY, (None, None)]))
    counts = result.counts
    assert (counts["rows_shared"], counts["rows_out_of_area"], counts["rows_unlocated"]) == (1, 2, 1)
    assert result.counts_by_provider == {"62": counts}


def test_a_place_resolved_from_text_is_a_point_like_any_other():
    resolved = {
        "castle st": Resolution("street", "street:castle-st", "Castle Street", 51.4813, -3.1820, None),
        "penarth pier": Resolution("venue", "venue:pier", "Penarth Pier", 51.4346, -3.1665, None),
    }
    result = _apply_police(_police([(None, None)] * 3, ["castle st", "penarth pier", "at home"]), resolved)
    assert result.rows["place_id"].tolist() == ["street:castle-st"]
    assert (result.counts["rows_out_of_area"], result.counts["rows_unlocated"]) == (1, 1)


def test_an_lsoa_decides_over_a_point_and_a_blank_one_names_none():
    area = AGREEMENT.area.geography()
    cardiff_lsoa = sorted(_cardiff_lsoas())[0]
    placed = area.place(
        pd.Series([CITY_CENTRE[0], PENARTH[0], PENARTH[0], CITY_CENTRE[0], None]),
        pd.Series([CITY_CENTRE[1], PENARTH[1], PENARTH[1], CITY_CENTRE[1], None]),
        pd.Series(["W01001105", cardiff_lsoa, " ", "", None], dtype="string"),  # The Vale of Glamorgan 001A
    )
    assert placed.inside.tolist() == [False, True, False, True, False]
    assert placed.located.tolist() == [True, True, True, True, False]


# ---------------------------------------------------------------- the agreement's area


def _agreement_with_area(tmp_path, area: str) -> Path:
    text = (REPO / "sharing_agreements" / "cardiff-violence-prevention.yaml").read_text(encoding="utf-8")
    start = text.index("\narea:\n") + 1
    end = text.index("\nspatial:", start) + 1
    path = tmp_path / "agreement.yaml"
    path.write_text(text[:start] + area + text[end:], encoding="utf-8")
    return path


def test_the_bundled_agreement_names_cardiff_by_its_ons_code():
    area = load_agreement().area
    assert (area.name, area.local_authorities) == ("Cardiff", ["W06000015"])
    assert _cardiff_lsoas() <= area.geography().lsoa_codes


def test_an_area_given_only_as_a_box_is_refused(tmp_path):
    path = _agreement_with_area(
        tmp_path,
        "area:\n  name: Cardiff\n  bbox: {min_latitude: 51.38, max_latitude: 51.56, "
        "min_longitude: -3.35, max_longitude: -3.05}\n",
    )
    with pytest.raises(AgreementError, match="line [0-9]+, area: .*declare local_authorities"):
        load_agreement(path)


def test_a_local_authority_without_bundled_boundaries_is_refused(tmp_path):
    path = _agreement_with_area(tmp_path, "area:\n  name: Swansea\n  local_authorities: [W06000011]\n")
    with pytest.raises(AgreementError, match="no boundary is bundled for local authority W06000011"):
        load_agreement(path)
