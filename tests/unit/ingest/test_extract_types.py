"""Typing a batch's text: dates, times and numbers read exactly as pandas reads them, whether
Arrow reads them (the plain texts, fast) or pandas does (the rest)."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.parse import TIME_FORMATS, _parse_numbers, _parse_times, parse_extract, read_extract
from tests.unit.ingest.test_extract import ED, GOOD, HEADER, NOW, OCTOBER, _row, _write

NAT = None


def _as_pandas_reads_times(values: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """The reference: each text through pandas' to_datetime, format by format, except the words
    pandas reads as the time of reading."""
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    for fmt in formats:
        todo = parsed.isna() & values.ne("") & ~values.isin(["now", "today"])
        parsed[todo] = pd.to_datetime(values[todo], format=fmt, errors="coerce")
    return parsed


def _times(texts: list[str], kind: str) -> list:
    parsed = _parse_times(pd.Series(texts, dtype="str"), TIME_FORMATS[kind])
    return [None if pd.isna(t) else t.to_pydatetime() for t in parsed]


@pytest.mark.parametrize(
    "kind, text, expected",
    [
        # plain texts, read by Arrow
        ("datetime", "01/10/2026 00:14", dt.datetime(2026, 10, 1, 0, 14)),
        ("datetime", "1/1/2026 0:14", dt.datetime(2026, 1, 1, 0, 14)),
        ("datetime", "2026-10-01 00:00:59", dt.datetime(2026, 10, 1, 0, 0, 59)),
        ("datetime", "2026-10-01T23:59", dt.datetime(2026, 10, 1, 23, 59)),
        ("datetime", "06-Oct-2018 23:05", dt.datetime(2018, 10, 6, 23, 5)),
        ("date", "29/02/2024", dt.datetime(2024, 2, 29)),
        ("date", "2026-1-9", dt.datetime(2026, 1, 9)),
        ("date", "2026-10-1", dt.datetime(2026, 10, 1)),
        ("date", "01/01/0001", dt.datetime(1, 1, 1)),
        ("month", "2026-10", dt.datetime(2026, 10, 1)),
        # days the month lacks: Arrow alone would move them on into the next month
        ("date", "31/02/2026", NAT),
        ("date", "29/02/2025", NAT),
        ("date", "2026-04-31", NAT),
        ("datetime", "31-Sep-2026 10:00", NAT),
        # texts Arrow alone would read but pandas does not
        ("date", "01/10/26", NAT),
        ("date", "06-October-2018", NAT),
        ("datetime", "01/10/202600:14", NAT),
        ("date", "01/01/0000", NAT),
        # texts pandas reads, Arrow not as pandas does: left to pandas
        ("date", "06-OCT-2018", dt.datetime(2018, 10, 6)),
        ("datetime", "01/10/2026  00:14", dt.datetime(2026, 10, 1, 0, 14)),
        ("datetime", "01/10/2026\t00:14", dt.datetime(2026, 10, 1, 0, 14)),
        ("datetime", "2026-10-01t00:14", dt.datetime(2026, 10, 1, 0, 14)),
        ("datetime", "31/10/2026 23:59:60", dt.datetime(2026, 11, 1)),
        # not times at all
        ("datetime", "01/10/2026", NAT),
        ("datetime", "2026-10-01 00:00:00Z", NAT),
        ("datetime", "2026-10-01 00:00:00.5", NAT),
        ("datetime", "10/31/2018 10:00", NAT),
        ("date", "nan", NAT),
        ("date", "x", NAT),
        # words pandas reads as the time it reads them, under any format
        ("date", "now", NAT),
        ("date", "today", NAT),
        ("datetime", "now", NAT),
        ("month", "today", NAT),
    ],
)
def test_times_are_read_as_pandas_reads_them(kind, text, expected):
    assert _times(["01/10/2026", text, ""], kind)[1:] == [expected, None]


def test_year_0000_is_a_date_in_iso_form_only():
    """pandas reads year 0000 under its ISO formats only: kept so."""
    parsed = _parse_times(pd.Series(["0000-01-01", "01/01/0000"], dtype="str"), TIME_FORMATS["date"])
    assert parsed.iloc[0] == np.datetime64("0000-01-01", "us") and pd.isna(parsed.iloc[1])


def _near_times(rng: random.Random) -> str:
    """Texts close to the accepted forms: single digits, days past a month's end, odd separators."""
    day, month, hour, minute = (str(rng.randint(0, n)).zfill(rng.choice((1, 2))) for n in (32, 13, 24, 60))
    year = rng.choice(("2026", "2024", "2025", "0001", "0000", "26", "1900"))
    sep = rng.choice((" ", " ", "  ", "T", "t", "\t", ""))
    date = rng.choice(
        (f"{day}/{month}/{year}", f"{year}-{month}-{day}", f"{day}-{rng.choice(('Oct', 'Feb', 'oct', 'Sept'))}-{year}")
    )
    seconds = rng.choice(("00", "59", "60", "7"))
    return rng.choice((date, f"{date}{sep}{hour}:{minute}", f"{date}{sep}{hour}:{minute}:{seconds}", f"{year}-{month}"))


@pytest.mark.parametrize("kind", sorted(TIME_FORMATS))
def test_times_agree_with_pandas_on_many_texts(kind):
    rng = random.Random(kind)
    values = pd.Series([_near_times(rng) for _ in range(5000)] + ["", "2026-10"], dtype="str")
    got, expected = _parse_times(values, TIME_FORMATS[kind]), _as_pandas_reads_times(values, TIME_FORMATS[kind])
    assert got.dtype == expected.dtype and got.equals(expected)
    assert got.notna().sum() > 300  # the texts are not all refused


