"""joint_incidents written by DuckDB from the pseudonymised Parquet files: the columns, order,
types and values warehouse/joint_incidents.yaml declares."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anonymise.cellkey import KEY_MODULUS, perturb, perturbation_table
from anonymise.disclosure import DisclosurePolicy
from tests.conftest import TEST_RECORD_KEYS, made_up_pseudonym
from warehouse.joint import joint_columns, write_joint_incidents
from warehouse.tables import DELIVERY_SUMMARY_COLUMNS, build_tables

MONTH = dt.date(2026, 9, 1)
WHEN = pd.Timestamp("2026-09-05 23:00")
CELL = "89195879b4bffff"
# Pseudonyms are hex digests, as the pipeline writes them (the record key is a hash of one).
ATT_1, ATT_2, PERSON_1, CRIME_1 = (made_up_pseudonym(n) for n in ("att-1", "att-2", "person-1", "crime-1"))

ED = pd.DataFrame(
    {
        "site_code": ["7A4BV", "7A4BV"],
        "attendance_id_pseudonym": [ATT_1, ATT_2],
        "nhs_number_pseudonym": [PERSON_1, None],
        "age_band": ["20-24", None],
        "sex": ["male", "female"],
        "postcode_district": ["CF10", "CF24"],  # not in the mapping: never joint
        "month": [MONTH, MONTH],
        "weekday": pd.array([6, None], dtype="Int64"),
        "hour": pd.array([23, None], dtype="Int64"),
        "event_hour": [WHEN, pd.NaT],
        "assault_method": ["fist", None],
        "assault_location_type": ["street", None],
        "place_status": ["venue", "unlocated"],
        "place_id": ["venue:1", None],
        "place_name": ["The Test Arms", None],
        "cell_id": pd.array([CELL, None], dtype="string"),
    }
)
# No weapon_flag: an agreement that does not share it.
POLICE = pd.DataFrame(
    {
        "force_code": ["SWP"],
        "crime_reference_pseudonym": [CRIME_1],
        "offence_code": ["8N"],
        "month": [MONTH],
        "weekday": pd.array([6], dtype="Int64"),
        "hour": pd.array([23], dtype="Int64"),
        "event_hour": [WHEN],
        "place_status": ["street"],
        "place_id": ["street:x"],
        "place_name": ["X Street"],
        "age_band": ["25-29"],
        "victim_sex": ["female"],
        "cell_id": [CELL],
    }
)
# No open data this month: an empty file whose columns are typed, as the pseudonymised assets write it.
POLICE_UK = pd.DataFrame(
    {c: pd.Series(dtype="string") for c in ["crime_id_pseudonym", "reported_by", "lsoa_code", "crime_type", "cell_id"]}
).assign(month=pd.Series(dtype="datetime64[us]"))

TYPES = {
    "month": pa.date32(),
    "weekday": pa.int64(),
    "hour": pa.int64(),
    "event_hour": pa.timestamp("us"),
    "record_key": pa.int64(),
}
NOTHING = dict.fromkeys(joint_columns())


@pytest.fixture
def zone(tmp_path):
    for source, frame in (("ed", ED), ("police", POLICE), ("police_uk", POLICE_UK)):
        frame.to_parquet(tmp_path / f"{source}.parquet", index=False)  # as the pseudonymised assets write them
    return tmp_path


def _write(zone):
    files = {s: zone / f"{s}.parquet" for s in ("ed", "police", "police_uk")}
    return write_joint_incidents(
        files, zone / "joint" / "2026-09.parquet", spill_zone=zone, record_keys=TEST_RECORD_KEYS
    )


def test_columns_order_and_types_are_the_mappings(zone):
    assert _write(zone) == {"ed": 2, "police": 1, "police_uk": 0}
    schema = pq.read_schema(zone / "joint" / "2026-09.parquet")
    assert schema.names == list(joint_columns()) and schema.names[0] == "source" and schema.names[-1] == "record_key"
    assert {f.name: f.type for f in schema} == {name: TYPES.get(name, pa.string()) for name in schema.names}


def test_rows_are_mapped_and_unshared_columns_are_null(zone):
    _write(zone)
    rows = pq.read_table(zone / "joint" / "2026-09.parquet").to_pylist()
    located = {"month": MONTH, "weekday": 6, "hour": 23, "event_hour": WHEN.to_pydatetime(), "cell_id": CELL}
    expected = [
        NOTHING
        | located
        | {
            "source": "ed",
            "provider": "7A4BV",
            "record_pseudonym": ATT_1,
            "person_pseudonym": PERSON_1,
            "age_band": "20-24",
            "sex": "male",
            "method": "fist",
            "location_type": "street",
            "place_status": "venue",
            "place_id": "venue:1",
            "place_name": "The Test Arms",
            "record_key": TEST_RECORD_KEYS.of(ATT_1),
        },
        NOTHING
        | {
            "source": "ed",
            "month": MONTH,
            "provider": "7A4BV",
            "record_pseudonym": ATT_2,
            "sex": "female",
            "place_status": "unlocated",
            "record_key": TEST_RECORD_KEYS.of(ATT_2),
        },
        NOTHING
        | located
        | {
            "source": "police",
            "provider": "SWP",
            "record_pseudonym": CRIME_1,
            "offence": "8N",
            "age_band": "25-29",
            "sex": "female",
            "place_status": "street",
            "place_id": "street:x",
            "place_name": "X Street",
            "record_key": TEST_RECORD_KEYS.of(CRIME_1),
        },
    ]
    assert sorted(rows, key=lambda r: r["source"] + r["record_pseudonym"]) == sorted(
        expected, key=lambda r: r["source"] + r["record_pseudonym"]
    )


def test_record_keys_are_permanent_and_a_record_without_a_pseudonym_still_gets_one(zone):
    ED.assign(attendance_id_pseudonym=[ATT_1, None]).to_parquet(zone / "ed.parquet", index=False)
    _write(zone)
    first = pq.read_table(zone / "joint" / "2026-09.parquet").to_pandas()
    # Written again from the same files: the same keys (a record's key never changes).
    _write(zone)
    again = pq.read_table(zone / "joint" / "2026-09.parquet").to_pandas()
    pd.testing.assert_frame_equal(first, again)
    keys = dict(zip(first.record_pseudonym.fillna("none"), first.record_key))
    assert keys[ATT_1] == TEST_RECORD_KEYS.of(ATT_1) and keys[CRIME_1] == TEST_RECORD_KEYS.of(CRIME_1)
    # Without a pseudonym: a key from the record's shared values, in range and not anyone else's.
    assert 0 <= keys["none"] < KEY_MODULUS and keys["none"] not in (keys[ATT_1], keys[CRIME_1])
    # Under another secret (another agreement) every key is different.
    files = {s: zone / f"{s}.parquet" for s in ("ed", "police", "police_uk")}
    other = zone / "joint" / "other.parquet"
    write_joint_incidents(
        files, other, spill_zone=zone, record_keys=type(TEST_RECORD_KEYS).from_secret(b"another agreement's secret")
    )
    assert not set(pq.read_table(other).column("record_key").to_pylist()) & set(keys.values())


def _cell_key_value(records: pd.DataFrame) -> int:
    key = int(records["record_key"].sum()) % KEY_MODULUS
    policy = DisclosurePolicy()
    return int(
        perturb(np.array([len(records)]), np.array([key]), perturbation_table(policy.max_deviation, policy.variance))[0]
    )


def test_private_dwellings_keep_no_cell_and_add_to_no_cell(zone):
    """Twelve police records and twelve ED attendances planted at a private dwelling in CELL,
    each with the cell's id in its source file: none keeps the cell in joint_incidents, and the
    published cell counts only the street and venue records, while the month's totals count all."""
    private = {"place_status": "private", "place_id": None, "place_name": None, "cell_id": CELL}
    police = pd.concat(
        [
            POLICE,
            *(
                POLICE.assign(crime_reference_pseudonym=made_up_pseudonym(f"home-crime-{i}"), **private)
                for i in range(12)
            ),
        ],
        ignore_index=True,
    )
    ed = pd.concat(
        [
            ED,
            *(
                ED.iloc[[0]].assign(attendance_id_pseudonym=made_up_pseudonym(f"home-att-{i}"), **private)
                for i in range(12)
            ),
        ],
        ignore_index=True,
    )
    police.to_parquet(zone / "police.parquet", index=False)
    ed.to_parquet(zone / "ed.parquet", index=False)
    assert _write(zone) == {"ed": 14, "police": 13, "police_uk": 0}
    joint = pq.read_table(zone / "joint" / "2026-09.parquet").to_pandas()
    at_home = joint[joint.place_status == "private"]
    assert len(at_home) == 24 and at_home.cell_id.isna().all()
    assert (joint.cell_id == CELL).sum() == 2  # the venue assault and the street crime

    summaries = pd.DataFrame(columns=DELIVERY_SUMMARY_COLUMNS)
    tables = build_tables(
        zone / "joint" / "2026-09.parquet",
        summaries,
        DisclosurePolicy(),
        "a",
        1,
        record_keys=TEST_RECORD_KEYS,
        spill_zone=zone,
    )
    cells = tables["hotspot_cells"]
    assert cells.cell_id.tolist() == [CELL]
    located = joint[joint.cell_id == CELL]
    cell = cells.iloc[0]
    assert cell.ed_assaults == _cell_key_value(located[located.source == "ed"])
    assert cell.police_violence == _cell_key_value(located[located.source == "police"])
    assert cell.combined == _cell_key_value(located)
    # With the 24 planted records the cell would be at least 14 - 4; it is at most 2 + 4.
    assert cell.combined <= 6 and cell.ed_assaults <= 5 and cell.police_violence <= 5
    areas = tables["hotspot_areas"]
    assert (areas.combined <= 6).all() and (areas.ed_assaults <= 5).all()
    # The month's totals (figures for the whole area) count them.
    trend = tables["monthly_trend"].iloc[0]
    assert trend.ed_assaults == _cell_key_value(joint[joint.source == "ed"]) and trend.ed_assaults >= 10
    assert trend.police_violence == _cell_key_value(joint[joint.source == "police"]) and trend.police_violence >= 9


