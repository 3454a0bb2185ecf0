"""The hotspot map: every cell of the month as its H3 hexagon, shaded by the combined count.

Two panels in one SVG. On the left the whole area: every cell of the month, the actual hexagon
polygons. On the right the busiest part enlarged, drawn by re-using the left panel's cells
(<use>, scaled and clipped) so each cell exists once in the document. The top cells and venues
are marked on the enlarged panel and named in a column beside it, joined by leader lines, so
labels never overlap however tightly the hotspots cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import h3

from anonymise.gazetteer import Place
from report.colours import RAMP, SUPPRESSED_FILL, LegendSwatch, legend_values, ramp_colour
from report.counts import Count, count_of, count_text
from report.disclosure import Disclosure

TOP_CELLS = 10
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


@dataclass
class Hexagon:
    cell_id: str
    points: str  # SVG polygon points, in the whole-area panel
    fill: str
    suppressed: bool
    title: str


@dataclass
class Callout:
    """A label in the column beside the map, joined to its marker by a leader line."""

    kind: str  # "cell" or "venue"
    text: str
    rank: int
    x: float  # the marker: on the enlarged panel, or on the whole-area panel when outside it
    y: float
    enlarged: bool = True
    label_y: float = 0.0


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


@dataclass
class HotspotMap:
    width: float
    height: float
    top: float  # panels start below their titles
    panel_height: float
    overview_width: float
    zoom_x: float
    zoom_width: float
    zoom: Zoom
    zoom_box: tuple[float, float, float, float]  # the enlarged area, outlined on the whole-area panel
    label_x: float
    hexagons: list[Hexagon]
    callouts: list[Callout]
    elsewhere_y: float | None  # heading over the labels of marks outside the enlarged area
    legend: list[LegendSwatch]
    legend_y: float
    scale_bars: list[tuple[float, float, float, str]]  # x (right end), y, length, label
    has_suppressed: bool


MAP_TOP = 22.0
OVERVIEW_WIDTH = 400.0
ZOOM_X = 416.0
ZOOM_WIDTH = 330.0
LABEL_X = 770.0
MAP_SVG_WIDTH = 1000.0
MAP_PADDING = 12.0
LABEL_GAP = 20.0
LEGEND_HEIGHT = 58.0
MAX_ZOOM = 12.0
ZOOM_MIN_EXTENT_KM = 1.0
# The enlarged panel shows the square of this side holding the most top cells and venues: a
# city-centre cluster, rather than a box stretched to reach one outlying hotspot.
ZOOM_WINDOW_KM = 2.0


def spread_labels(ys: list[float], gap: float, top: float, bottom: float) -> list[float]:
    """Move sorted label positions apart by at least `gap`, keeping them within [top, bottom] and
    as close as possible to where they want to be."""
    out: list[float] = []
    for y in ys:
        out.append(max(y, top, out[-1] + gap) if out else max(y, top))
    for i in reversed(range(len(out))):  # push back up any that ran off the bottom
        limit = bottom if i == len(out) - 1 else out[i + 1] - gap
        out[i] = min(out[i], limit)
    return out


def _cell_colour(combined: Count, vmax: int) -> str:
    # Square-root scale: one very busy cell would otherwise wash every other cell out to yellow.
    if combined.number is None:
        return SUPPRESSED_FILL
    return ramp_colour(math.sqrt(combined.number / vmax)) if vmax else RAMP[0]


def _map_legend(vmin: int, vmax: int, has_suppressed: bool, disclosure: Disclosure | None = None) -> list[LegendSwatch]:
    disclosure = disclosure or Disclosure(None)
    legend = []
    if vmax:
        legend = [
            LegendSwatch(_cell_colour(Count(v), vmax), f"{v:,}")
            for v in legend_values(vmin, vmax, root=True, base=disclosure.legend_base)
        ]
    if has_suppressed:
        legend.append(LegendSwatch("url(#hatch)", disclosure.suppressed_label))
    return legend


def _short(text: str, limit: int = 27) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _hexagons(cells: list[dict], boundaries: dict[str, tuple], projection: Projection, vmax: int) -> list[Hexagon]:
    hexagons = []
    for cell in cells:
        combined = count_of(cell, "combined")
        points = " ".join(f"{x},{y}" for x, y in (projection.xy(lat, lon) for lat, lon in boundaries[cell["cell_id"]]))
        rank = f"rank {cell['rank']}, " if cell["rank"] is not None else ""
        title = (
            f"{rank}combined {count_text(combined)}; ED {count_text(count_of(cell, 'ed_assaults'))}; "
            f"police {count_text(count_of(cell, 'police_violence'))}"
        )
        hexagons.append(Hexagon(cell["cell_id"], points, _cell_colour(combined, vmax), combined.number is None, title))
    # Suppressed first, so coloured cells are drawn over their hatched neighbours' edges.
    hexagons.sort(key=lambda h: not h.suppressed)
    return hexagons


def busiest_group(points: list[tuple[float, float]], window: float) -> list[int]:
    """Indices of the points in the `window`-sided square (centred on one of them) that holds the
    most; the earliest centre wins a tie, so with points in rank order the top cell is favoured."""
    best: list[int] = []
    for cx, cy in points:
        group = [j for j, (x, y) in enumerate(points) if abs(x - cx) <= window / 2 and abs(y - cy) <= window / 2]
        if len(group) > len(best):
            best = group
    return best


def _fit_zoom(points: list[tuple[float, float]], panel_height: float, units_per_km: float) -> Zoom:
    """Enlarge the whole-area points to fill the right-hand panel."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    min_extent = ZOOM_MIN_EXTENT_KM * units_per_km
    width = max(max(xs) - min(xs), min_extent) * 1.15
    height = max(max(ys) - min(ys), min_extent) * 1.15
    factor = min((ZOOM_WIDTH - 2 * MAP_PADDING) / width, (panel_height - 2 * MAP_PADDING) / height, MAX_ZOOM)
    factor = max(factor, 1.0)
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    return Zoom(factor, ZOOM_X + ZOOM_WIDTH / 2 - factor * cx, MAP_TOP + panel_height / 2 - factor * cy)


