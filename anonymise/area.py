"""Which rows are inside a sharing agreement's area, by official geography.

The area is a set of local authorities, each with the Lower layer Super Output Areas (LSOAs)
it holds and its boundary, as the ONS publishes them. A row that names its LSOA (police open
data does) is inside when that LSOA is one of the area's; a row with only a point (measured
coordinates, or a place resolved from text) is inside when the point falls within the boundary;
a row with neither could be anywhere and is never inside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

# The field police open data names its LSOA in (2011 LSOA codes in older months, 2021 in recent).
LSOA_FIELD = "lsoa_code"


@dataclass(frozen=True)
class Placement:
    """Per row: whether anything says where it happened, and whether that is inside the area."""

    located: pd.Series
    inside: pd.Series


@dataclass(frozen=True)
class AreaGeography:
    lsoa_codes: frozenset[str]  # of every census the rows may be coded in (2011 and 2021)
    boundary: shapely.Geometry  # longitude, latitude (WGS84)

    def __post_init__(self):
        shapely.prepare(self.boundary)  # made once: each test of a point is then quick

    def place(self, latitude: pd.Series, longitude: pd.Series, lsoa: pd.Series | None = None) -> Placement:
        """A row's LSOA decides where it names one; its point decides where it names none."""
        codes = lsoa.fillna("").str.strip() if lsoa is not None else pd.Series("", index=latitude.index)
        named = (codes != "").to_numpy(dtype=bool)
        has_point = (latitude.notna() & longitude.notna()).to_numpy(dtype=bool)
        inside = np.zeros(len(latitude), dtype=bool)
        inside[named] = codes[named].isin(self.lsoa_codes).to_numpy(dtype=bool)
        by_point = has_point & ~named
        if by_point.any():
            inside[by_point] = shapely.contains_xy(
                self.boundary,
                longitude[by_point].to_numpy(dtype=np.float64),
                latitude[by_point].to_numpy(dtype=np.float64),
            )
        return Placement(
            located=pd.Series(named | has_point, index=latitude.index), inside=pd.Series(inside, index=latitude.index)
        )
