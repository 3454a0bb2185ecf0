"""apply_rules under the real Cardiff agreement: deny by default, pseudonyms, generalisation,
code-list keys, scope and the area filter (only rows placed inside Cardiff are shared)."""

from __future__ import annotations

import datetime as dt

import h3
import numpy as np
import pandas as pd
import pytest

from anonymise.apply import apply_rules
from anonymise.keys import derive_field_key
from anonymise.locate import Resolution
from anonymise.nhs_number import normalise_nhs_number
from anonymise.pseudonyms import normalise_reference, pseudonymise
from schemas import load_codelist, schema_for_source
from sharing_agreements.model import load_agreement

MASTER = bytes(range(7, 47))
AGREEMENT = load_agreement()

# Resolved places (fake gazetteer). Coordinates of real Cardiff spots and one in Bristol.
KAPU = Resolution("venue", "venue:kapu", "Kapu", 51.4790, -3.1760, None)
QUEEN_ST = Resolution("street", "street:queen-st", "Queen Street", 51.4820, -3.1740, None)
BRISTOL = Resolution("venue", "venue:bristol-bar", "Bristol Bar", 51.4545, -2.5879, None)
PRIVATE = Resolution("private", None, None, None, None, "CF24")
UNLOCATED = Resolution("unlocated", None, None, None, None, None)

PLACE_TEXTS = {
    "o/s kapu st mary st, pt John Smith 07700900123": KAPU,
    "queen st near the fountain": QUEEN_ST,
    "bristol bar, bristol": BRISTOL,
    "pts flat 12 acacia avenue cf24 3as": PRIVATE,
    "n/k": UNLOCATED,
}
# The same texts where the gazetteer placed every one but the Bristol bar in Cardiff: for the
# tests of what the rules do to a shared row's fields, all rows but one are shared.
CARDIFF_STREET = Resolution("street", "street:st-mary-st", "St Mary Street", 51.4780, -3.1770, None)
PLACED_TEXTS = {
    **PLACE_TEXTS,
    "pts flat 12 acacia avenue cf24 3as": CARDIFF_STREET,
    "n/k": CARDIFF_STREET,
    None: CARDIFF_STREET,
}


class FakeResolver:
    def __init__(self, texts: dict | None = None):
        self.texts = texts or {**PLACE_TEXTS, None: UNLOCATED}
        self.calls: list[list[str | None]] = []

    def __call__(self, column):  # as LocationResolver.resolve_rows: resolutions, rows' positions
        texts = column.to_pylist()
        self.calls.append(texts)
        return [self.texts[t] for t in texts], np.arange(len(texts))


def _keys(rules, version: int = AGREEMENT.version) -> dict[str, bytes]:
    return {
        name: derive_field_key(MASTER, AGREEMENT.id, version, name)
        for name, rule in rules.fields.items()
        if rule.action == "pseudonymise"
    }


def _code_keys(source: str) -> dict[str, dict[str, str]]:
    schema = schema_for_source(source)
    return {f.name: load_codelist(f.codelist).key_for() for f in schema.fields if f.codelist}


def _normalisers(source: str) -> dict[str, str]:
    schema = schema_for_source(source)
    return {f.name: f.check for f in schema.fields if f.check}


def _ts(values, kind: str) -> pd.Series:
    return pd.Series(pd.to_datetime(values, format="ISO8601"), dtype="datetime64[us]")


def _str(values) -> pd.Series:
    return pd.Series(values, dtype="string")


# ---------------------------------------------------------------- ED

NHS_SPACED = "943 476 5919"
NHS_PLAIN = "9434765919"
NHS_OTHER = "9434765870"
DOB_0 = "1990-03-10"
ARRIVAL_0 = "2024-03-10 01:47:00"
OTHER_METHOD_TEXT = "hit with a Stella bottle by Dave Jones"


