"""`month` is a DATE (the first day of the month) in every published table, and a warehouse
published before it was (month a TIMESTAMP) is converted by the next publish, every other
month's rows kept as they were."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from anonymise.disclosure import DisclosurePolicy
from tests.conftest import TEST_RECORD_KEYS, with_record_keys
from warehouse.publish import connect_read_only, publish
from warehouse.queries import saved_queries
from warehouse.tables import build_tables, published_table_names

SEPTEMBER, OCTOBER = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
CELL = "89195879b4bffff"
POLICY = DisclosurePolicy(method="suppress_and_round")


def _tables(month: dt.date, n_ed: int = 12) -> dict[str, pd.DataFrame]:
    when = pd.Timestamp(month) + pd.Timedelta(days=4, hours=23)
    rows = [
        {
            "source": source,
            "month": month,
            "weekday": when.isoweekday(),
            "hour": 23,
            "event_hour": when,
            "cell_id": CELL,
            "place_status": "venue",
            "place_id": "venue:1",
            "place_name": "The Test Arms",
            "method": "fist" if source == "ed" else None,
        }
        for source, n in (("ed", n_ed), ("police", 9))
        for _ in range(n)
    ]
    joint = with_record_keys(pd.DataFrame(rows).astype({"weekday": "Int64", "hour": "Int64"}), salt=f"{month}")
    summaries = pd.DataFrame(
        [
            {
                "month": month,
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
    return build_tables(joint, summaries, POLICY, "test-agreement", 3, record_keys=TEST_RECORD_KEYS)


def _month_types(warehouse: Path) -> dict[str, str]:
    with connect_read_only(warehouse) as con:
        return dict(
            con.execute(
                "SELECT table_name, data_type FROM information_schema.columns WHERE column_name = 'month'"
            ).fetchall()
        )


def _rows(warehouse: Path, table: str, month: dt.date) -> pd.DataFrame:
    with connect_read_only(warehouse) as con:
        frame = con.execute(f"SELECT * FROM {table} WHERE month = ? ORDER BY ALL", [month]).df()
    return frame.drop(columns=["month"])


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "istv.duckdb"
    publish(path, SEPTEMBER, _tables(SEPTEMBER))
    publish(path, OCTOBER, _tables(OCTOBER))
    return path


def test_month_is_a_date_in_every_published_table(warehouse):
    assert _month_types(warehouse) == dict.fromkeys(published_table_names(), "DATE")
    with connect_read_only(warehouse) as con:
        assert con.execute("SELECT DISTINCT month FROM hotspot_cells ORDER BY month").fetchall() == [
            (SEPTEMBER,),
            (OCTOBER,),
        ]


@pytest.mark.parametrize(
    "where",
    [
        "month = DATE '2026-10-01'",
        "month = '2026-10-01'",
        "strftime(month, '%Y-%m') = '2026-10'",
        "month >= DATE '2026-10-01' AND month < DATE '2026-11-01'",
    ],
)
def test_a_month_is_found_by_its_first_day(warehouse, where):
    with connect_read_only(warehouse) as con:
        for table in published_table_names():
            months = con.execute(f"SELECT DISTINCT month FROM {table} WHERE {where}").fetchall()
            assert months == [(OCTOBER,)], table


def test_a_year_and_month_alone_is_not_a_date(warehouse):
    """`'2026-10'` names no day: DuckDB refuses it rather than guess (the README's forms above work)."""
    with connect_read_only(warehouse) as con, pytest.raises(duckdb.ConversionException):
        con.execute("SELECT * FROM hotspot_cells WHERE month = '2026-10'").fetchall()


def test_saved_queries_take_the_month(warehouse):
    with connect_read_only(warehouse) as con:
        for name, query in saved_queries().items():
            rows = con.execute(query["sql"], {"month": OCTOBER} if "$month" in query["sql"] else {}).fetchall()
            assert rows, name


def _as_previous_version(warehouse: Path) -> None:
    """The warehouse as the previous version wrote it: month a TIMESTAMP, no not_available_reason."""
    with duckdb.connect(str(warehouse)) as con:
        for table in published_table_names():
            con.execute(f"ALTER TABLE {table} ALTER month TYPE TIMESTAMP")
            if "not_available_reason" in {
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
                ).fetchall()
            }:
                con.execute(f"ALTER TABLE {table} DROP COLUMN not_available_reason")


@pytest.mark.parametrize("republished", ["every table", "one table"])
def test_an_old_warehouse_is_converted_by_the_next_publish(warehouse, republished):
    _as_previous_version(warehouse)
    assert set(_month_types(warehouse).values()) == {"TIMESTAMP"}
    before = {table: _rows(warehouse, table, SEPTEMBER) for table in published_table_names()}
    with connect_read_only(warehouse) as con:
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'hotspot_cells' AND column_name = 'ed_assaults'"
        ).fetchone()[0]

    tables = _tables(OCTOBER, n_ed=20)
    publish(warehouse, OCTOBER, tables if republished == "every table" else {"hotspot_cells": tables["hotspot_cells"]})

    assert _month_types(warehouse) == dict.fromkeys(published_table_names(), "DATE")
    for table, old in before.items():
        now = _rows(warehouse, table, SEPTEMBER)
        if "not_available_reason" in now and "not_available_reason" not in old:
            # A column new since the earlier publish: added, NULL in the rows kept from it.
            assert now.pop("not_available_reason").isna().all(), table
        pd.testing.assert_frame_equal(now, old, obj=table)
    assert _rows(warehouse, "hotspot_cells", OCTOBER).ed_assaults.tolist() == [20]  # October replaced
    with connect_read_only(warehouse) as con:
        assert (
            con.execute(
                "SELECT comment FROM duckdb_columns() WHERE table_name = 'hotspot_cells' "
                "AND column_name = 'ed_assaults'"
            ).fetchone()[0]
            == comment
        )
