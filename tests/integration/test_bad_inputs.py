"""A corpus of badly delivered extracts, one real-world fault each, and exactly what istv does
with each: refuse the file with a message naming the file, the line, the column where there is
one, and what to do; or read it, passing or quarantining every row with its reason.

Every case checks that rows in = rows passed + rows quarantined, and that no planted identifier
(an NHS number, a name, a postcode, a date of birth, an attendance number) reaches a message or
a reason. The files are generated into a temporary folder at test time; to look at them, or to
try them on the command line, write them out with

    python -m tests.integration.test_bad_inputs tests/bad_inputs/generated
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from ingest.parse import Extract, ExtractError, read_extract, survey
from schemas import schema_for_source
from tests.conftest import DATA

OCTOBER = dt.date(2018, 10, 1)
NOW = dt.datetime(2026, 11, 22, 10, 0)
ED = schema_for_source("ed")
POLICE = schema_for_source("police")
POLICE_UK = schema_for_source("police_uk")
REAL_POLICE_UK = DATA / "police_uk" / "2018-10-south-wales-street.csv"

NHS = "9434765919"  # a valid (Modulus 11) but fake NHS number
NAME = "Zebedee Quartermaine"
PLANTED = (
    NHS,
    "943 476 5919",
    "9434765918",
    "Zebedee",
    "Quartermaine",
    "CF24 4HU",
    "1995",
    "ED00000",
    "62/0000",
    "caf\xe9",
)
WHAT_TO_DO = re.compile(
    r"ask the provider|save it from Excel|Re-export|re-export|remove or rename|Fix the quoting|pass --month"
)

ED_HEADER = [f.header for f in ED.fields]
POLICE_HEADER = [f.header for f in POLICE.fields]


def ed_row(n: int = 1, **changes: str) -> list[str]:
    day = f"{min(n, 28):02d}"
    values = {
        "reporting_period_start": "01/10/2018",
        "reporting_period_end": "31/10/2018",
        "site_code": "7A4BV",
        "attendance_id": f"ED{n:08d}",
        "nhs_number": NHS,
        "date_of_birth": "02/03/1995",
        "sex": "1",
        "home_postcode": "CF24 4HU",
        "arrival_datetime": f"{day}/10/2018 23:40",
        "assault_datetime": f"{day}/10/2018 23:05",
        "assault_method": "01",
        "assault_method_other": "",
        "assault_location_type": "01",
        "assault_location_description": f"o/s walkabout, {NAME} was there",
    }
    values.update(changes)
    return [values[f.name] for f in ED.fields]


def police_row(n: int = 1, **changes: str) -> list[str]:
    values = {
        "force_code": "SWP",
        "crime_reference": f"62/{n:06d}/18",
        "offence_code": "008/01",
        "offence_description": "Assault occasioning actual bodily harm",
        "committed_from": "06/10/2018 23:05",
        "committed_to": "06/10/2018 23:30",
        "location_text": "St Mary Street, Cardiff",
        "latitude": "51.4790",
        "longitude": "-3.1760",
        "victim_date_of_birth": "02/03/1995",
        "victim_sex": "2",
        "weapon_flag": "N",
    }
    values.update(changes)
    return [values[f.name] for f in POLICE.fields]


def text(rows: list, delimiter: str = ",", newline: str = "\r\n") -> str:
    """CSV text; a row given as a string is written as it is, a raw line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    for row in rows:
        if isinstance(row, str):
            out.write(row + newline)
        else:
            writer.writerow(row)
    return out.getvalue()


def ed(*rows, header=ED_HEADER, delimiter=",", newline="\r\n", encoding="utf-8") -> Callable[[], bytes]:
    return lambda: text([header, *rows], delimiter, newline).encode(encoding)


def ed_lines(*rows) -> list[str]:
    """Good ED rows as raw lines, for files that are put together by hand."""
    return [text([r], newline="") for r in rows]


def real_police_uk(kind: str) -> list[str]:
    lines = REAL_POLICE_UK.read_text().splitlines()
    if kind == "header":
        return lines[:1]
    if kind == "no location":
        return [line for line in lines if "No Location" in line][:3]
    return lines[1:4]


def xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        book.writestr("xl/worksheets/sheet1.xml", f"<sheetData><row><c><v>{NAME}</v></c></row></sheetData>")
    return out.getvalue()


