"""Synthetic months of joint-zone counts with a planted effect, for the evaluation tests.

200 H3 cells (resolution 9) around Cardiff city centre, 24 months, Poisson counts with a cell
effect, seasonality and a gentle city-wide trend. Three real venues of the gazetteer are the
treated places; an effect (a 30% drop, say) is planted in their cells from month 13, and a
displacement may be planted in the cells next to them. A fall may also be planted in other cells
(positive deviants, busy places where nothing is registered) over the latest six months."""

from __future__ import annotations

import datetime as dt
import math

import h3
import numpy as np
import pandas as pd

from anonymise.reference import gazetteer

RESOLUTION = 9
CENTRE = h3.latlng_to_cell(51.48, -3.18, RESOLUTION)
MONTHS = [dt.date(2025 + (m // 12), m % 12 + 1, 1) for m in range(24)]
START = MONTHS[12]  # the intervention starts on the first day of month 13
RECENT = MONTHS[-6]  # the latest six months: where positive deviance looks for a fall


def area_cells(n: int = 200) -> list[str]:
    disk = h3.grid_disk(CENTRE, 8)
    return sorted(disk, key=lambda c: (h3.grid_distance(CENTRE, c), c))[:n]


def treated_venues(cells: list[str], how_many: int = 3, apart: int = 5) -> list[str]:
    """Venues of the gazetteer inside the area, each in its own cell at least `apart` rings from
    the others' and three rings inside the edge (so that every neighbour is in the area)."""
    inner = set(area_cells(len(cells))) & set(h3.grid_disk(CENTRE, 5))
    chosen: dict[str, str] = {}
    for place in gazetteer():
        if place.kind != "venue" or place.latitude is None:
            continue
        cell = h3.latlng_to_cell(place.latitude, place.longitude, RESOLUTION)
        if cell in inner and all(h3.grid_distance(cell, c) >= apart for c in chosen.values()):
            chosen[place.place_id] = cell
        if len(chosen) == how_many:
            return list(chosen)
    raise AssertionError("too few venues in the synthetic area")


def venue_cell(venue_id: str) -> str:
    place = next(p for p in gazetteer() if p.place_id == venue_id)
    return h3.latlng_to_cell(place.latitude, place.longitude, RESOLUTION)


def monthly_counts(
    seed: int = 7,
    treated_cells: list[str] = (),
    effect: float = 0.0,
    neighbour_effect: float = 0.0,
    treated_level: float = 25.0,
    months: list[dt.date] = MONTHS,
    start: dt.date = START,
    deviant_cells: list[str] = (),
    deviant_effect: float = 0.0,
    deviant_start: dt.date = RECENT,
) -> pd.DataFrame:
    """month, cell_id, incidents (cells with none in a month have no row, as in the zone)."""
    rng = np.random.default_rng(seed)
    cells = area_cells()
    level = dict(zip(cells, rng.lognormal(math.log(4), 0.7, len(cells))))
    neighbours = {n for c in treated_cells for n in h3.grid_disk(c, 1)} - set(treated_cells)
    for cell in [*treated_cells, *deviant_cells]:
        level[cell] = treated_level  # busy venues: where a partnership would act
    rows = []
    for i, month in enumerate(months):
        season = 1 + 0.25 * math.sin(2 * math.pi * i / 12) - 0.004 * i
        for cell in cells:
            rate = level[cell] * season
            if month >= start and cell in treated_cells:
                rate *= 1 + effect
            if month >= start and cell in neighbours:
                rate *= 1 + neighbour_effect
            if month >= deviant_start and cell in deviant_cells:
                rate *= 1 + deviant_effect
            count = int(rng.poisson(rate))
            if count:
                rows.append((month, cell, count))
    return pd.DataFrame(rows, columns=["month", "cell_id", "incidents"])


def joint_rows(counts: pd.DataFrame, month: dt.date) -> pd.DataFrame:
    """One month of a joint zone: one row per incident, as joint_incidents holds them."""
    month_counts = counts[counts["month"] == month]
    cells = np.repeat(month_counts["cell_id"].to_numpy(), month_counts["incidents"].to_numpy())
    return pd.DataFrame(
        {
            "source": pd.Series(["ed"] * len(cells), dtype="string"),
            "month": pd.Series([month] * len(cells), dtype="object"),
            "cell_id": pd.Series(cells, dtype="string"),
            "place_status": pd.Series(["street"] * len(cells), dtype="string"),
        }
    )
