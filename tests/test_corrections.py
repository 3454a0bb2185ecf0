"""Corrected re-deliveries: which corrections wait for the scheduled revision."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse.corrections import next_revision, smallest_figure_change

MONTH = dt.date(2026, 9, 1)


def _joint(path, cells: dict[str, int], source: str = "ed", start: int = 0):
    rows = [{"source": source, "month": MONTH, "weekday": 5, "hour": 22, "cell_id": cell, "place_id": None,
             "method": "fist", "record_key": start + i * 1000 + n}
            for i, (cell, count) in enumerate(cells.items()) for n in range(count)]
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_one_row_more_is_a_change_of_one(tmp_path):
    old = _joint(tmp_path / "old.parquet", {"a": 12, "b": 30})
    new = _joint(tmp_path / "new.parquet", {"a": 13, "b": 30})
    assert smallest_figure_change(old, new, ()) == 1


def test_an_unchanged_month_changes_nothing(tmp_path):
    old = _joint(tmp_path / "old.parquet", {"a": 12, "b": 30})
    assert smallest_figure_change(old, old, ()) == 0


def test_a_correction_of_many_records_in_every_figure_is_large(tmp_path):
    old = _joint(tmp_path / "old.parquet", {"a": 12, "b": 30})
    new = _joint(tmp_path / "new.parquet", {"a": 20, "b": 40})
    assert smallest_figure_change(old, new, ()) == 8


def test_public_records_do_not_count_as_changes(tmp_path):
    old = _joint(tmp_path / "old.parquet", {"a": 12}, source="police_uk")
    new = _joint(tmp_path / "new.parquet", {"a": 13}, source="police_uk")
    assert smallest_figure_change(old, new, ("police_uk",)) == 0
    assert smallest_figure_change(old, new, ()) == 1


def test_the_next_revision_is_a_whole_number_of_periods_after_the_month():
    assert next_revision(MONTH, 12, after=dt.date(2026, 10, 15)) == dt.date(2027, 9, 1)
    assert next_revision(MONTH, 12, after=dt.date(2027, 9, 1)) == dt.date(2028, 9, 1)
    assert next_revision(MONTH, 3, after=dt.date(2027, 1, 2)) == dt.date(2027, 3, 1)
