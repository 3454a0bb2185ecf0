"""The synthetic generator: deterministic, schema-shaped, and realistic where the pipeline cares."""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest

from pipelines.synthetic import (
    ED_BAD_KINDS,
    ED_LOCATION_TEMPLATES,
    HOT_PLACES,
    METHOD_SHARES,
    POLICE_BAD_KINDS,
    generate_frames,
    generate_month,
)
from schemas.model import load_codelist, load_schema

MONTH = "2024-03"
ED_HEADERS = [f.header for f in load_schema("ed_extract").fields]
POLICE_HEADERS = [f.header for f in load_schema("police_extract").fields]
ED_TIME = "%d/%m/%Y %H:%M"


def nhs_ok(s: str) -> bool:
    """Modulus 11, written independently of the generator."""
    digits = s.replace(" ", "")
    if not re.fullmatch(r"\d{10}", digits):
        return False
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1))) % 11
    return check != 10 and (0 if check == 11 else check) == int(digits[9])


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return generate_month(MONTH, tmp_path_factory.mktemp("syn"), seed=7, ed_rows=5000)


@pytest.fixture(scope="module")
def ed(files):
    return read(files["ed"])


@pytest.fixture(scope="module")
def police(files):
    return read(files["police"])


@pytest.fixture(scope="module")
def frames():
    return generate_frames(MONTH, seed=7, ed_rows=5000)


@pytest.fixture(scope="module")
def clean():
    return generate_frames(MONTH, seed=11, ed_rows=5000, bad_rows=False)


def test_same_seed_same_bytes_other_seed_or_month_differs(tmp_path):
    a = generate_month(MONTH, tmp_path / "a", seed=3, ed_rows=300)
    b = generate_month(MONTH, tmp_path / "b", seed=3, ed_rows=300)
    c = generate_month(MONTH, tmp_path / "c", seed=4, ed_rows=300)
    d = generate_month("2024-04", tmp_path / "d", seed=3, ed_rows=300)
    for source in ("ed", "police"):
        assert a[source].read_bytes() == b[source].read_bytes()
        assert a[source].read_bytes() != c[source].read_bytes()
    assert d["ed"].name == "ed_2024-04.csv" and d["police"].name == "police_2024-04.csv"


def test_frames_are_exactly_what_is_written(files, frames):
    ed, police = frames
    pd.testing.assert_frame_equal(read(files["ed"]), ed[ED_HEADERS].astype(str), check_dtype=False)
    pd.testing.assert_frame_equal(read(files["police"]), police[POLICE_HEADERS].astype(str), check_dtype=False)


def test_headers_and_row_counts(ed, police, tmp_path):
    assert list(ed.columns) == ED_HEADERS and list(police.columns) == POLICE_HEADERS
    assert len(ed) == 5000 and len(police) == 15000
    small = generate_month(MONTH, tmp_path / "new" / "dir", ed_rows=20, police_rows=7)
    assert len(read(small["ed"])) == 20 and len(read(small["police"])) == 7
    empty = generate_month(MONTH, tmp_path / "empty", ed_rows=0)
    assert list(read(empty["ed"]).columns) == ED_HEADERS and len(read(empty["police"])) == 0


def test_fixed_fields_and_identifier_formats(ed, police):
    assert set(ed["REPORTING PERIOD START DATE"]) == {"01/03/2024"}
    assert set(ed["REPORTING PERIOD END DATE"]) == {"31/03/2024"}
    assert set(ed["SITE CODE (OF TREATMENT)"]) == {"7A4BV"}
    ids = ed["ATTENDANCE IDENTIFIER"][ed["ATTENDANCE IDENTIFIER"] != ""]
    assert ids.str.fullmatch(r"ED\d{8}").all() and ids.is_unique
    refs = police["CRIME REFERENCE"][police["CRIME REFERENCE"] != ""]
    assert refs.str.fullmatch(r"SW/\d{6}/24").all() and refs.is_unique
    assert set(police["FORCE CODE"]) == {"SWP"}
    postcodes = ed["POSTCODE OF USUAL ADDRESS"]
    assert postcodes[postcodes != ""].str.fullmatch(r"CF(10|11|14|15|23|24|3|5) \d[A-Z]{2}").all()
    assert 0.01 < (postcodes == "").mean() < 0.08


def test_nhs_numbers_valid_except_deliberate_faults(frames):
    ed = frames[0]
    good = ed[ed["_bad"] != "nhs_check_digit"]["NHS NUMBER"]
    given = good[good != ""]
    assert 0.01 < (good == "").mean() < 0.06
    assert given.map(nhs_ok).all()
    assert given.str.fullmatch(r"\d{10}").any() and given.str.fullmatch(r"\d{3} \d{3} \d{4}").any()
    assert not ed.loc[ed["_bad"] == "nhs_check_digit", "NHS NUMBER"].map(nhs_ok).any()