def _place_callouts(callouts: list[Callout], panel_height: float) -> float | None:
    """Label positions in the column: marks on the enlarged panel beside their markers (leader
    lines), then, under a heading, those outside it in rank order. Returns the heading's y."""
    enlarged = sorted((c for c in callouts if c.enlarged), key=lambda c: c.y)
    elsewhere = sorted((c for c in callouts if not c.enlarged), key=lambda c: (c.kind, c.rank))
    bottom = MAP_TOP + panel_height - 12
    reserved = (len(elsewhere) + 1) * LABEL_GAP if elsewhere else 0
    for callout, y in zip(enlarged, spread_labels([c.y for c in enlarged], LABEL_GAP, MAP_TOP + 12, bottom - reserved)):
        callout.label_y = round(y, 1)
    for i, callout in enumerate(elsewhere):
        callout.label_y = round(bottom - (len(elsewhere) - 1 - i) * LABEL_GAP, 1)
    callouts[:] = enlarged + elsewhere
    return round(bottom - len(elsewhere) * LABEL_GAP, 1) if elsewhere else None


def _scale_bar(units_per_km: float, right: float, y: float) -> tuple[float, float, float, str]:
    """A round distance about a fifth of the panel wide."""
    km = next((k for k in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10) if k * units_per_km >= 50), 10)
    return right, y, round(km * units_per_km, 1), (f"{km:g} km" if km >= 1 else f"{km * 1000:g} m")


def _venue_points(venues: list[dict], places: Sequence[Place]) -> list[tuple[dict, tuple[float, float]]]:
    """Where to mark each venue: its register coordinates, else the centre of its cell."""
    by_id = {p.place_id: p for p in places}
    points = []
    for venue in venues:
        place = by_id.get(venue["venue_id"])
        if place is not None and place.latitude is not None:
            points.append((venue, (place.latitude, place.longitude)))
        elif venue.get("cell_id"):
            points.append((venue, h3.cell_to_latlng(venue["cell_id"])))
    return points


def _callouts(
    labels: list[tuple[str, str, int]], marked: list[tuple[float, float]], zoom: Zoom, panel_height: float
) -> list[Callout]:
    """A callout per (kind, name, rank), marked on the enlarged panel when it shows the place and
    on the whole-area panel otherwise."""
    callouts = []
    for (kind, name, rank), (x, y) in zip(labels, marked):
        zx, zy = zoom.xy(x, y)
        inside = ZOOM_X + 8 <= zx <= ZOOM_X + ZOOM_WIDTH - 8 and MAP_TOP + 8 <= zy <= MAP_TOP + panel_height - 8
        callouts.append(Callout(kind, _short(name), int(rank), *((zx, zy) if inside else (x, y)), enlarged=inside))
    return callouts