@dataclass
class Case:
    id: str
    content: Callable[[], bytes]
    source: str = "ed"
    name: str = "ed.csv"
    error: tuple[str, ...] = ()  # an ExtractError whose message holds each of these
    rows_in: int = 0
    quarantined: dict[int, str] = field(default_factory=dict)  # source line -> reasons, exactly
    check: Callable[[Extract], None] | None = None
    month: dt.date = OCTOBER
    now: dt.datetime = NOW


def _lines(*expected: int) -> Callable[[Extract], None]:
    def check(extract: Extract) -> None:
        assert list(extract.rows.source_line) == list(expected)

    return check


def _all(*checks: Callable[[Extract], None]) -> Callable[[Extract], None]:
    def check(extract: Extract) -> None:
        for c in checks:
            c(extract)

    return check


def _attr(**expected) -> Callable[[Extract], None]:
    def check(extract: Extract) -> None:
        assert {k: getattr(extract, k) for k in expected} == expected

    return check


def _value(column: str, expected) -> Callable[[Extract], None]:
    def check(extract: Extract) -> None:
        assert list(extract.rows[column]) == expected

    return check


def _no_name_anywhere(extract: Extract) -> None:
    assert extract.undeclared_columns == ["PATIENT NAME"]
    assert "PATIENT NAME" not in extract.rows.columns and "PATIENT NAME" not in extract.quarantined.columns
    everything = extract.rows.astype(str).to_csv() + extract.quarantined.astype(str).to_csv()
    assert "Ignatius Planted" not in everything


def _three_date_formats(extract: Extract) -> None:
    assert set(extract.rows.assault_datetime) == {dt.datetime(2018, 10, 6, 23, 5)}
    assert set(extract.rows.arrival_datetime) == {
        dt.datetime(2018, 10, 6, 23, 40),
        dt.datetime(2018, 10, 6, 23, 40, 30),
    }
    assert set(extract.rows.date_of_birth) == {dt.datetime(1995, 3, 2)}
    assert set(extract.rows.reporting_period_start) == {dt.datetime(2018, 10, 1)}


def _coordinates_missing_but_kept(extract: Extract) -> None:
    assert extract.rows.latitude.isna().sum() == 3 and extract.rows.longitude.isna().sum() == 3
    assert list(extract.rows.location[-3:]) == ["No Location"] * 3


def _cut_row(n: int, fields: int) -> str:
    return ",".join(ed_row(n)[:fields])