def test_no_text_reads_under_two_formats():
    """The order formats are tried in changes nothing only because of this."""
    samples = ["06/10/2018", "2018-10-06", "06-Oct-2018", "6/1/2018", "2018-1-6", "6-Oct-2018"]
    samples += [f"{d}{sep}{t}" for d, sep, t in itertools.product(samples, (" ", "T"), ("23:05", "23:05:09", "1:05"))]
    for text in samples:
        reading = [
            fmt
            for fmts in TIME_FORMATS.values()
            for fmt in fmts
            if pd.notna(pd.to_datetime(pd.Series([text]), format=fmt, errors="coerce").iloc[0])
        ]
        assert len(reading) <= 1, (text, reading)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("51.516695", 51.516695),
        ("-3.127352", -3.127352),
        ("+3", 3.0),
        ("-.5", -0.5),
        ("5.", 5.0),
        ("00012", 12.0),
        ("-0.0", -0.0),
        ("123456789012.5", 123456789012.5),
        # left to pandas
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("inf", float("inf")),
        ("-Infinity", float("-inf")),
        ("51.5166951234567891", 51.51669512345679),
        # not numbers
        ("nan", None),
        ("NA", None),
        ("1_000", None),
        ("1,5", None),
        ("1 000", None),
        ("0x10", None),
        ("--1", None),
        (".", None),
        ("-", None),
        ("١٢", None),
        ("−1", None),
    ],
)
def test_numbers_are_read_as_pandas_reads_them(text, expected):
    got = _parse_numbers(pd.Series([text, "1.5"], dtype="str")).iloc[0]
    if expected is None:
        assert np.isnan(got)
    else:
        assert got == expected and np.signbit(got) == np.signbit(expected)


def test_numbers_agree_with_pandas_bit_for_bit():
    rng = random.Random(5)
    texts = ["".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18))) for _ in range(20000)]
    texts = [rng.choice(("", "-", "+")) + t[:i] + "." + t[i:] for t in texts for i in [rng.randint(0, len(t))]]
    values = pd.Series(texts + ["", "x", "1e5"], dtype="str")
    expected = pd.to_numeric(values.where(values.ne("")), errors="coerce").to_numpy()
    got = _parse_numbers(values).to_numpy()
    assert np.array_equal(got, expected, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(expected))


def test_minus_zero_reads_as_minus_zero_whatever_else_is_in_the_batch():
    """pandas' to_numeric read "-0" as 0 in a batch of whole numbers, -0.0 elsewhere; now -0.0 always."""
    assert np.signbit(_parse_numbers(pd.Series(["-0", "5"], dtype="str")).iloc[0])


def test_now_and_today_are_not_dates_in_a_file(tmp_path):
    rows = [GOOD, _row(attendance_id="ED2", date_of_birth="now"), _row(attendance_id="ED3", assault_datetime="today")]
    extract = read_extract(_write(tmp_path, [HEADER, *rows]), ED, OCTOBER, now=NOW)
    assert list(extract.rows["attendance_id"]) == ["ED00000001"]
    assert list(extract.quarantined["reasons"]) == [
        "date_of_birth: not a valid date",
        "assault_datetime: not a valid datetime",
    ]


def test_unusual_dates_in_a_file_pass_or_fail_as_before(tmp_path):
    rows = [
        GOOD,
        _row(attendance_id="ED2", assault_datetime="6/10/2018 23:05", arrival_datetime="06/10/2018  23:40"),
        _row(attendance_id="ED3", date_of_birth="29/02/2001"),
        _row(attendance_id="ED4", date_of_birth="02-MAR-1995"),
    ]
    extract = read_extract(_write(tmp_path, [HEADER, *rows]), ED, OCTOBER, now=NOW)
    assert list(extract.rows["attendance_id"]) == ["ED00000001", "ED2", "ED4"]
    assert extract.rows["date_of_birth"].iloc[2] == dt.datetime(1995, 3, 2)
    assert list(extract.quarantined["reasons"]) == ["date_of_birth: not a valid date"]


def test_a_declared_integer_field_is_typed_as_whole_numbers(tmp_path):
    """A field of type `integer` (none of the bundled schemas has one yet) is written as int64,
    and a value with a fraction is quarantined, not rounded."""
    fields = [
        f.model_copy(update={"type": "integer", "min": 1, "max": 99, "pattern": None, "codelist": None})
        if f.name == "sex"
        else f
        for f in ED.fields
    ]
    schema = ED.model_copy(update={"fields": fields})
    rows = [
        GOOD,
        _row(attendance_id="ED2", sex="2.5"),
        _row(attendance_id="ED3", sex="7"),
        _row(attendance_id="ED4", sex=""),
    ]
    typed = tmp_path / "typed.parquet"
    extract = parse_extract(_write(tmp_path, [HEADER, *rows]), schema, OCTOBER, typed, now=NOW)
    passed = pq.read_table(typed)
    assert passed.schema.field("sex").type == pa.int64()
    assert passed.column("attendance_id").to_pylist() == ["ED00000001", "ED3", "ED4"]
    assert passed.column("sex").to_pylist() == [1, 7, None]
    assert list(extract.quarantined["reasons"]) == ["sex: not a whole number"]