def test_patients_mostly_young_men(ed):
    assault = pd.to_datetime(ed["ASSAULT DATE AND TIME"], format=ED_TIME)
    dob = pd.to_datetime(ed["PERSON BIRTH DATE"], format="%d/%m/%Y", errors="coerce")
    age = (assault - dob).dt.days / 365.25
    assert 0.6 < age.between(16, 45).mean() < 0.95 and age.median() < 32 and (age > 50).any()
    sex = ed["PERSON STATED GENDER CODE"].value_counts(normalize=True)
    assert 0.7 < sex["1"] < 0.8 and set(sex.index) <= load_codelist("sex").codes_set()


def test_times_inside_month_and_weekend_nights_dominate(ed, frames):
    assault = pd.to_datetime(ed["ASSAULT DATE AND TIME"], format=ED_TIME)
    assert assault.between("2024-03-01", "2024-03-31 23:59").all()
    dow, hour = assault.dt.day_of_week, assault.dt.hour
    # Friday and Saturday nights, 21:00-03:00; 01:00 on Sunday is still Saturday night.
    weekend_night = (dow.isin([4, 5]) & (hour >= 21)) | (dow.isin([5, 6]) & (hour < 3))
    assert weekend_night.mean() > 3 * 12 / 168
    assert (hour.between(8, 15)).mean() < 0.15
    good = frames[0]["_bad"] == ""
    arrival = pd.to_datetime(ed["ARRIVAL DATE AND TIME AT A&E"], format=ED_TIME)
    delay = (arrival - assault)[good.to_numpy()]
    assert delay.between(pd.Timedelta(minutes=10), pd.Timedelta(hours=6)).all()
    assert (arrival < datetime.now()).all()


def test_method_mix_close_to_targets(clean):
    share = clean[0]["ASSAULT METHOD"].value_counts(normalize=True)
    for code, target in METHOD_SHARES.items():
        assert abs(share[code] - target) < 0.025, code
    other = clean[0]["ASSAULT METHOD OTHER DESCRIPTION"] != ""
    assert (other == (clean[0]["ASSAULT METHOD"] == "06")).all()


def test_location_text_is_messy_and_personal(ed):
    assert any("o/s" in t for t in ED_LOCATION_TEMPLATES)
    text = ed["ASSAULT LOCATION DESCRIPTION"]
    assert text.str.contains("o/s", case=False, regex=False).mean() > 0.02
    assert text.str.contains(r"07700 900\d{3}").any()  # phone numbers the pipeline must strip
    assert text.str.contains(r"(?i)'s (?:house|flat)").any()  # people's names
    assert text.str.contains(r"\bCF\d+ \d[A-Z]{2}\b", case=False).any()  # addresses with postcodes
    useless = text.str.lower().isin(["", "unknown", "n/k", "nk", "?", "can't remember", "pt unsure", "town"])
    assert 0.01 < (text == "").mean() < 0.06 and 0.07 < useless.mean() < 0.14
    assert text.str.contains(r"\bst\b").any() and (text.str.upper() == text).mean() > 0.05
    codes = ed["ASSAULT LOCATION TYPE"]
    assert set(codes) <= load_codelist("location_type").codes_set()
    assert 0.10 < (codes == "03").mean() < 0.20 and 0.2 < (codes == "01").mean() < 0.45


def test_hotspots_in_the_city_centre(frames):
    ed = frames[0]
    top = ed["_place_id"].value_counts().head(len(HOT_PLACES))
    assert top.sum() / len(ed) > 0.25  # a dozen places hold a large share of assaults


def test_police_fields(police, frames):
    good = (frames[1]["_bad"] == "").to_numpy()
    p = police[good]
    assert set(p["HOME OFFICE OFFENCE CODE"]) <= load_codelist("violent_offence").codes_set()
    top = p["HOME OFFICE OFFENCE CODE"].value_counts().index[:2]
    assert set(top) == {"105/01", "008/01"}
    start = pd.to_datetime(p["COMMITTED FROM"], format="%Y-%m-%d %H:%M:%S")
    assert start.between("2024-03-01", "2024-03-31 23:59").all()
    end = pd.to_datetime(p["COMMITTED TO"].replace("", None), format="%Y-%m-%d %H:%M:%S")
    gap = (end - start).dropna()
    assert gap.between(pd.Timedelta(0), pd.Timedelta(hours=1)).all() and end.isna().any()
    lat = p["LATITUDE"]
    assert lat[lat != ""].str.fullmatch(r"51\.\d{6}").all()
    assert p["LONGITUDE"][p["LONGITUDE"] != ""].str.fullmatch(r"-3\.\d{6}").all()
    assert 0.03 < (lat == "").mean() < 0.15
    assert set(p["WEAPON USED"]) <= {"Y", "N", ""} and set(p["VICTIM SEX"]) <= {"1", "2", "9", "X"}
    assert p["LOCATION"].str.contains("O/S ").any() and p["LOCATION"].str.contains(r"^\d+ [A-Z]").any()


