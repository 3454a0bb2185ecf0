"""Parsing a file batch by batch gives what one pass over the whole file gives: the batch size
bounds memory and changes nothing else (footers across a batch end, duplicates across batches)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest

import open_data
from ingest.layout import NotPlain, TableReader
from ingest.parse import ExtractError, arrow_schema, concatenate_parquet, parse_extract
from pipelines.synthetic import generate_month
from schemas import schema_for_source
from tests.unit.ingest.test_extract import ED, GOOD, HEADER, NOW, OCTOBER, _row, _write

POLICE_UK = schema_for_source("police_uk")
REAL_POLICE_UK = open_data.ROOT / "police_uk" / "2018-10-south-wales-street.csv"


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
    assert (
        extract.rows_in == 12 == extract.rows_passed + len(extract.quarantined) == len(rows) + len(extract.quarantined)
    )
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
        parse_extract(
            _write(tmp_path, [HEADER, _row(attendance_id=f"ED0000010{i}")], name=f"ed{i}.csv"),
            ED,
            OCTOBER,
            part,
            now=NOW,
        )
        parts.append(part)
    out = tmp_path / "month.parquet"
    concatenate_parquet(parts, out, arrow_schema(ED))
    assert pq.read_schema(out).equals(arrow_schema(ED))
    assert pd.read_parquet(out)["attendance_id"].tolist() == ["ED00000100", "ED00000101", "ED00000102"]
    assert not any(p.exists() for p in parts)


@pytest.fixture
def careful_only(monkeypatch):
    """Every file through the careful reader, as if none were plain."""

    def refuse(self, size):
        raise NotPlain
        yield  # pragma: no cover - makes this a generator, as plain_batches is

    monkeypatch.setattr(TableReader, "plain_batches", refuse)


def _both_ways(path, schema, month, tmp_path, request):
    fast_out, careful_out = tmp_path / "fast.parquet", tmp_path / "careful.parquet"
    fast = parse_extract(path, schema, month, fast_out, now=NOW)
    request.getfixturevalue("careful_only")
    careful = parse_extract(path, schema, month, careful_out, now=NOW)
    return (fast, pd.read_parquet(fast_out)), (careful, pd.read_parquet(careful_out))


@pytest.mark.parametrize("source", ["ed", "police"])
def test_the_fast_reader_gives_what_the_careful_reader_gives(tmp_path, request, source):
    paths = generate_month("2026-10", tmp_path, seed=3, ed_rows=400, police_rows=600)
    schema = schema_for_source(source)
    (fast, fast_rows), (careful, careful_rows) = _both_ways(
        paths[source], schema, dt.date(2026, 10, 1), tmp_path, request
    )
    assert len(fast_rows) > 300 and len(fast.quarantined) > 0  # the generator plants bad rows
    pd.testing.assert_frame_equal(fast_rows, careful_rows)
    pd.testing.assert_frame_equal(fast.quarantined, careful.quarantined)
    assert (fast.rows_in, fast.provider) == (careful.rows_in, careful.provider)


def test_real_open_data_reads_the_same_both_ways(tmp_path, request):
    (fast, fast_rows), (careful, careful_rows) = _both_ways(
        REAL_POLICE_UK, POLICE_UK, dt.date(2018, 10, 1), tmp_path, request
    )
    assert len(fast_rows) > 1000
    pd.testing.assert_frame_equal(fast_rows, careful_rows)
    pd.testing.assert_frame_equal(fast.quarantined, careful.quarantined)


def test_a_quoted_line_break_is_left_to_the_careful_reader(tmp_path):
    lines = [
        HEADER,
        GOOD,
        _row(attendance_id="ED00000002", assault_location_description='"o/s\nwalkabout"'),
        _row(attendance_id="ED00000003"),
    ]
    parse_extract(_write(tmp_path, lines), ED, OCTOBER, tmp_path / "out.parquet", now=NOW)
    rows = pd.read_parquet(tmp_path / "out.parquet")
    assert rows["source_line"].tolist() == [2, 3, 5]  # the row on lines 3-4 starts on line 3
    assert rows["assault_location_description"].tolist()[1] == "o/s\nwalkabout"


def test_plain_files_take_the_fast_reader(tmp_path, monkeypatch):
    """So that the comparisons above compare two readers, not the careful one with itself."""
    reader = TableReader(REAL_POLICE_UK, POLICE_UK)
    assert sum(len(columns["Crime type"]) for columns, _ in reader.plain_batches(5000)) == reader.rows > 1000
    titled = TableReader(_write(tmp_path, ["ED Assault Report", HEADER, GOOD]), ED)
    assert [line for _, line in titled.plain_batches(100)] == [3]  # rows above the header are no obstacle
    quoted = TableReader(
        _write(tmp_path, [HEADER, _row(assault_location_description='"o/s walkabout, st marys st"')]), ED
    )
    assert [columns["ASSAULT LOCATION DESCRIPTION"].to_pylist() for columns, _ in quoted.plain_batches(100)] == [
        ["o/s walkabout, st marys st"]
    ]
    with pytest.raises(NotPlain):
        list(TableReader(_write(tmp_path, [HEADER, GOOD, "Total,1"]), ED).plain_batches(100))
    # A quote inside a value, in the last of several of Arrow's blocks, is seen too.
    monkeypatch.setattr("ingest.layout.ARROW_BLOCK_BYTES", 4096)
    inner = _row(attendance_id="ED00000009", assault_location_description='"o/s the ""kapu"" bar"')
    with pytest.raises(NotPlain):
        list(TableReader(_write(tmp_path, [HEADER] + [GOOD] * 3000 + [inner]), ED).plain_batches(100_000))