CASES = [
    # --- files refused as a whole -----------------------------------------------------------
    Case("empty_file", lambda: b"", error=("ed.csv: the file is empty", "ask the provider")),
    Case("only_blank_lines", lambda: b"\r\n  \r\n\r\n", error=("ed.csv: the file is empty",)),
    Case("bom_only", lambda: b"\xef\xbb\xbf", error=("ed.csv: the file is empty",)),
    Case(
        "utf16_with_bom",
        lambda: text([ED_HEADER, ed_row()]).encode("utf-16"),
        error=("ed.csv: this is not a CSV file, it looks like UTF-16 text", "CSV UTF-8"),
    ),
    Case(
        "utf16_without_bom",
        lambda: text([ED_HEADER, ed_row()]).encode("utf-16-le"),
        error=("ed.csv: this is not a CSV file, it looks like UTF-16 text without a byte-order mark", "CSV UTF-8"),
    ),
    Case(
        "xlsx_renamed_csv",
        xlsx,
        error=("ed.csv: this is not a CSV file, it looks like an Excel workbook (.xlsx)", "CSV UTF-8"),
    ),
    Case(
        "xls_renamed_csv",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100 + NAME.encode(),
        error=("ed.csv: this is not a CSV file, it looks like an old-style Excel workbook (.xls)",),
    ),
    Case(
        "html_table_saved_as_csv",
        lambda: f"<html><body><table><tr><td>{NAME}</td></tr></table></body></html>".encode(),
        error=("ed.csv: this is not a CSV file, it looks like an HTML page",),
    ),
    Case(
        "nul_bytes_in_the_middle",
        lambda: (
            text([ED_HEADER, ed_row(1), ed_row(2)]).encode().replace(b"o/s walkabout", b"o/s\x00walkabout", 2)[:-1]
            + b"\x00"
        ),
        error=("ed.csv, line 2: the file holds binary data (NUL bytes)", "CSV UTF-8"),
    ),
    Case(
        "mixed_utf8_and_cp1252",
        lambda: (
            text([ED_HEADER, ed_row(1, assault_location_description="caf\xe9")]).encode("utf-8")
            + text([ed_row(2, assault_location_description="caf\xe9")]).encode("cp1252")
        ),
        error=("ed.csv, line 3: the file mixes UTF-8 and Windows-1252 text", "CSV UTF-8"),
    ),
    Case(
        "missing_column",
        ed(ed_row()[:12] + ed_row()[13:], header=ED_HEADER[:12] + ED_HEADER[13:]),
        error=("ed.csv, line 1: column(s) 'ASSAULT LOCATION TYPE' missing from the header", "schemas/ed_extract.yaml"),
    ),
    Case(
        "renamed_column",
        ed(ed_row(), header=[h if h != "ASSAULT METHOD" else "ASSAULT METHOD CODE" for h in ED_HEADER]),
        error=(
            "ed.csv, line 1: column(s) 'ASSAULT METHOD' (the header has 'ASSAULT METHOD CODE': renamed?) missing",
            "Re-export it with the columns listed in schemas/ed_extract.yaml",
        ),
    ),
    Case(
        "renamed_column_below_title_rows",
        lambda: text(
            ["ED Assault Report", [h if h != "NHS NUMBER" else "NHS No" for h in ED_HEADER], ed_row()]
        ).encode(),
        error=("ed.csv, line 2: column(s) 'NHS NUMBER' (the header has 'NHS No': renamed?) missing",),
    ),
    Case(
        "no_header_row_at_all",
        lambda: text([ed_row(1), ed_row(2)]).encode(),
        error=(
            (
                "ed.csv, line 1: no header row found: none of the first 50 rows carries any of the columns of the "
                "Emergency department assault attendances extract"
            ),
            "'REPORTING PERIOD START DATE', 'REPORTING PERIOD END DATE'",
            "its header row is missing",
        ),
    ),
    Case(
        "police_open_data_delivered_as_ed",
        lambda: "\n".join(real_police_uk("header") + real_police_uk("rows")).encode(),
        error=("ed.csv, line 1: no header row found", "'REPORTING PERIOD START DATE'", "schemas/ed_extract.yaml"),
    ),
    Case(
        "police_open_data_delivered_as_police_extract",
        lambda: "\n".join(real_police_uk("header") + real_police_uk("rows")).encode(),
        source="police",
        name="police.csv",
        error=(
            (
                "police.csv, line 1: column(s) 'FORCE CODE', 'CRIME REFERENCE', 'HOME OFFICE OFFENCE CODE', "
                "'OFFENCE DESCRIPTION', 'COMMITTED FROM', 'COMMITTED TO', 'VICTIM DATE OF BIRTH', 'VICTIM SEX', "
                "'WEAPON USED' missing from the header"
            ),
            "not the expected kind of file (Police recorded violence (record-management extract))",
        ),
    ),
    Case(
        "data_values_in_the_header_row",
        ed(
            ed_row(1),
            header=[*ED_HEADER[:4], "NHS NUMBER\r\n" + NHS, *ED_HEADER[5:], "943 476 5919", f"{NAME} 02/03/1995"],
        ),
        error=("ed.csv, line 1: column(s) 'NHS NUMBER' missing from the header",),
    ),
    Case(
        "duplicate_header",
        ed(ed_row() + [NHS], header=ED_HEADER + ["nhs number "]),
        error=(
            "ed.csv, line 1: column 'NHS NUMBER' appears 2 times in the header (columns 5 and 15)",
            "remove or rename",
        ),
    ),
    Case(
        "truncated_last_row",
        lambda: (text([ED_HEADER, ed_row(1), ed_row(2)]) + _cut_row(3, 10)).encode(),
        error=(
            "ed.csv, line 4: 10 fields where the header has 14; this is the last row",
            "stops after column 'ASSAULT DATE AND TIME'",
            "cut off",
            "ask the provider",
        ),
    ),
    Case(
        "unterminated_quote_at_end_of_file",
        lambda: (text([ED_HEADER, ed_row(1), ed_row(2)]) + ",".join(ed_row(3)[:13]) + ',"o/s walkabout, near').encode(),
        error=(
            "ed.csv, line 4: a quoted field in column 'ASSAULT LOCATION DESCRIPTION' opens here and is never closed",
            "Fix the quoting",
        ),
    ),
    Case(
        "unbalanced_quote_swallows_the_rest",
        lambda: text(
            [
                ED_HEADER,
                ed_row(1),
                ",".join(ed_row(2)[:13]) + ',"o/s walkabout',
                *(ed_row(n, assault_location_description="o/s walkabout") for n in (3, 4)),
            ]
        ).encode(),
        error=(
            "ed.csv, line 3: a quoted field in column 'ASSAULT LOCATION DESCRIPTION' opens here and is never closed",
        ),
    ),
    Case(
        "unbalanced_quote_swallows_rows",
        lambda: text(
            [
                ED_HEADER,
                ed_row(1),
                ",".join(ed_row(2)[:13]) + ',"o/s walkabout',
                ed_row(3),
                ",".join(ed_row(4)[:13]) + ',"Tiger Tiger"',
                ed_row(5),
            ]
        ).encode(),
        error=(
            "ed.csv, line 3: a quoted field opens on this line and runs on over the lines below it",
            "Fix the quoting",
        ),
    ),
    Case(
        "footer_count_disagrees",
        ed(ed_row(1), ed_row(2), ed_row(3), "", "Total,5"),
        error=("ed.csv, line 6: the file says 5 rows but holds 3: it may be cut off", "ask the provider"),
    ),
    Case(
        "header_commas_rows_semicolons",
        lambda: (text([ED_HEADER]) + text([ed_row(1), ed_row(2), ed_row(3)], delimiter=";")).encode(),
        error=(
            "ed.csv: 3 of 3 rows have a different number of fields from the header (the first at line 2: 2 fields",
            "the delimiter (comma) or the quoting is wrong",
        ),
    ),
    Case(
        "delimiter_at_the_end_of_every_row",
        lambda: (
            text([ED_HEADER]).encode()
            + b"".join(",".join(ed_row(n, assault_location_description="x")).encode() + b",\r\n" for n in (1, 2, 3))
        ),
        error=(
            (
                "ed.csv: 3 of 3 rows have a different number of fields from the header (the first at line 2: "
                "15 fields where the header has 14); the rows end with empty fields the header does not have"
            ),
        ),
    ),
    # --- files read, every row passed or quarantined -----------------------------------------
    Case(
        "title_rows_above_the_header",
        lambda: text(
            ["ED Assault Report,,,,", f"Generated 01/11/2018 for {NAME}", "", ED_HEADER, ed_row(1), ed_row(2)]
        ).encode(),
        rows_in=2,
        check=_all(_lines(5, 6), _attr(title_rows=3, footer_rows=0)),
    ),
    Case(
        "totals_footer",
        ed(ed_row(1), ed_row(2), ed_row(3), "", "Total,3", "End of report", ",,,,,,,,,,,,,"),
        rows_in=3,
        check=_attr(footer_rows=4, title_rows=0, blank_rows=0),
    ),
    Case(
        "total_rows_footer_in_one_cell",
        ed(ed_row(1), ed_row(2), "TOTAL ROWS: 2"),
        rows_in=2,
        check=_attr(footer_rows=1),
    ),
    Case(
        "header_only_with_a_zero_total",
        ed("Record count: 0"),
        rows_in=0,
        check=_attr(footer_rows=1),
    ),
    Case(
        "header_only",
        ed(),
        rows_in=0,
        check=lambda e: e.rows.empty and list(e.rows.columns) == ["source_line", *ED.field_names],
    ),
    Case(
        "semicolons_with_commas_in_free_text",
        ed(ed_row(1, assault_location_description="o/s Walkabout, St Mary St, Cardiff"), ed_row(2), delimiter=";"),
        rows_in=2,
        check=_all(
            _attr(delimiter=";"),
            _value(
                "assault_location_description",
                ["o/s Walkabout, St Mary St, Cardiff", f"o/s walkabout, {NAME} was there"],
            ),
        ),
    ),
    Case("tabs", ed(ed_row(1), ed_row(2), delimiter="\t"), rows_in=2, check=_attr(delimiter="\t")),
    Case(
        "undeclared_headers_that_look_like_values",
        ed(ed_row(1) + ["x", "y", ""], header=ED_HEADER + ["943 476 5919", f"{NAME}\nCF24 4HU", ""]),
        rows_in=1,
        check=_attr(
            undeclared_columns=[
                "(column 15: header not shown)",
                "(column 16: header not shown)",
                "(column 17: blank header)",
            ]
        ),
    ),
    Case("pipes", ed(ed_row(1), ed_row(2), delimiter="|"), rows_in=2, check=_attr(delimiter="|")),
    Case(
        "commas_with_other_delimiters_in_quoted_text",
        ed(ed_row(1, assault_location_description="a;b|c\td;e;f;g;h;i;j;k;l;m;n;o;p"), ed_row(2)),
        rows_in=2,
        check=_attr(delimiter=","),
    ),
    Case(
        "windows_1252_pound_and_e_acute",
        ed(ed_row(1, assault_location_description="caf\xe9 on Queen St, \xa35 entry"), encoding="cp1252"),
        rows_in=1,
        check=_all(
            _attr(encoding="cp1252"), _value("assault_location_description", ["caf\xe9 on Queen St, \xa35 entry"])
        ),
    ),
    Case(
        "utf8_with_bom",
        lambda: b"\xef\xbb\xbf" + text([ED_HEADER, ed_row(1, assault_location_description="caf\xe9")]).encode(),
        rows_in=1,
        check=_all(_attr(encoding="utf-8-sig"), _value("assault_location_description", ["caf\xe9"])),
    ),
    Case(
        "header_case_and_spaces",
        ed(ed_row(1), header=[f"  {h.lower()} " for h in ED_HEADER]),
        rows_in=1,
    ),
    Case("crlf", ed(ed_row(1), ed_row(2), newline="\r\n"), rows_in=2, check=_lines(2, 3)),
    Case(
        "mixed_line_ends",
        lambda: "".join(
            line + end
            for line, end in zip(ed_lines(ED_HEADER, ed_row(1), ed_row(2), ed_row(3)), ("\r\n", "\n", "\r", "\r\n"))
        ).encode(),
        rows_in=3,
        check=_lines(2, 3, 4),
    ),
    Case(
        "line_break_inside_quoted_text",
        ed(
            ed_row(1),
            ed_row(2, assault_location_description="o/s walkabout\r\nnear the taxi rank"),
            ed_row(3),
            ed_row(4, assault_method="07"),
        ),
        rows_in=4,
        quarantined={6: "assault_method: code not in the assault_method code list"},
        check=_all(
            _lines(2, 3, 5),
            _value(
                "assault_location_description",
                [
                    f"o/s walkabout, {NAME} was there",
                    "o/s walkabout\r\nnear the taxi rank",
                    f"o/s walkabout, {NAME} was there",
                ],
            ),
        ),
    ),
    Case(
        "unusual_line_separators_inside_text",
        ed(ed_row(1, assault_location_description="a\x0bb\x0cc\x1cd\u2028e\x85f"), ed_row(2)),
        rows_in=2,
        check=_lines(2, 3),
    ),
    Case(
        "extra_column_holding_names",
        ed(
            ed_row(1) + ["Ignatius Planted"],
            ed_row(2, nhs_number="9434765918") + ["Ignatius Planted"],
            header=ED_HEADER + ["PATIENT NAME"],
        ),
        rows_in=2,
        quarantined={3: "nhs_number: fails the NHS number Modulus 11 check"},
        check=_no_name_anywhere,
    ),
    Case(
        "row_with_extra_fields",
        lambda: text(
            [
                ED_HEADER,
                ed_row(1),
                ",".join(
                    ed_row(
                        2,
                        assault_method="06",
                        assault_method_other="hit with chair",
                        assault_location_description="o/s walkabout",
                    )
                ).replace("hit with chair", "hit with chair, bottle"),
                ed_row(3),
                ed_row(4),
            ]
        ).encode(),
        rows_in=4,
        quarantined={3: "row has 15 fields where the header has 14"},
        check=_lines(2, 4, 5),
    ),
    Case(
        "row_split_by_an_unquoted_line_break",
        lambda: text(
            [
                ED_HEADER,
                ed_row(1),
                ",".join(
                    ed_row(
                        2,
                        assault_method="06",
                        assault_method_other="hit with a\r\nchair",
                        assault_location_description="o/s walkabout",
                    )
                ),
                ed_row(3),
            ]
        ).encode(),
        rows_in=4,
        quarantined={3: "row has 12 fields where the header has 14", 4: "row has 3 fields where the header has 14"},
        check=_lines(2, 5),
    ),
    Case(
        "blank_lines_in_the_middle",
        ed(ed_row(1), "", ed_row(2), ",,,,,,,,,,,,,", ed_row(3)),
        rows_in=3,
        check=_all(_lines(2, 4, 6), _attr(blank_rows=2, footer_rows=0)),
    ),
    Case(
        "dates_in_three_formats",
        ed(
            ed_row(
                1,
                reporting_period_start="2018-10-01",
                arrival_datetime="06/10/2018 23:40",
                assault_datetime="06/10/2018 23:05",
            ),
            ed_row(
                2,
                reporting_period_start="01-Oct-2018",
                arrival_datetime="2018-10-06 23:40:30",
                assault_datetime="2018-10-06 23:05:00",
                date_of_birth="1995-03-02",
            ),
            ed_row(
                3,
                arrival_datetime="06-OCT-2018 23:40",
                assault_datetime="06-Oct-2018 23:05",
                date_of_birth="02-Mar-1995",
            ),
            ed_row(4, arrival_datetime="2018-10-06T23:40:30", assault_datetime="06/10/2018 23:05:00"),
        ),
        rows_in=4,
        check=_three_date_formats,
    ),
    Case(
        "impossible_date_31_february",
        ed(ed_row(1), ed_row(2, assault_datetime="31/02/2018 01:00")),
        rows_in=2,
        quarantined={3: "assault_datetime: not a valid datetime"},
    ),
    Case(
        "us_month_first_dates",
        ed(
            ed_row(1),
            ed_row(2, arrival_datetime="10/31/2018 23:40", assault_datetime="10/31/2018 23:05"),
            ed_row(3, arrival_datetime="10/06/2018 23:40", assault_datetime="10/06/2018 23:05"),
        ),
        rows_in=3,
        quarantined={
            3: "arrival_datetime: not a valid datetime; assault_datetime: not a valid datetime",
            4: "assault_datetime: outside reporting_period_start to reporting_period_end; "
            "assault_datetime: not in 2018-10, the month being ingested",
        },
    ),
    Case(
        "assault_after_arrival",
        ed(ed_row(1), ed_row(2, assault_datetime="07/10/2018 01:00", arrival_datetime="06/10/2018 23:40")),
        rows_in=2,
        quarantined={3: "assault_datetime: after arrival_datetime"},
    ),
    Case(
        "future_date",
        ed(
            ed_row(
                1,
                reporting_period_start="01/11/2026",
                reporting_period_end="30/11/2026",
                arrival_datetime="21/11/2026 23:40",
                assault_datetime="21/11/2026 23:05",
            ),
            ed_row(
                2,
                reporting_period_start="01/11/2026",
                reporting_period_end="30/11/2026",
                arrival_datetime="23/11/2026 01:40",
                assault_datetime="23/11/2026 01:05",
            ),
        ),
        rows_in=2,
        quarantined={3: "arrival_datetime: in the future; assault_datetime: in the future"},
        month=dt.date(2026, 11, 1),
    ),
    Case(
        "rows_from_another_month",
        ed(
            ed_row(1),
            ed_row(
                2,
                reporting_period_start="01/09/2018",
                reporting_period_end="30/09/2018",
                arrival_datetime="15/09/2018 23:40",
                assault_datetime="15/09/2018 23:05",
            ),
        ),
        rows_in=2,
        quarantined={3: "assault_datetime: not in 2018-10, the month being ingested"},
    ),
    Case(
        "unknown_method_code",
        ed(ed_row(1), ed_row(2, assault_method="QQ"), ed_row(3, assault_method="1")),
        rows_in=3,
        quarantined={
            3: "assault_method: code not in the assault_method code list",
            4: "assault_method: code not in the assault_method code list",
        },
    ),
    Case(
        "nhs_number_fails_modulus_11",
        ed(ed_row(1, nhs_number="943 476 5919"), ed_row(2, nhs_number="9434765918"), ed_row(3, nhs_number="")),
        rows_in=3,
        quarantined={3: "nhs_number: fails the NHS number Modulus 11 check"},
    ),
    Case(
        "duplicate_attendance_id",
        ed(ed_row(1), ed_row(2), ed_row(1)),
        rows_in=3,
        quarantined={4: "attendance_id: duplicate of an earlier row"},
    ),
    Case(
        "missing_required_values",
        ed(ed_row(1), ed_row(2, site_code="", assault_location_type=" ")),
        rows_in=2,
        quarantined={3: "site_code: missing required value; assault_location_type: missing required value"},
    ),
    Case(
        "police_coordinates_out_of_range_or_not_numbers",
        lambda: text(
            [
                POLICE_HEADER,
                police_row(1),
                police_row(2, latitude="95.2"),
                police_row(3, latitude="fifty-one", longitude="-200"),
                police_row(4, latitude="51,479"),
            ]
        ).encode(),
        source="police",
        name="police.csv",
        rows_in=4,
        quarantined={
            3: "latitude: above 90",
            4: "latitude: not a number; longitude: below -180",
            5: "latitude: not a number",
        },
    ),
    Case(
        "police_uk_no_location_rows_are_kept",
        lambda: (
            "\n".join(real_police_uk("header") + real_police_uk("rows") + real_police_uk("no location")).encode()
            + b"\n"
        ),
        source="police_uk",
        name="2018-10-south-wales-street.csv",
        rows_in=6,
        check=_coordinates_missing_but_kept,
    ),
    Case(
        "police_uk_crlf_whole_file",
        lambda: REAL_POLICE_UK.read_bytes().replace(b"\n", b"\r\n"),
        source="police_uk",
        name="2018-10-south-wales-street.csv",
        rows_in=12363,
        check=lambda e: e.rows.latitude.isna().sum() == 223,
    ),
]


