"""Publishing: a month replaced, not duplicated; every column described; failures leave the
live warehouse as it was."""

from __future__ import annotations

import datetime as dt
import errno
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from anonymise.cellkey import KEY_MODULUS, perturb, perturbation_table
from anonymise.disclosure import DisclosurePolicy
from ingest.engine import row_level_duckdb
from tests.conftest import TEST_RECORD_KEYS, with_record_keys
from warehouse.publish import PublishError, connect_read_only, publish
from warehouse.tables import build_tables, column_descriptions, table_specs

MONTH = dt.date(2026, 9, 1)
CELL = "89195879b4bffff"
CELL_KEY = DisclosurePolicy()  # the default method
SUPPRESS_AND_ROUND = DisclosurePolicy(method="suppress_and_round")  # 1-7 withheld, the rest rounded to 5


def _joint(n_ed: int, n_police: int) -> pd.DataFrame:
    when = pd.Timestamp("2026-09-05 23:00")
    rows = [
        {
            "source": "ed",
            "month": MONTH,
            "weekday": 6,
            "hour": 23,
            "event_hour": when,
            "cell_id": CELL,
            "place_status": "venue",
            "place_id": "venue:1",
            "place_name": "The Test Arms",
            "method": "fist",
        }
    ] * n_ed
    rows += [
        {
            "source": "police",
            "month": MONTH,
            "weekday": 6,
            "hour": 23,
            "event_hour": when,
            "cell_id": CELL,
            "place_status": "street",
            "place_id": "street:x",
            "place_name": "X Street",
            "method": None,
        }
    ] * n_police
    frame = pd.DataFrame(rows)
    return with_record_keys(frame.astype({"weekday": "Int64", "hour": "Int64"}))


SUMMARIES = pd.DataFrame(
    [
        {
            "month": MONTH,
            "source": "ed",
            "provider": "7A4BV",
            "rows_received": 40,
            "rows_quarantined": 2,
            "rows_out_of_scope": 0,
            "rows_out_of_area": 0,
            "rows_shared": 38,
            "rows_located": 30,
            "rows_unlocated": 8,
            "rows_private": 3,
            "rows_ambiguous": 0,
        }
    ]
)


def _tables(n_ed=12, n_police=5, policy=SUPPRESS_AND_ROUND):
    """The month's tables. Publishing works alike whatever the method; by default suppression and
    rounding, whose values (12 -> 10, 30 -> 30) tests/integration/test_concurrent_access.py relies on. The
    tests of the protection itself ask for the cell-key method."""
    return build_tables(_joint(n_ed, n_police), SUMMARIES, policy, "test-agreement", 3, record_keys=TEST_RECORD_KEYS)


def _cell_key_value(records: pd.DataFrame) -> int:
    """What the cell-key method publishes for a figure made of `records`: their count moved by
    the perturbation their summed record keys select (worked out here, apart from the SQL)."""
    key = int(records["record_key"].sum()) % KEY_MODULUS
    return int(
        perturb(
            np.array([len(records)]), np.array([key]), perturbation_table(CELL_KEY.max_deviation, CELL_KEY.variance)
        )[0]
    )


def test_tables_are_protected_and_stamped():
    joint = _joint(12, 5)
    tables = _tables(policy=CELL_KEY)
    cell = tables["hotspot_cells"].iloc[0]
    ed, police = joint[joint.source == "ed"], joint[joint.source == "police"]
    # Every count is published, none withheld, each perturbed from its own records.
    assert cell.ed_assaults == _cell_key_value(ed) and not cell.ed_assaults_suppressed
    assert cell.police_violence == _cell_key_value(police) and not cell.police_violence_suppressed
    assert cell.combined == _cell_key_value(joint) and cell["rank"] == 1
    assert abs(cell.ed_assaults - 12) <= 4 and abs(cell.police_violence - 5) <= 4 and abs(cell.combined - 17) <= 4
    trend = tables["monthly_trend"].iloc[0]
    assert trend.ed_assaults == cell.ed_assaults and trend.police_violence == cell.police_violence  # the same records
    coverage = tables["coverage"].iloc[0]
    assert abs(coverage.rows_quarantined - 2) <= 4 and not coverage.rows_quarantined_suppressed
    for name, table in tables.items():
        assert set(table.agreement_id) == {"test-agreement"} and set(table.agreement_version) == {3}
        flags = [c for c in table.columns if c.endswith("_suppressed")]
        # Only a quiet hotspot_areas row (combined below the area minimum: here every one) withholds.
        shown = table[table["combined"].notna()] if name == "hotspot_areas" else table
        assert flags and not shown[flags].any().any()
        assert not [c for c in table.columns if c.endswith(("__key", "__public"))]  # no key is published


def test_tables_under_suppression_and_rounding():
    tables = _tables(policy=SUPPRESS_AND_ROUND)
    cell = tables["hotspot_cells"].iloc[0]
    assert cell.ed_assaults == 10 and not cell.ed_assaults_suppressed
    assert pd.isna(cell.police_violence) and cell.police_violence_suppressed
    assert cell.combined == 15 and cell["rank"] == 1
    coverage = tables["coverage"].iloc[0]
    assert pd.isna(coverage.rows_quarantined) and coverage.rows_quarantined_suppressed
    assert coverage.rows_received == 40 and coverage.rows_unlocated == 10