def ed_frame() -> pd.DataFrame:
    n = 6
    return pd.DataFrame(
        {
            "reporting_period_start": _ts(["2024-03-01"] * n, "date"),
            "reporting_period_end": _ts(["2024-03-31"] * n, "date"),
            "site_code": _str(["7A4BV"] * n),
            "attendance_id": _str(
                ["ATT-000101", "att-000102 ", "ATT-000103", "ATT-000104", "ATT-000105", "ATT-000106"]
            ),
            "nhs_number": _str([NHS_SPACED, NHS_PLAIN, NHS_OTHER, None, "401 023 2137", "450 557 7104"]),
            "date_of_birth": _ts([DOB_0, "1990-03-10", None, "2004-12-31", "1961-08-02", "2001-01-15"], "date"),
            "sex": _str(["1", "1", "2", None, "X", "9"]),
            "home_postcode": _str(["CF24 4HU", "cf10 1aa", None, "not a postcode", "CF5 2XX", "BS1 4DJ"]),
            "arrival_datetime": _ts(
                [
                    ARRIVAL_0,
                    "2024-03-10 03:12:00",
                    "2024-03-16 23:58:00",
                    "2024-03-17 04:41:00",
                    "2024-03-20 15:33:00",
                    "2024-03-31 23:59:00",
                ],
                "datetime",
            ),
            "assault_datetime": _ts(
                # Sat 23:30 (day before the 34th birthday), Sun 02:15 (on it), Sat, Sun, Wed, Sun
                [
                    "2024-03-09 23:30:00",
                    "2024-03-10 02:15:00",
                    "2024-03-16 22:00:00",
                    "2024-03-17 03:00:00",
                    "2024-03-20 14:00:00",
                    "2024-03-31 23:00:00",
                ],
                "datetime",
            ),
            "assault_method": _str(["03", "01", "06", "99", "04", "02"]),
            "assault_method_other": _str([None, None, OTHER_METHOD_TEXT, None, None, None]),
            "assault_location_type": _str(["01", "02", "01", "03", "99", "02"]),
            "assault_location_description": _str(
                [
                    "o/s kapu st mary st, pt John Smith 07700900123",
                    "queen st near the fountain",
                    "bristol bar, bristol",
                    "pts flat 12 acacia avenue cf24 3as",
                    "n/k",
                    None,
                ]
            ),
        }
    )


def _apply(source, frame, resolver):
    rules = AGREEMENT.rules_for(source)
    return apply_rules(
        frame,
        rules,
        field_keys=_keys(rules),
        code_keys=_code_keys(source),
        normalisers=_normalisers(source),
        resolve_places=resolver,
        h3_resolution=AGREEMENT.spatial.h3_resolution,
        area=AGREEMENT.area.geography(),
        provider_field=schema_for_source(source).provider_field,
        lsoa_field="lsoa_code" if source == "police_uk" else None,
    )


@pytest.fixture(scope="module")
def ed_result():
    resolver = FakeResolver()
    return _apply("ed", ed_frame(), resolver), resolver


@pytest.fixture(scope="module")
def ed_placed():
    """Every row placed in Cardiff but the Bristol bar's: five of the six rows shared."""
    return _apply("ed", ed_frame(), FakeResolver(PLACED_TEXTS))


def test_test_frame_matches_the_ed_schema():
    assert list(ed_frame().columns) == schema_for_source("ed").field_names


def test_ed_output_has_only_what_rules_produce(ed_result):
    result, _ = ed_result
    assert set(result.rows.columns) == {
        "site_code",
        "attendance_id_pseudonym",
        "nhs_number_pseudonym",
        "age_band",
        "sex",
        "postcode_district",
        "month",
        "weekday",
        "hour",
        "event_hour",
        "assault_method",
        "assault_location_type",
        "place_status",
        "place_id",
        "place_name",
        "cell_id",
    }


@pytest.mark.parametrize(
    "column",
    [
        "nhs_number",
        "attendance_id",
        "date_of_birth",
        "home_postcode",
        "assault_location_description",
        "arrival_datetime",
        "assault_datetime",
        "assault_method_other",
        "reporting_period_start",
        "reporting_period_end",
    ],
)
def test_ed_raw_fields_are_not_output_columns(ed_result, column):
    result, _ = ed_result
    assert column not in result.rows.columns


