"""Map geometry with no map library: an equirectangular projection fitted to a box, the enlarged
panel's zoom, and the nearest gazetteer place to a point."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from anonymise.gazetteer import Place

KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Projection:
    """Equirectangular, with longitude scaled by cos(latitude) so that hexagons keep their shape
    at the area's latitude: good enough for a city, and needs no map library."""

    lat0: float
    lon_min: float
    lat_max: float
    scale: float  # SVG units per degree of latitude
    x0: float
    y0: float

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        x = self.x0 + (lon - self.lon_min) * math.cos(math.radians(self.lat0)) * self.scale
        y = self.y0 + (self.lat_max - lat) * self.scale
        return round(x, 1), round(y, 1)

    @property
    def units_per_km(self) -> float:
        return self.scale / KM_PER_DEGREE


def fit_projection(
    points: Iterable[tuple[float, float]], x0: float, y0: float, width: float, height: float, min_extent_km: float = 2.0
) -> Projection:
    """Fit (lat, lon) points into the box at (x0, y0), centred; at least `min_extent_km` across so
    that one or two cells do not fill the page."""
    points = list(points)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    lat0 = (min(lats) + max(lats)) / 2
    cos0 = math.cos(math.radians(lat0))
    min_deg = min_extent_km / KM_PER_DEGREE
    lat_span = max(max(lats) - min(lats), min_deg)
    lon_span = max((max(lons) - min(lons)) * cos0, min_deg)  # in latitude-degree units
    scale = min(width / lon_span, height / lat_span)
    lat_max = (min(lats) + max(lats)) / 2 + height / scale / 2
    lon_min = (min(lons) + max(lons)) / 2 - width / scale / cos0 / 2
    return Projection(lat0=lat0, lon_min=lon_min, lat_max=lat_max, scale=scale, x0=x0, y0=y0)


@dataclass(frozen=True)
class Zoom:
    """The enlarged panel: whole-area coordinates times `factor`, plus (dx, dy)."""

    factor: float
    dx: float
    dy: float

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return round(x * self.factor + self.dx, 1), round(y * self.factor + self.dy, 1)

    def inverse(self, x: float, y: float) -> tuple[float, float]:
        return round((x - self.dx) / self.factor, 1), round((y - self.dy) / self.factor, 1)

    @property
    def transform(self) -> str:
        return f"matrix({self.factor} 0 0 {self.factor} {self.dx} {self.dy})"


def fit_zoom(
    points: list[tuple[float, float]], box: tuple[float, float, float, float], min_extent: float, max_factor: float
) -> Zoom:
    """Enlarge whole-area points to fill `box` (x, y, width, height), at least `min_extent`
    whole-area units across and at most `max_factor` times."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x, y, width, height = box
    span_x = max(max(xs) - min(xs), min_extent) * 1.15
    span_y = max(max(ys) - min(ys), min_extent) * 1.15
    factor = max(min(width / span_x, height / span_y, max_factor), 1.0)
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    return Zoom(round(factor, 4), round(x + width / 2 - factor * cx, 2), round(y + height / 2 - factor * cy, 2))


def busiest_group(points: list[tuple[float, float]], window: float) -> list[int]:
    """Indices of the points in the `window`-sided square (centred on one of them) that holds the
    most; the earliest centre wins a tie, so with points in rank order the top cell is favoured."""
    best: list[int] = []
    for cx, cy in points:
        group = [j for j, (x, y) in enumerate(points) if abs(x - cx) <= window / 2 and abs(y - cy) <= window / 2]
        if len(group) > len(best):
            best = group
    return best


def nearest_place(lat: float, lon: float, places: Sequence[Place]) -> Place | None:
    """The gazetteer place nearest a point (equirectangular distance; fine over a city). Venues
    come first in the gazetteer, so a venue wins a tie with a street."""
    cos0 = math.cos(math.radians(lat))
    best, best_d = None, math.inf
    for place in places:
        if place.latitude is None or place.longitude is None:
            continue
        d = (place.latitude - lat) ** 2 + ((place.longitude - lon) * cos0) ** 2
        if d < best_d:
            best, best_d = place, d
    return best
