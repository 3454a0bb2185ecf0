"""Generalisation of quasi-identifiers: ages to bands, times to hour, postcodes to district,
coordinates to spatial cells."""

from __future__ import annotations

import h3
import h3.api.basic_int
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anonymise.identifiers import POSTCODE_VALUE
from anonymise.pseudonyms import hex_array


def age_bands(date_of_birth: pd.Series, at: pd.Series, width: int) -> pd.Series:
    """Age at the event, as a band label such as '20-24'; missing when either date is."""
    dob = pd.to_datetime(date_of_birth)
    when = pd.to_datetime(at)
    had_birthday = (when.dt.month > dob.dt.month) | ((when.dt.month == dob.dt.month) & (when.dt.day >= dob.dt.day))
    age = when.dt.year - dob.dt.year - (~had_birthday).astype("Int64")
    low = ((age // width) * width).where(age.notna() & (age >= 0))
    # A label per distinct band, spread back to the rows: a month has a few dozen bands.
    codes, lows = pd.factorize(low, use_na_sentinel=True)
    labels = pd.array([f"{int(start)}-{int(start) + width - 1}" for start in lows.tolist()] + [None], dtype="string")
    return pd.Series(labels.take(codes), index=date_of_birth.index)


def postcode_district(postcode: str | None) -> str | None:
    """Outward code ('CF24 4HU' -> 'CF24'); None for anything that is not a full postcode."""
    if not postcode:
        return None
    match = POSTCODE_VALUE.match(postcode.upper())
    return match.group(1) if match else None


def time_parts(when: pd.Series) -> pd.DataFrame:
    """Month (first day, as a date), ISO weekday (1 = Monday), hour of day, and the event's
    date and hour (minutes dropped), which lets ED and police records be matched in time within
    the pseudonymised zone; only aggregates of it are ever published."""
    when = pd.to_datetime(when)
    return pd.DataFrame(
        {
            # The first of the month as an Arrow date, never a Python object per row.
            "month": pd.arrays.ArrowExtensionArray(
                pa.array(when.to_numpy().astype("datetime64[M]").astype("datetime64[D]"), pa.date32(), from_pandas=True)
            ),
            "weekday": (when.dt.day_of_week + 1).astype("Int64"),
            "hour": when.dt.hour.astype("Int64"),
            "event_hour": when.dt.floor("h"),
        },
        index=when.index,
    )


def spatial_cells(latitude: pd.Series, longitude: pd.Series, resolution: int) -> pd.Series:
    """H3 cell of each point; missing where either coordinate is. Each distinct point is looked
    up once: resolved places and repeated police locations share their coordinates."""
    lat = (
        pd.to_numeric(latitude).astype("float64").to_numpy(na_value=np.nan)
        if latitude.dtype != "float64"
        else latitude.to_numpy()
    )
    lon = (
        pd.to_numeric(longitude).astype("float64").to_numpy(na_value=np.nan)
        if longitude.dtype != "float64"
        else longitude.to_numpy()
    )
    located = ~(np.isnan(lat) | np.isnan(lon))
    # Each (latitude, longitude) pair seen as one complex number, for pandas' hash table.
    pairs = np.column_stack([lat[located], lon[located]]).view(np.complex128).ravel()
    which, points = pd.factorize(pairs)
    to_cell = h3.api.basic_int.latlng_to_cell  # as a number: written as text below, all at once
    cells = np.array(
        [to_cell(a, b, resolution) for a, b in zip(points.real.tolist(), points.imag.tolist())], dtype=np.uint64
    )
    codes = np.full(len(lat), len(cells))  # unlocated rows take the null after the cells
    codes[located] = which
    text = pa.concat_arrays([_hex(cells), pa.nulls(1, pa.large_string())])
    return pd.Series(pd.arrays.ArrowStringArray(text.take(pa.array(codes))), index=latitude.index)


def _hex(numbers: np.ndarray) -> pa.Array:
    """Lower-case hexadecimal of each uint64 without leading zeros, as h3 writes a cell."""
    digits = pc.utf8_ltrim(hex_array(numbers.astype(">u8").tobytes(), 8), characters="0")
    return pc.if_else(pc.equal(digits, ""), pa.scalar("0", pa.large_string()), digits)


def cell_centre(cell_id: str) -> tuple[float, float]:
    return h3.cell_to_latlng(cell_id)
