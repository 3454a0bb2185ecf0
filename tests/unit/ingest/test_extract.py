"""Reading delivered extracts: every row passed or quarantined with a reason naming the column,
and file-level problems named by file and line, never by value."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.parse import ExtractError, read_extract, survey
from schemas import load_schema, schema_for_source

OCTOBER = dt.date(2018, 10, 1)
NOW = dt.datetime(2026, 11, 22)
ED = schema_for_source("ed")
HEADER = ",".join(f.header for f in ED.fields)
GOOD = (
    "01/10/2018,31/10/2018,7A4BV,ED00000001,943 476 5919,02/03/1995,1,CF24 4HU,"
    "06/10/2018 23:40,06/10/2018 23:05,01,,01,o/s walkabout"
)


def _write(tmp_path, lines, name="ed.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _row(**changes):
    values = dict(zip([f.name for f in ED.fields], GOOD.split(",")))
    values.update(changes)
    return ",".join(values[f.name] for f in ED.fields)


def test_good_row_is_typed(tmp_path):
    extract = read_extract(_write(tmp_path, [HEADER, GOOD]), ED, OCTOBER, now=NOW)
    assert extract.rows_in == 1 and len(extract.rows) == 1 and extract.quarantined.empty
    row = extract.rows.iloc[0]
    assert row.assault_datetime == dt.datetime(2018, 10, 6, 23, 5)
    assert row.source_line == 2


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"assault_method": "7"}, "assault_method: code not in the assault_method code list"),
        ({"assault_datetime": "07/10/2018 01:00"}, "assault_datetime: after arrival_datetime"),
        ({"assault_datetime": "31/02/2018 01:00"}, "assault_datetime: not a valid datetime"),
        ({"nhs_number": "9434765918"}, "nhs_number: fails the NHS number Modulus 11 check"),
        ({"attendance_id": ""}, "attendance_id: missing required value"),
        ({"site_code": "cardiff!"}, "site_code: does not match the expected pattern"),
        (
            {"arrival_datetime": "06/10/2030 23:40", "assault_datetime": "06/10/2030 23:05"},
            "assault_datetime: in the future",
        ),
        (
            {"assault_datetime": "30/09/2018 23:05", "arrival_datetime": "30/09/2018 23:40"},
            "assault_datetime: outside reporting_period_start to reporting_period_end",
        ),
    ],
)
def test_bad_rows_are_quarantined_with_their_reason(tmp_path, changes, reason):
    path = _write(tmp_path, [HEADER, GOOD.replace("ED00000001", "ED00000002"), _row(**changes)])
    extract = read_extract(path, ED, OCTOBER, now=NOW)
    assert extract.rows_in == 2 == len(extract.rows) + len(extract.quarantined)
    assert len(extract.quarantined) == 1
    assert reason in extract.quarantined.iloc[0]["reasons"]
    assert extract.quarantined.iloc[0]["source_line"] == 3
    assert reason in extract.reason_counts


def test_reasons_never_carry_values(tmp_path):
    bad = _row(nhs_number="1234567890", assault_method="QQ", attendance_id="ED00000009")
    extract = read_extract(_write(tmp_path, [HEADER, bad]), ED, OCTOBER, now=NOW)
    reasons = " ".join(extract.reason_counts)
    assert "1234567890" not in reasons and "QQ" not in reasons


def test_duplicate_attendance_is_quarantined(tmp_path):
    extract = read_extract(_write(tmp_path, [HEADER, GOOD, GOOD]), ED, OCTOBER, now=NOW)
    assert len(extract.rows) == 1
    assert extract.quarantined.iloc[0]["reasons"] == "attendance_id: duplicate of an earlier row"


def test_row_from_another_month_is_quarantined_not_dropped(tmp_path):
    extract = read_extract(_write(tmp_path, [HEADER, GOOD]), ED, dt.date(2018, 11, 1), now=NOW)
    assert extract.rows.empty
    assert "not in 2018-11" in extract.quarantined.iloc[0]["reasons"]


def test_windows_1252_semicolons_and_bom(tmp_path):
    lines = [HEADER.replace(",", ";"), GOOD.replace(",", ";").replace("o/s walkabout", "caf\xe9 o/s")]
    extract = read_extract(_write(tmp_path, lines, encoding="cp1252"), ED, OCTOBER, now=NOW)
    assert len(extract.rows) == 1 and extract.rows.iloc[0].assault_location_description == "caf\xe9 o/s"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\n" + GOOD + "\n").encode())
    assert len(read_extract(bom, ED, OCTOBER, now=NOW).rows) == 1


def test_undeclared_columns_are_dropped_at_once(tmp_path):
    lines = [HEADER + ",PATIENT NAME", GOOD + ",Jane Planted"]
    extract = read_extract(_write(tmp_path, lines), ED, OCTOBER, now=NOW)
    assert extract.undeclared_columns == ["PATIENT NAME"]
    assert "Jane Planted" not in extract.rows.to_string()


def test_missing_column_names_the_file_and_the_column(tmp_path):
    header = HEADER.replace("ASSAULT METHOD,", "METHOD,")
    with pytest.raises(ExtractError) as err:
        read_extract(_write(tmp_path, [header, GOOD], name="october.csv"), ED, OCTOBER, now=NOW)
    message = str(err.value)
    assert "october.csv, line 1" in message and "'ASSAULT METHOD'" in message and "schemas/ed_extract.yaml" in message


def test_cut_off_file_names_the_line(tmp_path):
    cut = GOOD.rsplit(",", 3)[0]
    with pytest.raises(ExtractError, match=r"ed.csv, line 3: 11 fields where the header has 14"):
        read_extract(_write(tmp_path, [HEADER, GOOD, cut]), ED, OCTOBER, now=NOW)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ExtractError, match="empty.csv: the file is empty"):
        read_extract(path, ED, OCTOBER)


def test_title_and_footer_rows_are_counted_apart_from_the_data(tmp_path):
    lines = ["ED Assault Report", "", HEADER, GOOD, "", "Total,1"]
    extract = read_extract(_write(tmp_path, lines), ED, OCTOBER, now=NOW)
    assert (extract.rows_in, extract.title_rows, extract.footer_rows, extract.blank_rows) == (1, 2, 2, 0)
    assert extract.rows.iloc[0].source_line == 4


def test_title_rows_and_undeclared_columns_never_reach_the_passed_rows(tmp_path):
    extract = read_extract(
        _write(tmp_path, ["ED Assault Report", HEADER + ",PATIENT NAME", GOOD + ",Jane Planted"]), ED, OCTOBER, now=NOW
    )
    assert list(extract.rows.columns) == ["source_line", *[f.name for f in ED.fields]]
    assert list(extract.rows.source_line) == [3] and extract.undeclared_columns == ["PATIENT NAME"]
    assert "Jane Planted" not in extract.rows.to_string()


def test_survey_refuses_a_cut_off_file(tmp_path):
    assert sum(survey(_write(tmp_path, [HEADER, GOOD]), ED).months.values()) == 1
    with pytest.raises(ExtractError, match="line 3"):
        survey(_write(tmp_path, [HEADER, GOOD, GOOD.split(",", 3)[0]]), ED)


def test_month_is_worked_out_from_the_rows(tmp_path):
    assert survey(_write(tmp_path, [HEADER, GOOD]), ED).likeliest_month() == OCTOBER


def test_real_police_open_data_reads_cleanly():
    from tests.conftest import DATA

    schema = load_schema("police_uk_street")
    path = DATA / "police_uk" / "2018-10-south-wales-street.csv"
    extract = read_extract(path, schema, OCTOBER)
    lines = path.read_text().count("\n") - 1
    assert extract.rows_in == lines == len(extract.rows)
    assert extract.rows.latitude.isna().sum() > 0  # some rows have no coordinates: kept, not lost
