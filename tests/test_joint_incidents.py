"""joint_incidents written by DuckDB from the pseudonymised Parquet files: the columns, order,
types and values warehouse/joint_incidents.yaml declares."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.joint.assets import joint_columns, write_joint_incidents

MONTH = dt.date(2026, 9, 1)
WHEN = pd.Timestamp("2026-09-05 23:00")
CELL = "89195879b4bffff"

ED = pd.DataFrame({
    "site_code": ["7A4BV", "7A4BV"], "attendance_id_pseudonym": ["att-1", "att-2"],
    "nhs_number_pseudonym": ["person-1", None], "age_band": ["20-24", None], "sex": ["male", "female"],
    "postcode_district": ["CF10", "CF24"],  # not in the mapping: never joint
    "month": [MONTH, MONTH], "weekday": pd.array([6, None], dtype="Int64"), "hour": pd.array([23, None], dtype="Int64"),
    "event_hour": [WHEN, pd.NaT], "assault_method": ["fist", None], "assault_location_type": ["street", None],
    "place_status": ["venue", "unlocated"], "place_id": ["venue:1", None], "place_name": ["The Test Arms", None],
    "cell_id": pd.array([CELL, None], dtype="string"),
})
# No weapon_flag: an agreement that does not share it.
POLICE = pd.DataFrame({
    "force_code": ["SWP"], "crime_reference_pseudonym": ["crime-1"], "offence_code": ["8N"], "month": [MONTH],
    "weekday": pd.array([6], dtype="Int64"), "hour": pd.array([23], dtype="Int64"), "event_hour": [WHEN],
    "place_status": ["street"], "place_id": ["street:x"], "place_name": ["X Street"], "age_band": ["25-29"],
    "victim_sex": ["female"], "cell_id": [CELL],
})
POLICE_UK = pd.DataFrame(columns=["crime_id_pseudonym", "month", "reported_by", "lsoa_code", "crime_type", "cell_id"])

TYPES = {"month": pa.date32(), "weekday": pa.int64(), "hour": pa.int64(), "event_hour": pa.timestamp("us")}
NOTHING = dict.fromkeys(joint_columns())


@pytest.fixture
def zone(tmp_path):
    for source, frame in (("ed", ED), ("police", POLICE), ("police_uk", POLICE_UK)):
        frame.to_parquet(tmp_path / f"{source}.parquet", index=False)  # as the pseudonymised assets write them
    return tmp_path


def _write(zone):
    files = {s: zone / f"{s}.parquet" for s in ("ed", "police", "police_uk")}
    return write_joint_incidents(files, zone / "joint" / "2026-09.parquet", spill_zone=zone)


def test_columns_order_and_types_are_the_mappings(zone):
    assert _write(zone) == {"ed": 2, "police": 1, "police_uk": 0}
    schema = pq.read_schema(zone / "joint" / "2026-09.parquet")
    assert schema.names == list(joint_columns()) and schema.names[0] == "source"
    assert {f.name: f.type for f in schema} == {name: TYPES.get(name, pa.string()) for name in schema.names}


def test_rows_are_mapped_and_unshared_columns_are_null(zone):
    _write(zone)
    rows = pq.read_table(zone / "joint" / "2026-09.parquet").to_pylist()
    located = {"month": MONTH, "weekday": 6, "hour": 23, "event_hour": WHEN.to_pydatetime(), "cell_id": CELL}
    expected = [
        NOTHING | located | {
            "source": "ed", "provider": "7A4BV", "record_pseudonym": "att-1", "person_pseudonym": "person-1",
            "age_band": "20-24", "sex": "male", "method": "fist", "location_type": "street",
            "place_status": "venue", "place_id": "venue:1", "place_name": "The Test Arms"},
        NOTHING | {"source": "ed", "month": MONTH, "provider": "7A4BV", "record_pseudonym": "att-2", "sex": "female",
                   "place_status": "unlocated"},
        NOTHING | located | {
            "source": "police", "provider": "SWP", "record_pseudonym": "crime-1", "offence": "8N", "age_band": "25-29",
            "sex": "female", "place_status": "street", "place_id": "street:x", "place_name": "X Street"},
    ]
    assert sorted(rows, key=lambda r: r["record_pseudonym"]) == expected


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
