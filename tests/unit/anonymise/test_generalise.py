"""Generalisation of quasi-identifiers: age bands, postcode districts, time parts, H3 cells."""

from __future__ import annotations

import datetime as dt
from math import cos, hypot, radians

import h3
import pandas as pd
import pytest

from anonymise.generalise import (
    age_bands,
    cell_centre,
    postcode_district,
    spatial_cells,
    time_parts,
)


def _dates(values: list[str | None], unit: str = "us") -> pd.Series:
    return pd.Series(pd.to_datetime(values, format="ISO8601"), dtype=f"datetime64[{unit}]")


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * cos(radians((lat1 + lat2) / 2))
    return hypot(dx, dy)


# ---------------------------------------------------------------- ages


def test_age_respects_birthday():
    dob = _dates(["1995-06-15", "1995-06-15", "1995-06-15", "1995-06-15"])
    at = _dates(["2025-06-14 23:59", "2025-06-15 00:01", "2025-01-01 12:00", "2025-12-31 12:00"])
    # Ages: 29 (day before 30th birthday), 30 (on the birthday), 29, 30.
    assert age_bands(dob, at, 5).tolist() == ["25-29", "30-34", "25-29", "30-34"]


def test_day_before_birthday_in_an_earlier_month():
    # Birthday on 1 March; 28 February is the day before in a non-leap year.
    dob = _dates(["2007-03-01", "2007-03-01"])
    at = _dates(["2025-02-28 22:00", "2025-03-01 01:00"])
    assert age_bands(dob, at, 1).tolist() == ["17-17", "18-18"]


@pytest.mark.parametrize(
    "dob, at, width, label",
    [
        ("2000-01-01", "2000-06-01 10:00", 5, "0-4"),
        ("1980-05-20", "2024-05-20 10:00", 5, "40-44"),
        ("1980-05-21", "2024-05-20 10:00", 5, "40-44"),  # 43, the day before turning 44
        ("1979-05-21", "2024-05-20 10:00", 5, "40-44"),  # 44, the day before turning 45
        ("1979-05-20", "2024-05-20 10:00", 5, "45-49"),
        ("1990-07-04", "2024-07-03 10:00", 10, "30-39"),  # 33
        ("1990-07-04", "2024-07-04 10:00", 10, "30-39"),  # 34
        ("1934-02-10", "2024-02-10 10:00", 5, "90-94"),
    ],
)
def test_band_labels(dob, at, width, label):
    assert age_bands(_dates([dob]), _dates([at]), width).tolist() == [label]


def test_missing_date_of_birth_or_event_gives_missing_band():
    dob = _dates(["1990-01-01", None, "1990-01-01"])
    at = _dates(["2024-06-01 10:00", "2024-06-01 10:00", None])
    out = age_bands(dob, at, 5)
    assert out.iloc[0] == "30-34"
    assert pd.isna(out.iloc[1])
    assert pd.isna(out.iloc[2])
    assert len(out) == 3


def test_birth_after_event_gives_missing_band():
    out = age_bands(_dates(["2025-01-01"]), _dates(["2024-06-01 10:00"]), 5)
    assert pd.isna(out.iloc[0])


def test_index_is_kept():
    dob = pd.Series(pd.to_datetime(["1990-01-01", "2000-01-01"]), index=[10, 20])
    at = pd.Series(pd.to_datetime(["2024-06-01", "2024-06-01"]), index=[10, 20])
    out = age_bands(dob, at, 5)
    assert list(out.index) == [10, 20]
    assert out.loc[20] == "20-24"


# ---------------------------------------------------------------- postcodes


@pytest.mark.parametrize(
    "postcode, district",
    [
        ("CF24 4HU", "CF24"),
        ("cf10 1aa", "CF10"),
        ("CF5 2XX", "CF5"),
        ("  CF11 9LJ ", "CF11"),
        ("CF244HU", "CF24"),
        ("SW1A 1AA", "SW1A"),
        ("not a postcode", None),
        ("CF24", None),  # outward code only: not a full postcode
        ("CF24 4H", None),
        ("", None),
        (None, None),
    ],
)
def test_postcode_district(postcode, district):
    assert postcode_district(postcode) == district


# ---------------------------------------------------------------- time parts