def hotspot_map(
    cells: list[dict],
    cell_names: dict[str, str],
    top_venues: list[dict],
    places: Sequence[Place],
    disclosure: Disclosure | None = None,
) -> HotspotMap | None:
    """Every cell of the month as its hexagon, shaded by the combined count, with the top cells
    and venues marked and named on an enlarged panel of the busiest area."""
    if not cells:
        return None
    boundaries = {c["cell_id"]: h3.cell_to_boundary(c["cell_id"]) for c in cells}
    venue_points = _venue_points(top_venues, places)
    top_cells = [c for c in cells if c["cell_id"] in cell_names]

    # The whole-area panel: every cell (and venue marker) fitted into a square.
    all_points = [p for b in boundaries.values() for p in b] + [p for _, p in venue_points]
    inner = OVERVIEW_WIDTH - 2 * MAP_PADDING
    projection = fit_projection(all_points, MAP_PADDING, MAP_TOP + MAP_PADDING, inner, inner)
    used = [projection.xy(lat, lon)[1] for lat, lon in all_points]
    labels = [("cell", cell_names[c["cell_id"]], c["rank"]) for c in top_cells]
    labels += [("venue", v["venue_name"] or v["venue_id"], v["rank"]) for v, _ in venue_points]
    # As tall as the area needs, and tall enough for every label in the column.
    panel_height = max(max(used) - MAP_TOP + MAP_PADDING, (len(labels) + 1) * LABEL_GAP + 24, 240.0)

    # The enlarged panel: the busiest cluster of top cells and venues.
    marked = [projection.xy(*h3.cell_to_latlng(c["cell_id"])) for c in top_cells]
    marked += [projection.xy(lat, lon) for _, (lat, lon) in venue_points]
    group = busiest_group(marked, ZOOM_WINDOW_KM * projection.units_per_km) if marked else []
    focus = [marked[i] for i in group]
    focus += [
        projection.xy(lat, lon) for i in group if i < len(top_cells) for lat, lon in boundaries[top_cells[i]["cell_id"]]
    ]
    zoom = _fit_zoom(focus or [projection.xy(*all_points[0])], panel_height, projection.units_per_km)
    x0, y0 = zoom.inverse(ZOOM_X, MAP_TOP)
    x1, y1 = zoom.inverse(ZOOM_X + ZOOM_WIDTH, MAP_TOP + panel_height)

    callouts = _callouts(labels, marked, zoom, panel_height)
    elsewhere_y = _place_callouts(callouts, panel_height)
    published = [c["combined"] for c in cells if c["combined"] and not c.get("combined_suppressed")]
    vmin, vmax = min(published, default=0), max(published, default=0)
    hexagons = _hexagons(cells, boundaries, projection, vmax)
    has_suppressed = any(h.suppressed for h in hexagons)
    bottom = MAP_TOP + panel_height
    return HotspotMap(
        width=MAP_SVG_WIDTH,
        height=bottom + LEGEND_HEIGHT,
        top=MAP_TOP,
        panel_height=panel_height,
        overview_width=OVERVIEW_WIDTH,
        zoom_x=ZOOM_X,
        zoom_width=ZOOM_WIDTH,
        zoom=zoom,
        zoom_box=(
            max(x0, 0.0),
            max(y0, MAP_TOP),
            min(x1, OVERVIEW_WIDTH) - max(x0, 0.0),
            min(y1, bottom) - max(y0, MAP_TOP),
        ),
        label_x=LABEL_X,
        hexagons=hexagons,
        callouts=callouts,
        elsewhere_y=elsewhere_y,
        legend=_map_legend(vmin, vmax, has_suppressed, disclosure),
        legend_y=bottom + 12,
        scale_bars=[
            _scale_bar(projection.units_per_km, OVERVIEW_WIDTH - 14, bottom - 12),
            _scale_bar(projection.units_per_km * zoom.factor, ZOOM_X + ZOOM_WIDTH - 14, bottom - 12),
        ],
        has_suppressed=has_suppressed,
    )


def top_cell_names(cells: list[dict], places: Sequence[Place]) -> dict[str, str]:
    """The top ranked cells (cells come in rank order), each named after the gazetteer venue or
    street nearest its centre: public names that say where the cell is, not who was there."""
    names = {}
    for cell in [c for c in cells if c["rank"] is not None][:TOP_CELLS]:
        place = nearest_place(*h3.cell_to_latlng(cell["cell_id"]), places)
        names[cell["cell_id"]] = place.name if place else cell["cell_id"]
    return names