def test_about_40_percent_of_ed_assaults_known_to_police(frames):
    ed, police = frames
    linked = police[police["_incident"] >= 0].merge(
        ed, left_on="_incident", right_on="_incident", suffixes=("_p", "_e")
    )
    assert abs(len(linked) / len(ed) - 0.40) < 0.01 and linked["_incident"].is_unique
    assert (linked["_place_id_p"] == linked["_place_id_e"]).all()
    gap = (
        pd.to_datetime(linked["COMMITTED FROM"], format="%Y-%m-%d %H:%M:%S")
        - pd.to_datetime(linked["ASSAULT DATE AND TIME"], format=ED_TIME)
    ).abs()
    assert (gap <= pd.Timedelta(minutes=30)).all()
    # Without the truth column: an ED row with a police row at the same place within 30 minutes.
    pairs = ed.reset_index().merge(police, on="_place_id")
    gap = (
        pd.to_datetime(pairs["COMMITTED FROM"], format="%Y-%m-%d %H:%M:%S")
        - pd.to_datetime(pairs["ASSAULT DATE AND TIME"], format=ED_TIME)
    ).abs()
    matched = pairs.loc[gap <= pd.Timedelta(minutes=30), "index"].nunique() / len(ed)
    assert 0.38 < matched < 0.6


def ed_faults(ed: pd.DataFrame) -> pd.Series:
    """Rows a validator would reject, found from the file alone."""
    methods = load_codelist("assault_method").codes_set()
    assault = pd.to_datetime(ed["ASSAULT DATE AND TIME"], format=ED_TIME)
    arrival = pd.to_datetime(ed["ARRIVAL DATE AND TIME AT A&E"], format=ED_TIME)
    dob = pd.to_datetime(ed["PERSON BIRTH DATE"], format="%d/%m/%Y", errors="coerce")
    nhs = ed["NHS NUMBER"]
    return (
        ~ed["ASSAULT METHOD"].isin(methods)
        | (assault > arrival)
        | dob.isna()
        | ((nhs != "") & ~nhs.map(nhs_ok))
        | (ed["ATTENDANCE IDENTIFIER"] == "")
    )


def police_faults(police: pd.DataFrame) -> pd.Series:
    offences = load_codelist("violent_offence").codes_set()
    lat = police["LATITUDE"]
    bad_lat = (lat != "") & pd.to_numeric(lat, errors="coerce").isna()
    return (police["CRIME REFERENCE"] == "") | ~police["HOME OFFICE OFFENCE CODE"].isin(offences) | bad_lat


def test_bad_rows_are_the_flagged_ones_and_all_kinds_appear(ed, police, frames):
    assert (ed_faults(ed) == (frames[0]["_bad"] != "")).all()
    assert (police_faults(police) == (frames[1]["_bad"] != "")).all()
    assert set(frames[0]["_bad"]) == {"", *ED_BAD_KINDS} and (frames[0]["_bad"] != "").sum() == 50
    assert set(frames[1]["_bad"]) == {"", *POLICE_BAD_KINDS} and (frames[1]["_bad"] != "").sum() == 150
    assert (police["LATITUDE"] == "abc").any() and ed["PERSON BIRTH DATE"].str.startswith("31/02/").any()


def test_no_bad_rows_when_not_asked_or_too_few_rows(clean, tmp_path):
    assert not ed_faults(clean[0][ED_HEADERS]).any() and not police_faults(clean[1][POLICE_HEADERS]).any()
    small = generate_month(MONTH, tmp_path, ed_rows=20, police_rows=49)
    assert not ed_faults(read(small["ed"])).any() and not police_faults(read(small["police"])).any()
    ed, police = generate_frames(MONTH, ed_rows=20)  # the rule is per file: 60 police rows get one
    assert (ed["_bad"] != "").sum() == 0 and (police["_bad"] != "").sum() == 1
    ed, police = generate_frames(MONTH, ed_rows=20, bad_rows=2)  # asked for: exactly that many
    assert (ed["_bad"] != "").sum() == 2 and (police["_bad"] != "").sum() == 2
    assert ed_faults(ed[ED_HEADERS]).sum() == 2 and police_faults(police[POLICE_HEADERS]).sum() == 2


@pytest.mark.parametrize("month", ["2024-13", "24-03", "2999-01"])
def test_rejects_bad_or_unfinished_months(month, tmp_path):
    with pytest.raises(ValueError):
        generate_month(month, tmp_path)