def _all_cells_as_text(frame: pd.DataFrame) -> list[str]:
    return [str(v) for column in frame.columns for v in frame[column].tolist()]


ED_SECRETS = [
    NHS_PLAIN,
    NHS_SPACED,
    NHS_OTHER,
    "401 023 2137",
    "ATT-000101",
    "000101",
    DOB_0,
    "CF24 4HU",
    "4HU",
    "CF10 1AA",
    "cf10 1aa",
    "not a postcode",
    "BS1 4DJ",
    "01:47",
    "2024-03-10 01:47",
    "23:30",
    "Stella",
    "Dave Jones",
    "John Smith",
    "07700900123",
    "kapu st mary st",
    "acacia",
    "3as",
    "fountain",
    "bristol bar, bristol",
    "n/k",
]


@pytest.mark.parametrize("secret", ED_SECRETS)
def test_ed_raw_values_do_not_appear_in_output(ed_placed, secret):
    result = ed_placed
    leaks = [v for v in _all_cells_as_text(result.rows) if secret.lower() in v.lower()]
    assert leaks == []


def test_ed_leak_check_is_meaningful():
    # Every value the leak test looks for is really in the input (so the test could fail).
    frame = ed_frame()
    text = " ".join(_all_cells_as_text(frame)).lower()
    for secret in ED_SECRETS:
        assert secret.lower() in text, secret


def test_ed_no_datetime_finer_than_the_hour_survives(ed_placed):
    result = ed_placed
    for column in result.rows.columns:
        values = result.rows[column]
        if column == "month":  # a date: the first of the month
            assert {d.day for d in values.dropna()} == {1}
        elif pd.api.types.is_datetime64_any_dtype(values):
            assert column == "event_hour"
            assert (values.dropna() == values.dropna().dt.floor("h")).all()


def test_ed_counts_and_out_of_area(ed_result):
    result, _ = ed_result
    counts = result.counts
    assert counts["rows_in"] == 6
    assert counts["rows_out_of_scope"] == 0
    assert counts["rows_out_of_area"] == 1  # the Bristol bar
    # A private dwelling, an unknown place and no text: nothing says they were in Cardiff.
    assert counts["rows_unlocated"] == 3
    assert counts["rows_private"] == 1
    assert counts["rows_ambiguous"] == 0
    assert counts["rows_shared"] == len(result.rows) == 2
    assert counts["rows_located"] == 2
    assert counts["rows_in"] == (
        counts["rows_out_of_scope"] + counts["rows_out_of_area"] + counts["rows_unlocated"] + counts["rows_shared"]
    )
    assert result.counts_by_provider == {"7A4BV": counts}
    assert result.rows["place_id"].tolist() == ["venue:kapu", "street:queen-st"]


def test_ed_resolver_sees_the_texts_in_row_order(ed_result):
    _, resolver = ed_result
    assert resolver.calls == [
        [
            "o/s kapu st mary st, pt John Smith 07700900123",
            "queen st near the fountain",
            "bristol bar, bristol",
            "pts flat 12 acacia avenue cf24 3as",
            "n/k",
            None,
        ]
    ]


def test_ed_pseudonyms(ed_placed):
    result = ed_placed
    rows = result.rows
    nhs_key = derive_field_key(MASTER, AGREEMENT.id, AGREEMENT.version, "nhs_number")
    att_key = derive_field_key(MASTER, AGREEMENT.id, AGREEMENT.version, "attendance_id")
    expected_nhs = pseudonymise([NHS_PLAIN], nhs_key, normalise_nhs_number)[0]
    # The same patient typed two ways gets one pseudonym.
    assert rows.loc[0, "nhs_number_pseudonym"] == expected_nhs
    assert rows.loc[1, "nhs_number_pseudonym"] == expected_nhs
    # Row 2 (Bristol) was removed; the next row has no NHS number.
    assert pd.isna(rows.loc[2, "nhs_number_pseudonym"])
    assert rows["nhs_number_pseudonym"].dropna().str.fullmatch(r"[0-9a-f]{64}").all()
    assert rows["attendance_id_pseudonym"].tolist()[:2] == pseudonymise(
        ["ATT-000101", "ATT-000102"], att_key, normalise_reference
    )
    assert rows["attendance_id_pseudonym"].nunique() == 5
    # Field keys differ: the NHS pseudonym is not the attendance pseudonym of anything.
    assert set(rows["nhs_number_pseudonym"].dropna()).isdisjoint(rows["attendance_id_pseudonym"])


