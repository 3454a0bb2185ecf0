"""Parsing a file batch by batch gives what one pass over the whole file gives: the batch size
bounds memory and changes nothing else (footers across a batch end, duplicates across batches)."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipelines.lib.extract import ExtractError, arrow_schema, concatenate_parquet, parse_extract
from tests.test_extract import ED, GOOD, HEADER, NOW, OCTOBER, _row, _write


def _lines():
    rows = [_row(attendance_id=f"ED{i:08d}") for i in range(1, 12)]
    rows[3] = _row(attendance_id="ED00000002")  # repeats a row that passed, in another batch
    rows[5] = _row(attendance_id="ED00000099", assault_method="7")  # quarantined first...
    rows[8] = _row(attendance_id="ED00000099")  # ...then repeated by a row that is fine on its own
    rows.insert(6, "")  # a blank row between data rows
    rows.insert(2, "01/10/2018,31/10/2018")  # misshapen
    return ["ED Assault Report", HEADER, *rows, "", "Total,12", "End of report"]


def _parse(tmp_path, batch_rows):
    out = tmp_path / f"passed-{batch_rows}.parquet"
    extract = parse_extract(_write(tmp_path, _lines()), ED, OCTOBER, out, now=NOW, batch_rows=batch_rows)
    return extract, pd.read_parquet(out)


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 5])
def test_any_batch_size_gives_the_same_result(tmp_path, batch_rows):
    whole, whole_rows = _parse(tmp_path, 1000)
    batched, rows = _parse(tmp_path, batch_rows)
    pd.testing.assert_frame_equal(rows, whole_rows)
    pd.testing.assert_frame_equal(batched.quarantined, whole.quarantined)
    for name in ("rows_in", "rows_passed", "title_rows", "footer_rows", "blank_rows", "provider"):
        assert getattr(batched, name) == getattr(whole, name), name


def test_the_whole_file_is_accounted_for(tmp_path):
    extract, rows = _parse(tmp_path, 2)
    assert extract.rows_in == 12 == extract.rows_passed + len(extract.quarantined) == len(rows) + len(extract.quarantined)
    assert (extract.title_rows, extract.blank_rows, extract.footer_rows) == (1, 1, 3)
    reasons = dict(zip(extract.quarantined["source_line"], extract.quarantined["reasons"]))
    assert reasons[5] == "row has 2 fields where the header has 14"
    assert reasons[7] == "attendance_id: duplicate of an earlier row"  # line 4's key, in an earlier batch
    assert reasons[9] == "assault_method: code not in the assault_method code list"
    assert reasons[13] == "attendance_id: duplicate of an earlier row"  # line 9 was quarantined, but came first
    assert not set(rows["source_line"]) & set(reasons)


def test_a_wrong_total_is_refused_after_the_last_batch(tmp_path):
    lines = [HEADER, GOOD, _row(attendance_id="ED00000002"), _row(attendance_id="ED00000003"), "Total,2"]
    out = tmp_path / "passed.parquet"
    with pytest.raises(ExtractError, match="says 2 rows but holds 3"):
        parse_extract(_write(tmp_path, lines), ED, OCTOBER, out, now=NOW, batch_rows=1)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_deliveries_are_concatenated_with_one_schema(tmp_path):
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}.parquet"
        parse_extract(_write(tmp_path, [HEADER, _row(attendance_id=f"ED0000010{i}")], name=f"ed{i}.csv"), ED, OCTOBER,
                      part, now=NOW)
        parts.append(part)
    out = tmp_path / "month.parquet"
    concatenate_parquet(parts, out, arrow_schema(ED))
    assert pq.read_schema(out).equals(arrow_schema(ED))
    assert pd.read_parquet(out)["attendance_id"].tolist() == ["ED00000100", "ED00000101", "ED00000102"]
    assert not any(p.exists() for p in parts)