def test_public_records_are_counted_exactly_beside_the_perturbed_ones():
    joint = _joint(12, 5)
    uk = with_record_keys(joint[joint.source == "police"].assign(source="police_uk"), salt="police_uk")
    both = pd.concat([joint, uk], ignore_index=True)
    tables = build_tables(
        both, SUMMARIES, CELL_KEY, "test-agreement", 3, record_keys=TEST_RECORD_KEYS, public_sources=("police_uk",)
    )
    cell = tables["hotspot_cells"].iloc[0]
    # police_violence: the 5 police records perturbed as they were alone, plus the 5 public ones exactly.
    assert cell.police_violence == _cell_key_value(joint[joint.source == "police"]) + 5
    assert cell.combined == _cell_key_value(joint) + 5
    assert (
        tables["hotspot_cells"].ed_assaults.tolist() == _tables(policy=CELL_KEY)["hotspot_cells"].ed_assaults.tolist()
    )


def _ed(tables) -> int:
    return int(tables["hotspot_cells"].ed_assaults.iloc[0])


def test_suppress_and_round_with_a_public_source_passes_the_published_checks():
    from schemas.expectations import published_suite, validate

    joint = _joint(12, 0)
    uk = with_record_keys(joint.iloc[:3].assign(source="police_uk", method=None), salt="police_uk")
    tables = build_tables(
        pd.concat([joint, uk], ignore_index=True),
        SUMMARIES,
        SUPPRESS_AND_ROUND,
        "test-agreement",
        3,
        record_keys=TEST_RECORD_KEYS,
        public_sources=("police_uk",),
    )
    cell = tables["hotspot_cells"].iloc[0]
    assert (cell.ed_assaults, cell.police_violence, cell.combined) == (10, 3, 13)  # the 3 public crimes shown exactly
    spec = next(s for s in table_specs() if s.name == "hotspot_cells")
    suite = published_suite(spec.name, spec.counts, spec.keys, SUPPRESS_AND_ROUND.largest_withheld(with_public=True))
    assert validate(tables["hotspot_cells"], suite).success


def test_republishing_a_month_replaces_it(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables(12, policy=CELL_KEY))
    publish(warehouse, MONTH, _tables(30, policy=CELL_KEY))
    with connect_read_only(warehouse) as con:
        rows = con.execute("SELECT ed_assaults FROM hotspot_cells WHERE month = ?", [MONTH]).fetchall()
    assert rows == [(_ed(_tables(30, policy=CELL_KEY)),)] and abs(rows[0][0] - 30) <= 4


def test_every_table_and_column_is_described(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables())
    with connect_read_only(warehouse) as con:
        tables = dict(con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE NOT internal").fetchall())
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
    assert set(tables) == {s.name for s in table_specs()}
    assert all(tables.values())
    # An analyst reads in the comment that a missing cell, area, venue or method row means zeros.
    sparse = {name for name, comment in tables.items() if "read a missing row as zeros" in comment}
    assert sparse == {"hotspot_cells", "hotspot_areas", "hotspot_venues", "assault_methods"}
    undescribed = [(t, c) for t, c, comment in columns if not comment]
    assert undescribed == []
    for spec in table_specs():
        assert {c for t, c, _ in columns if t == spec.name} == set(column_descriptions(spec))


def test_a_failed_publish_leaves_the_warehouse_unchanged(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables(12))
    before = warehouse.read_bytes()
    broken = _tables(30)
    broken["hotspot_cells"] = broken["hotspot_cells"].assign(ed_assaults="not a number")
    with pytest.raises(duckdb.Error):
        publish(warehouse, MONTH, broken)
    assert warehouse.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "publishing" in p.name] == []


def test_a_full_disk_gives_a_clear_error_and_loses_nothing(tmp_path, monkeypatch):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables(12))
    before = warehouse.read_bytes()

    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("warehouse.publish.os.fsync", disk_full)
    with pytest.raises(PublishError, match="No space left on device.*the published warehouse is unchanged"):
        publish(warehouse, MONTH, _tables(30))
    assert warehouse.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "publishing" in p.name] == []


def test_readers_are_not_blocked_by_a_publish(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables(12))
    reader = connect_read_only(warehouse)
    publish(warehouse, MONTH, _tables(30))  # would fail with a lock error if it wrote in place
    assert reader.execute("SELECT ed_assaults FROM hotspot_cells").fetchall() == [(10,)]
    reader.close()
    with connect_read_only(warehouse) as con:
        assert con.execute("SELECT ed_assaults FROM hotspot_cells").fetchall() == [(30,)]


def test_tables_from_the_joint_parquet_file_equal_those_from_a_frame(tmp_path):
    joint = _joint(12, 5)
    joint.to_parquet(tmp_path / "joint.parquet", index=False)
    from_file = build_tables(
        tmp_path / "joint.parquet",
        SUMMARIES,
        CELL_KEY,
        "test-agreement",
        3,
        record_keys=TEST_RECORD_KEYS,
        spill_zone=tmp_path,
    )
    for name, table in _tables(12, 5, policy=CELL_KEY).items():
        pd.testing.assert_frame_equal(from_file[name], table)
    assert from_file["hidden_violence"].ed_assaults_compared.tolist() == [_cell_key_value(joint[joint.source == "ed"])]


def test_row_level_duckdb_is_bounded_and_spills_only_inside_its_zone(tmp_path):
    with row_level_duckdb(tmp_path) as con:
        spill, threads, limit = con.execute(
            "SELECT current_setting('temp_directory'), current_setting('threads'), current_setting('memory_limit')"
        ).fetchone()
        assert Path(spill).parent == tmp_path and Path(spill).is_dir()
        assert threads == 2 and limit.endswith("MiB") and float(limit.split()[0]) <= 1024
    assert not Path(spill).exists()
    with row_level_duckdb() as con:
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == ""  # never spills


def test_row_level_duckdb_draws_no_progress_bar():
    # A long query over a national month would otherwise draw one on the run's terminal.
    with row_level_duckdb() as con:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