def test_ed_pseudonyms_change_with_agreement_version():
    rules = AGREEMENT.rules_for("ed")
    kwargs = {
        "code_keys": _code_keys("ed"),
        "normalisers": _normalisers("ed"),
        "resolve_places": FakeResolver(),
        "h3_resolution": 9,
        "area": AGREEMENT.area.geography(),
        "provider_field": "site_code",
    }
    v1 = apply_rules(ed_frame(), rules, field_keys=_keys(rules, 1), **kwargs).rows
    v2 = apply_rules(ed_frame(), rules, field_keys=_keys(rules, 2), **kwargs).rows
    for column in ("nhs_number_pseudonym", "attendance_id_pseudonym"):
        assert set(v1[column].dropna()).isdisjoint(set(v2[column].dropna())), column
        assert v1[column].notna().sum() == v2[column].notna().sum()


def test_ed_generalisations(ed_placed):
    result = ed_placed
    rows = result.rows
    # Rows after removing the Bristol row: original rows 0, 1, 3, 4, 5.
    # Ages at the assault: 33 (day before the birthday), 34 (on it), 19, 62, 23.
    assert rows["age_band"].tolist()[0] == "30-34"
    assert rows["age_band"].tolist()[1] == "30-34"
    assert rows["age_band"].tolist()[2] == "15-19"
    assert rows["age_band"].tolist()[3] == "60-64"
    assert rows["age_band"].tolist()[4] == "20-24"
    assert rows["postcode_district"].tolist()[:2] == ["CF24", "CF10"]
    assert pd.isna(rows.loc[2, "postcode_district"])  # 'not a postcode'
    assert rows.loc[3, "postcode_district"] == "CF5"
    assert rows.loc[4, "postcode_district"] == "BS1"
    assert rows["month"].tolist() == [dt.date(2024, 3, 1)] * 5
    assert rows["weekday"].tolist() == [6, 7, 7, 3, 7]
    assert rows["hour"].tolist() == [23, 2, 3, 14, 23]


def test_ed_age_band_birthday_boundary():
    frame = ed_frame()
    # With 5-year bands a birthday only shows at a band edge: born 10 March 1989, the patient is
    # 34 on 9 March 2024 (the day before the birthday) and 35 on 10 March 2024.
    frame.loc[0, "date_of_birth"] = pd.Timestamp("1989-03-10")
    frame.loc[1, "date_of_birth"] = pd.Timestamp("1989-03-10")
    rows = _apply("ed", frame, FakeResolver()).rows
    assert rows.loc[0, "age_band"] == "30-34"  # 2024-03-09: day before the 35th birthday
    assert rows.loc[1, "age_band"] == "35-39"  # 2024-03-10: the birthday


def test_ed_missing_dob_gives_missing_age_band():
    frame = ed_frame()
    frame.loc[0, "date_of_birth"] = pd.NaT
    rows = _apply("ed", frame, FakeResolver()).rows
    assert pd.isna(rows.loc[0, "age_band"])
    assert rows.loc[1, "age_band"] == "30-34"