def _write(case: Case, folder: Path) -> Path:
    path = folder / case.name
    path.write_bytes(case.content())
    return path


def _assert_nothing_planted(text: str) -> None:
    for value in PLANTED:
        assert value not in text, f"a planted identifier reached a message: {value!r}"


def test_the_corpus_has_at_least_thirty_distinct_faults():
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path):
    path = _write(case, tmp_path)
    schema = schema_for_source(case.source)
    if case.error:
        with pytest.raises(ExtractError) as err:
            read_extract(path, schema, case.month, now=case.now)
        message = str(err.value)
        assert message.startswith(path.name)
        for part in case.error:
            assert part in message
        assert WHAT_TO_DO.search(message)
        _assert_nothing_planted(message)
        return
    extract = read_extract(path, schema, case.month, now=case.now)
    assert extract.rows_in == case.rows_in == len(extract.rows) + len(extract.quarantined)
    got = (
        dict(zip(extract.quarantined["source_line"], extract.quarantined["reasons"]))
        if len(extract.quarantined)
        else {}
    )
    assert got == case.quarantined
    _assert_nothing_planted(" ".join(extract.reason_counts) + " ".join(extract.undeclared_columns))
    assert sum(extract.reason_counts.values()) >= len(extract.quarantined)
    if case.check:
        outcome = case.check(extract)  # asserts, or says whether it holds
        assert outcome is None or bool(outcome)