def test_written_whole_or_not_at_all(zone):
    _write(zone)
    before = (zone / "joint" / "2026-09.parquet").read_bytes()
    (zone / "police.parquet").write_bytes(b"not parquet")
    with pytest.raises(pa.ArrowInvalid):
        _write(zone)
    assert (zone / "joint" / "2026-09.parquet").read_bytes() == before
    assert sorted(p.name for p in (zone / "joint").iterdir()) == ["2026-09.parquet"]
    assert not list(zone.glob(".duckdb-spill-*"))  # the spill folder goes with the connection


def test_a_value_that_does_not_convert_is_not_quoted(zone):
    POLICE.assign(weekday=["Saturday-CF10 1AA"]).to_parquet(zone / "police.parquet", index=False)
    with pytest.raises(ValueError, match="value withheld") as failure:
        _write(zone)
    assert "CF10" not in str(failure.value) and failure.value.__suppress_context__
    assert not (zone / "joint" / "2026-09.parquet").exists()


def test_a_file_that_holds_no_typed_column_shares_nothing(zone):
    pd.DataFrame(columns=["crime_id_pseudonym", "month", "reported_by", "cell_id"]).to_parquet(
        zone / "police_uk.parquet", index=False
    )
    assert _write(zone) == {"ed": 2, "police": 1, "police_uk": 0}