def test_ed_code_lists_mapped_to_keys(ed_placed):
    result = ed_placed
    rows = result.rows
    assert rows["sex"].tolist()[:2] == ["male", "male"]
    assert pd.isna(rows.loc[2, "sex"])
    assert rows["sex"].tolist()[3:] == ["not_known", "indeterminate"]
    assert rows["assault_method"].tolist() == ["glass_or_bottle", "fist", "not_known", "knife", "foot"]
    assert rows["assault_location_type"].tolist() == [
        "licensed_premises",
        "street",
        "private_dwelling",
        "not_known",
        "street",
    ]
    assert rows["site_code"].tolist() == ["7A4BV"] * 5  # kept, no code list


def test_ed_places_and_cells(ed_result):
    result, _ = ed_result
    rows = result.rows
    assert rows["place_status"].tolist() == ["venue", "street"]
    assert rows["place_id"].tolist() == ["venue:kapu", "street:queen-st"]
    assert rows["place_name"].tolist() == ["Kapu", "Queen Street"]
    assert rows.loc[0, "cell_id"] == h3.latlng_to_cell(KAPU.latitude, KAPU.longitude, 9)
    assert rows.loc[1, "cell_id"] == h3.latlng_to_cell(QUEEN_ST.latitude, QUEEN_ST.longitude, 9)


# ---------------------------------------------------------------- police_uk

IN_CARDIFF = [(51.4816, -3.1791), (51.4700, -3.1650), (51.5000, -3.2000)]


CARDIFF_LSOA = ("W01001939", "Cardiff 032F")


def police_uk_frame() -> pd.DataFrame:
    rows = [
        # crime_id, lat, lon, crime_type, location, context, (LSOA code, LSOA name)
        (
            "a" * 64,
            *IN_CARDIFF[0],
            "Violence and sexual offences",
            "On or near Womanby Street",
            "ctx-one",
            CARDIFF_LSOA,
        ),
        ("b" * 64, *IN_CARDIFF[1], "Violence and sexual offences", "On or near Bute Street", None, CARDIFF_LSOA),
        (
            "c" * 64,
            51.5074,
            -0.1278,
            "Violence and sexual offences",
            "On or near Whitehall",
            None,
            ("E01004736", "Westminster 018C"),
        ),  # London
        ("d" * 64, None, None, "Violence and sexual offences", "No location", None, (None, None)),
        (None, *IN_CARDIFF[2], "Anti-social behaviour", "On or near Park Place", None, CARDIFF_LSOA),
        ("e" * 64, 51.4545, -2.5879, "Burglary", "On or near Corn Street", None, ("E01014540", "Bristol 032B")),
        ("f" * 64, *IN_CARDIFF[0], "Robbery", "On or near Womanby Street", None, CARDIFF_LSOA),
    ]
    n = len(rows)
    return pd.DataFrame(
        {
            "crime_id": _str([r[0] for r in rows]),
            "month": _ts(["2024-03-01"] * n, "month"),
            "reported_by": _str(["South Wales Police"] * n),
            "falls_within": _str(["South Wales Police (falls)"] * n),
            "longitude": pd.Series([r[2] for r in rows], dtype="float64"),
            "latitude": pd.Series([r[1] for r in rows], dtype="float64"),
            "location": _str([r[4] for r in rows]),
            "lsoa_code": _str([r[6][0] for r in rows]),
            "lsoa_name": _str([r[6][1] for r in rows]),
            "crime_type": _str([r[3] for r in rows]),
            "last_outcome_category": _str(["Investigation complete; no suspect identified"] * n),
            "context": _str([r[5] for r in rows]),
        }
    )


@pytest.fixture(scope="module")
def police_uk_result():
    def no_places(texts):  # pragma: no cover - police_uk has no place rule
        raise AssertionError("police_uk rows must not be sent to the place resolver")

    return _apply("police_uk", police_uk_frame(), no_places)


def test_police_uk_frame_matches_schema():
    assert list(police_uk_frame().columns) == schema_for_source("police_uk").field_names


