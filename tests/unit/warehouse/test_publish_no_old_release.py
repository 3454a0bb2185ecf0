"""A re-published month leaves no value of the release it replaces anywhere in the warehouse
file: whoever holds the new file must not be able to read the superseded release from its bytes
(DuckDB keeps deleted rows in free blocks until they happen to be reused)."""

from __future__ import annotations

import datetime as dt
import errno
import struct

import duckdb
import pandas as pd
import pytest

from tests.unit.warehouse.test_publish import MONTH, _tables
from warehouse.publish import PublishError, connect_read_only, publish
from warehouse.tables import column_descriptions, table_specs

OTHER_MONTH = dt.date(2026, 8, 1)
OLD_VENUE, NEW_VENUE, OTHER_VENUE = "Zanzibar-Old-Release-Q7", "Quimper-New-Release-K2", "Ostend-August-Release-M4"
OLD_VERSION, NEW_VERSION, OTHER_VERSION = 734_918_263, 534_918_261, 334_918_267


def _release(month: dt.date, venue: str, version: int) -> dict[str, pd.DataFrame]:
    """A month's tables whose venue name, and agreement id and version (in every table), are
    values found nowhere else."""
    stamp = {"month": pd.Timestamp(month), "agreement_id": f"agreement-{venue}", "agreement_version": version}
    return {
        name: table.assign(**stamp, **({"venue_name": venue} if "venue_name" in table else {}))
        for name, table in _tables().items()
    }


def _leb128(n: int) -> bytes:
    """How DuckDB writes an integer into its metadata (segment statistics): signed LEB128."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def _encodings(n: int) -> list[bytes]:
    return [struct.pack("<q", n), struct.pack("<i", n), _leb128(n), str(n).encode()]


def _republish(warehouse, other_month: bool = True):
    if other_month:
        publish(warehouse, OTHER_MONTH, _release(OTHER_MONTH, OTHER_VENUE, OTHER_VERSION))
    publish(warehouse, MONTH, _release(MONTH, OLD_VENUE, OLD_VERSION))
    publish(warehouse, MONTH, _release(MONTH, NEW_VENUE, NEW_VERSION))
    return warehouse


@pytest.fixture
def republished(tmp_path):
    return _republish(tmp_path / "istv.duckdb")


@pytest.mark.parametrize("other_month", [False, True], ids=["alone", "beside-another-month"])
def test_no_value_of_the_previous_release_is_left_in_the_file(tmp_path, other_month):
    data = _republish(tmp_path / "istv.duckdb", other_month).read_bytes()
    # The scan can see values at all: the new release's are there in the same encodings.
    assert NEW_VENUE.encode("utf-8") in data and f"agreement-{NEW_VENUE}".encode() in data
    assert _leb128(NEW_VERSION) in data
    for old in (OLD_VENUE, f"agreement-{OLD_VENUE}", "Old-Release-Q7"):
        for encoding in ("utf-8", "utf-16-le"):
            assert old.encode(encoding) not in data, f"{old!r} ({encoding}) is still in the file"
    for encoded in _encodings(OLD_VERSION):
        assert encoded not in data, f"{OLD_VERSION} ({encoded!r}) is still in the file"


def test_a_republish_keeps_other_months_and_the_descriptions(republished):
    with connect_read_only(republished) as con:
        venues = con.execute(
            "SELECT month::DATE, venue_name, agreement_version FROM hotspot_venues ORDER BY month"
        ).fetchall()
        tables = dict(con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE NOT internal").fetchall())
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
        months = {
            name: con.execute(f"SELECT DISTINCT month::DATE FROM {name} ORDER BY 1").fetchall() for name in tables
        }
    assert venues == [(OTHER_MONTH, OTHER_VENUE, OTHER_VERSION), (MONTH, NEW_VENUE, NEW_VERSION)]
    assert all(found == [(OTHER_MONTH,), (MONTH,)] for found in months.values()), months
    assert set(tables) == {s.name for s in table_specs()} and all(tables.values())
    assert [(t, c) for t, c, comment in columns if not comment] == []
    for spec in table_specs():
        assert {c for t, c, _ in columns if t == spec.name} == set(column_descriptions(spec))


def test_tables_outside_the_declared_ones_keep_their_rows_types_and_comments(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _release(MONTH, OLD_VENUE, OLD_VERSION))
    with duckdb.connect(str(warehouse)) as con:  # an older warehouse: a retired table, a DATE month
        con.execute("CREATE TABLE retired AS SELECT DATE '2026-09-01' AS month, 42::SMALLINT AS n")
        con.execute("COMMENT ON TABLE retired IS 'No longer published'")
        con.execute("COMMENT ON COLUMN retired.n IS 'A count'")
        con.execute("ALTER TABLE coverage ALTER month TYPE DATE")
        con.execute(
            "INSERT INTO coverage BY NAME SELECT DATE '2026-07-01' AS month, 'ed' AS source, 'JULY1' AS provider"
        )
    publish(warehouse, MONTH, _release(MONTH, NEW_VENUE, NEW_VERSION))
    with connect_read_only(warehouse) as con:
        assert con.execute("SELECT * FROM retired").fetchall() == [(MONTH, 42)]
        assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'retired'").fetchone() == (
            "No longer published",
        )
        assert con.execute(
            "SELECT data_type, comment FROM duckdb_columns() WHERE table_name = 'retired' AND column_name = 'n'"
        ).fetchone() == ("SMALLINT", "A count")
        assert con.execute(
            "SELECT data_type FROM duckdb_columns() WHERE table_name = 'coverage' AND column_name = 'month'"
        ).fetchone() == ("DATE",)
        assert con.execute("SELECT month, provider, agreement_version FROM coverage ORDER BY month").fetchall() == [
            (dt.date(2026, 7, 1), "JULY1", None),
            (MONTH, "7A4BV", NEW_VERSION),
        ]


@pytest.mark.parametrize("failure", ["fsync", "duckdb"])
def test_a_full_disk_gives_a_clear_error_and_loses_nothing(tmp_path, monkeypatch, failure):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _release(MONTH, OLD_VENUE, OLD_VERSION))
    before = warehouse.read_bytes()

    def disk_full(*_args, **_kwargs):
        if failure == "fsync":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise duckdb.IOException('IO Error: Could not write file "x": No space left on device')

    monkeypatch.setattr("warehouse.publish.os.fsync" if failure == "fsync" else "warehouse.publish._build", disk_full)
    with pytest.raises(PublishError, match="No space left on device.*the published warehouse is unchanged"):
        publish(warehouse, MONTH, _release(MONTH, NEW_VENUE, NEW_VERSION))
    assert warehouse.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".istv.duckdb.lock", "istv.duckdb"]