def test_month_is_worked_out_below_title_rows_and_above_a_footer(tmp_path):
    case = next(c for c in CASES if c.id == "title_rows_above_the_header")
    assert survey(_write(case, tmp_path), ED).likeliest_month() == OCTOBER
    case = next(c for c in CASES if c.id == "totals_footer")
    assert survey(_write(case, tmp_path), ED).likeliest_month() == OCTOBER


def test_a_bad_file_on_the_command_line_says_what_is_wrong_without_a_traceback(istv_home, tmp_path):
    from click.testing import CliRunner

    from pipelines.cli import cli

    path = tmp_path / "october.csv"
    path.write_bytes(xlsx())
    result = CliRunner().invoke(cli, ["ingest", str(path), "--source", "ed"])
    assert result.exit_code == 1
    assert "october.csv: this is not a CSV file, it looks like an Excel workbook" in result.output
    assert "Traceback" not in result.output and NAME not in result.output
    assert not any(istv_home.landing.rglob("*.csv"))


def test_the_real_police_file_is_read_in_well_under_a_second():
    read_extract(REAL_POLICE_UK, POLICE_UK, OCTOBER)  # code lists and imports warmed up
    start = time.process_time()
    extract = read_extract(REAL_POLICE_UK, POLICE_UK, OCTOBER)
    assert time.process_time() - start < 1.0
    assert extract.rows_in == 12363 and extract.quarantined.empty


if __name__ == "__main__":  # write the corpus out, to look at or to try with `istv ingest`
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/bad_inputs/generated")
    for case in CASES:
        folder = out / case.id
        folder.mkdir(parents=True, exist_ok=True)
        _write(case, folder)
    print(f"{len(CASES)} files written under {out}")
    pd.DataFrame([{"case": c.id, "source": c.source, "refused": bool(c.error)} for c in CASES]).to_csv(
        out / "index.csv", index=False
    )