def test_time_parts_weekday_month_hour():
    # 2024-03-04 is a Monday; 2024-03-10 a Sunday.
    when = _dates(
        [
            "2024-03-04 00:00",
            "2024-03-05 01:30",
            "2024-03-06 12:00",
            "2024-03-07 13:59",
            "2024-03-08 18:00",
            "2024-03-09 22:15",
            "2024-03-10 23:59",
            "2024-12-31 23:00",
        ]
    )
    parts = time_parts(when)
    assert list(parts.columns) == ["month", "weekday", "hour", "event_hour"]
    assert (parts["event_hour"].dt.minute == 0).all()
    assert parts["weekday"].tolist() == [1, 2, 3, 4, 5, 6, 7, 2]
    assert parts["hour"].tolist() == [0, 1, 12, 13, 18, 22, 23, 23]
    assert parts["month"].tolist() == [dt.date(2024, 3, 1)] * 7 + [dt.date(2024, 12, 1)]
    assert all(type(m) is dt.date for m in parts["month"])


def test_time_parts_missing_time():
    parts = time_parts(_dates(["2024-03-04 10:00", None]))
    assert parts["weekday"].iloc[0] == 1
    assert pd.isna(parts["weekday"].iloc[1])
    assert pd.isna(parts["hour"].iloc[1])
    assert pd.isna(parts["month"].iloc[1])


def test_time_parts_keeps_index():
    when = pd.Series(pd.to_datetime(["2024-03-04 10:00"]), index=[42])
    assert list(time_parts(when).index) == [42]


# ---------------------------------------------------------------- spatial cells

CARDIFF_CASTLE = (51.4822, -3.1812)


def test_spatial_cell_for_a_cardiff_point():
    lat, lon = CARDIFF_CASTLE
    cells = spatial_cells(pd.Series([lat]), pd.Series([lon]), 9)
    cell = cells.iloc[0]
    assert h3.is_valid_cell(cell)
    assert h3.get_resolution(cell) == 9
    assert cell == h3.latlng_to_cell(lat, lon, 9)
    # A point ~2 km away lands in a different resolution-9 cell (edge ~ 200 m).
    other = spatial_cells(pd.Series([lat + 0.02]), pd.Series([lon]), 9).iloc[0]
    assert other != cell


def test_spatial_cell_missing_where_a_coordinate_is():
    lat = pd.Series([51.48, None, 51.48, float("nan")])
    lon = pd.Series([-3.18, -3.18, None, -3.18])
    cells = spatial_cells(lat, lon, 9)
    assert cells.notna().tolist() == [True, False, False, False]
    assert len(cells) == 4


def test_spatial_cells_nullable_float_input():
    lat = pd.Series([51.48, pd.NA], dtype="Float64")
    lon = pd.Series([-3.18, -3.18], dtype="Float64")
    cells = spatial_cells(lat, lon, 9)
    assert cells.notna().tolist() == [True, False]


def test_cell_centre_is_near_the_point():
    lat, lon = CARDIFF_CASTLE
    cell = spatial_cells(pd.Series([lat]), pd.Series([lon]), 9).iloc[0]
    c_lat, c_lon = cell_centre(cell)
    # A resolution-9 cell has edges of about 200 m, so its centre is within ~250 m of any point in it.
    assert _metres(lat, lon, c_lat, c_lon) < 250
    assert (c_lat, c_lon) != (lat, lon)
    assert h3.latlng_to_cell(c_lat, c_lon, 9) == cell


def test_cells_are_written_as_h3_writes_them():
    # Cells are looked up as numbers and written as hexadecimal text in bulk.
    import numpy as np

    from anonymise.generalise import _hex

    rng = np.random.default_rng(4)
    lat, lon = pd.Series(rng.uniform(-89, 89, 2000)), pd.Series(rng.uniform(-179, 179, 2000))
    for resolution in (0, 5, 9, 15):
        assert spatial_cells(lat, lon, resolution).tolist() == [
            h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat, lon)
        ]
    numbers = np.array([0, 1, 15, 16, 255, 2**63, 2**64 - 1, 0x89195DA49B7FFFF], dtype=np.uint64)
    assert _hex(numbers).to_pylist() == [format(int(n), "x") for n in numbers]