def test_police_uk_scope_and_area_counts(police_uk_result):
    result = police_uk_result
    counts = result.counts
    assert counts["rows_in"] == 7
    assert counts["rows_out_of_scope"] == 3  # anti-social behaviour, burglary, robbery
    assert counts["rows_out_of_area"] == 1  # London
    assert counts["rows_unlocated"] == 1  # no location: it could be anywhere in the force
    assert counts["rows_shared"] == len(result.rows) == 2
    assert counts["rows_located"] == 2
    assert counts["rows_in"] == (
        counts["rows_out_of_scope"] + counts["rows_out_of_area"] + counts["rows_unlocated"] + counts["rows_shared"]
    )
    assert result.counts_by_provider == {"South Wales Police": counts}


def test_police_uk_keeps_only_violence(police_uk_result):
    rows = police_uk_result.rows
    assert rows["crime_type"].tolist() == ["violence_and_sexual_offences"] * 2


def test_police_uk_columns_and_values(police_uk_result):
    rows = police_uk_result.rows
    assert set(rows.columns) == {"crime_id_pseudonym", "month", "reported_by", "lsoa_code", "crime_type", "cell_id"}
    key = derive_field_key(MASTER, AGREEMENT.id, AGREEMENT.version, "crime_id")
    assert rows["crime_id_pseudonym"].tolist() == pseudonymise(["a" * 64, "b" * 64], key)
    assert rows["month"].tolist() == [dt.date(2024, 3, 1)] * 2
    assert rows["lsoa_code"].tolist() == [CARDIFF_LSOA[0]] * 2
    assert rows["cell_id"].tolist() == [h3.latlng_to_cell(lat, lon, 9) for lat, lon in IN_CARDIFF[:2]]
    text = " ".join(_all_cells_as_text(rows)).lower()
    for secret in (
        "womanby",
        "bute street",
        "whitehall",
        "no location",
        "cardiff 032f",
        "ctx-one",
        "investigation",
        "falls",
        "aaaaaaaa",
        "51.48",
        "-3.17",
    ):
        assert secret not in text, secret


# ---------------------------------------------------------------- police: measured coordinates win


def test_measured_coordinates_take_precedence_over_resolved_place():
    rules = AGREEMENT.rules_for("police")
    texts = {"womanby st": KAPU, "queen st": QUEEN_ST}
    frame = pd.DataFrame(
        {
            "force_code": _str(["62", "62"]),
            "crime_reference": _str(["sw/123/18", "SW/124/18"]),
            "offence_code": _str(["008/01", "105/01"]),
            "offence_description": _str(["ABH", "Common assault"]),
            "committed_from": _ts(["2024-03-09 23:30:00", "2024-03-10 01:00:00"], "datetime"),
            "committed_to": _ts(["2024-03-09 23:45:00", "2024-03-10 01:10:00"], "datetime"),
            "location_text": _str(["womanby st", "queen st"]),
            "latitude": pd.Series([51.4700, None], dtype="float64"),
            "longitude": pd.Series([-3.1650, None], dtype="float64"),
            "victim_date_of_birth": _ts(["1990-03-10", None], "date"),
            "victim_sex": _str(["2", "1"]),
            "weapon_flag": _str(["Y", "N"]),
        }
    )
    assert list(frame.columns) == schema_for_source("police").field_names
    rows = apply_rules(
        frame,
        rules,
        field_keys=_keys(rules),
        code_keys=_code_keys("police"),
        normalisers=_normalisers("police"),
        resolve_places=lambda column: ([texts[t] for t in column.to_pylist()], np.arange(len(column))),
        h3_resolution=9,
        area=AGREEMENT.area.geography(),
        provider_field="force_code",
    ).rows
    assert rows.loc[0, "cell_id"] == h3.latlng_to_cell(51.4700, -3.1650, 9)
    assert rows.loc[0, "cell_id"] != h3.latlng_to_cell(KAPU.latitude, KAPU.longitude, 9)
    assert rows.loc[1, "cell_id"] == h3.latlng_to_cell(QUEEN_ST.latitude, QUEEN_ST.longitude, 9)
    assert "latitude" not in rows and "longitude" not in rows and "location_text" not in rows
    assert rows.loc[0, "age_band"] == "30-34"
    assert rows["victim_sex"].tolist() == ["female", "male"]
