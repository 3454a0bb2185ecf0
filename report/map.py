"""The hotspot map: every cell of the month as its H3 hexagon, shaded by the combined count, over
base layers a board recognises (the area's outline and coast, area names, street names).

Two panels in one SVG. On the left the whole area within its outline; on the right the busiest
part enlarged, drawn by re-using the left panel's outline and cells (<use>, scaled and clipped) so
each exists once in the document. The top cells and venues are marked where they are (on the
enlarged panel when it shows them) and named beside their markers; area and street names follow
where room is left. Labels are placed greedily and never overlap a marker or each other
(report.labels); one that finds no room is dropped, and the tables below the map still name it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import h3

from anonymise.gazetteer import Place
from report.basemap import CREDITS, area_names, outlines_near, street_places
from report.colours import LegendSwatch
from report.disclosure import Disclosure
from report.geo import Projection, Zoom, busiest_group, fit_projection, fit_zoom, nearest_place
from report.labels import Box, Label, place_labels
from report.map_layers import Hexagon, hexagons, map_legend, outline_paths, scale_bar

TOP_CELLS = 10
MAP_TOP = 22.0
MAP_SVG_WIDTH = 1000.0
OVERVIEW_WIDTH = 340.0
ZOOM_X = 356.0
ZOOM_WIDTH = MAP_SVG_WIDTH - ZOOM_X
PANEL_HEIGHT = 440.0
MAP_PADDING = 10.0
LEGEND_HEIGHT = 74.0
MARKER_RADIUS = 8.0
MAX_ZOOM = 12.0
ZOOM_MIN_EXTENT_KM = 1.0
# The enlarged panel shows the square of this side holding the most top cells and venues: a
# city-centre cluster, rather than a box stretched to reach one outlying hotspot.
ZOOM_WINDOW_KM = 2.0
# Street names placed on the enlarged panel at most, the busiest cells' first; more would crowd it.
STREET_LABELS = 24


@dataclass
class Marker:
    kind: str  # "cell" (a numbered circle) or "venue" (a diamond)
    x: float
    y: float
    rank: int
    title: str


@dataclass
class Panel:
    x: float
    width: float
    markers: list[Marker] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)  # placed ones only


@dataclass
class HotspotMap:
    width: float
    height: float
    top: float  # panels start below their titles
    panel_height: float
    overview: Panel
    enlarged: Panel
    zoom: Zoom
    zoom_box: tuple[float, float, float, float]  # the enlarged area, outlined on the whole-area panel
    outlines: list[tuple[str, str]]  # name, SVG path in the whole-area panel
    hexagons: list[Hexagon]
    legend: list[LegendSwatch]
    legend_y: float
    scale_bars: list[tuple[float, float, float, str]]  # x (right end), y, length, label
    has_suppressed: bool
    dropped: list[str]  # top cells and venues whose names found no room on the map
    credits: str = CREDITS


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


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _clear_of(marker: Marker, others: list[Marker]) -> None:
    """Move a marker that would hide one already drawn (a venue inside a top cell) just clear of
    it: a few metres on the map, and both stay readable."""
    gap = 2 * MARKER_RADIUS + 2

    def free(x: float, y: float) -> bool:
        return all(math.hypot(x - o.x, y - o.y) >= gap for o in others)

    if free(marker.x, marker.y):
        return
    for angle in (0, 180, 90, 270, 45, 135, 225, 315):
        x, y = marker.x + gap * math.cos(math.radians(angle)), marker.y + gap * math.sin(math.radians(angle))
        if free(x, y):
            marker.x, marker.y = round(x, 1), round(y, 1)
            return


def _mark_labels(panel: Panel, marks: list[tuple[Marker, str]], named: set[str]) -> list[Label]:
    """A marker per top cell and venue, and a label per name: a venue a top cell is named after is
    marked, but its name is written once, beside the cell."""
    labels = []
    for marker, name in marks:
        _clear_of(marker, panel.markers)
        panel.markers.append(marker)
        if name.casefold() in named:
            continue
        named.add(name.casefold())
        labels.append(Label(_short(name), marker.x, marker.y, marker.kind, 12.0, marker.kind == "cell", MARKER_RADIUS))
    return labels


def _place(panel: Panel, groups: list[tuple[list[Label], int | None]], obstacles: list[Box]) -> None:
    """Place each group of labels in turn (at most its limit), clear of the panel's markers, the
    given obstacles and the groups placed before."""
    bounds = Box(panel.x + 3, MAP_TOP + 3, panel.x + panel.width - 3, MAP_TOP + PANEL_HEIGHT - 3)
    taken = [Box.around(m.x, m.y, MARKER_RADIUS + 1) for m in panel.markers] + obstacles
    for labels, limit in groups:
        placed = place_labels(labels, bounds, taken, limit)
        panel.labels += placed
        taken += [label.box for label in placed]


def _street_labels(
    places: Sequence[Place], zoom: Zoom, projection: Projection, combined: dict[str, int], named: set[str]
) -> list[Label]:
    """Street names inside the enlarged panel: those in the busiest cells first (the streets a
    reader looks for beside a hotspot), one label per name."""
    found = {}
    resolution = h3.get_resolution(next(iter(combined))) if combined else 9
    for place in street_places(places):
        x, y = zoom.xy(*projection.xy(place.latitude, place.longitude))
        inside = ZOOM_X + 20 <= x <= MAP_SVG_WIDTH - 20 and MAP_TOP + 16 <= y <= MAP_TOP + PANEL_HEIGHT - 10
        if inside and place.name.casefold() not in named:
            busy = combined.get(h3.latlng_to_cell(place.latitude, place.longitude, resolution), 0)
            found[place.name] = max(found.get(place.name, (busy, x, y)), (busy, x, y))
    ordered = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))
    return [Label(name, x, y, "street", 10.5) for name, (_, x, y) in ordered]


def _area_labels(zoom: Zoom | None, projection: Projection, left: float, right: float, size: float) -> list[Label]:
    labels = []
    for area in area_names():
        x, y = projection.xy(area.latitude, area.longitude)
        if zoom is not None:
            x, y = zoom.xy(x, y)
        if left <= x <= right and MAP_TOP <= y <= MAP_TOP + PANEL_HEIGHT:
            labels.append(Label(area.name.upper(), x, y, "area", size, bold=True))
    return labels


def hotspot_map(
    cells: list[dict],
    cell_names: dict[str, str],
    top_venues: list[dict],
    places: Sequence[Place],
    disclosure: Disclosure | None = None,
) -> HotspotMap | None:
    """Every cell of the month as its hexagon, shaded by the combined count, over the area's base
    layers, with the top cells and venues marked and named on an enlarged panel of the busiest area."""
    if not cells:
        return None
    boundaries = {c["cell_id"]: h3.cell_to_boundary(c["cell_id"]) for c in cells}
    venue_points = _venue_points(top_venues, places)
    top_cells = [c for c in cells if c["cell_id"] in cell_names]

    # The whole-area panel: the area's outline with every cell and venue, fitted into the panel.
    data_points = [p for b in boundaries.values() for p in b] + [p for _, p in venue_points]
    outlines = outlines_near(data_points)
    extent = data_points + [p for o in outlines for ring in o.rings for p in ring]
    inner = OVERVIEW_WIDTH - 2 * MAP_PADDING
    projection = fit_projection(extent, MAP_PADDING, MAP_TOP + MAP_PADDING, inner, PANEL_HEIGHT - 2 * MAP_PADDING)

    # The enlarged panel: the busiest cluster of top cells and venues.
    marks = [(c["rank"], "cell", cell_names[c["cell_id"]], h3.cell_to_latlng(c["cell_id"])) for c in top_cells]
    marks += [(v["rank"], "venue", v["venue_name"] or v["venue_id"], p) for v, p in venue_points]
    points = [projection.xy(*p) for *_, p in marks]
    group = busiest_group(points, ZOOM_WINDOW_KM * projection.units_per_km) if points else []
    focus = [points[i] for i in group] + [
        projection.xy(*p) for i in group if i < len(top_cells) for p in boundaries[top_cells[i]["cell_id"]]
    ]
    zoom = fit_zoom(
        focus or [projection.xy(*data_points[0])],
        (ZOOM_X + MAP_PADDING, MAP_TOP + MAP_PADDING, ZOOM_WIDTH - 2 * MAP_PADDING, PANEL_HEIGHT - 2 * MAP_PADDING),
        ZOOM_MIN_EXTENT_KM * projection.units_per_km,
        MAX_ZOOM,
    )
    x0, y0 = zoom.inverse(ZOOM_X, MAP_TOP)
    x1, y1 = zoom.inverse(MAP_SVG_WIDTH, MAP_TOP + PANEL_HEIGHT)

    overview, enlarged = Panel(0.0, OVERVIEW_WIDTH), Panel(ZOOM_X, ZOOM_WIDTH)
    on_overview, on_enlarged = [], []
    for (rank, kind, name, _), (x, y) in zip(marks, points):
        zx, zy = zoom.xy(x, y)
        inside = ZOOM_X + 12 <= zx <= MAP_SVG_WIDTH - 12 and MAP_TOP + 12 <= zy <= MAP_TOP + PANEL_HEIGHT - 12
        marker = Marker(kind, *((zx, zy) if inside else (x, y)), int(rank), name)
        (on_enlarged if inside else on_overview).append((marker, name))
    named: set[str] = set()
    bottom = MAP_TOP + PANEL_HEIGHT
    scale_bars = [
        scale_bar(projection.units_per_km, OVERVIEW_WIDTH - 12, bottom - 12),
        scale_bar(projection.units_per_km * zoom.factor, MAP_SVG_WIDTH - 12, bottom - 12),
    ]
    scale_boxes = [Box(right - length - 4, y - 18, right + 2, y + 4) for right, y, length, _ in scale_bars]
    north = Box(OVERVIEW_WIDTH - 28, MAP_TOP + 2, OVERVIEW_WIDTH - 6, MAP_TOP + 38)
    zoom_marks = _mark_labels(enlarged, on_enlarged, named)
    overview_marks = _mark_labels(overview, on_overview, named)
    busy = {c["cell_id"]: c["combined"] or 0 for c in cells}
    streets = _street_labels(places, zoom, projection, busy, named)
    zoom_areas = _area_labels(zoom, projection, ZOOM_X, MAP_SVG_WIDTH, 11.0)
    _place(enlarged, [(zoom_marks + zoom_areas, None), (streets, STREET_LABELS)], [scale_boxes[1]])
    overview_areas = _area_labels(None, projection, 0.0, OVERVIEW_WIDTH, 9.0)
    _place(overview, [(overview_marks + overview_areas, None)], [scale_boxes[0], north])

    published = [c["combined"] for c in cells if c["combined"] and not c.get("combined_suppressed")]
    vmin, vmax = min(published, default=0), max(published, default=0)
    drawn = hexagons(cells, boundaries, projection, vmax)
    has_suppressed = any(h.suppressed for h in drawn)
    return HotspotMap(
        width=MAP_SVG_WIDTH,
        height=bottom + LEGEND_HEIGHT,
        top=MAP_TOP,
        panel_height=PANEL_HEIGHT,
        overview=overview,
        enlarged=enlarged,
        zoom=zoom,
        zoom_box=(
            max(x0, 0.0),
            max(y0, MAP_TOP),
            min(x1, OVERVIEW_WIDTH) - max(x0, 0.0),
            min(y1, bottom) - max(y0, MAP_TOP),
        ),
        outlines=outline_paths(outlines, projection),
        hexagons=drawn,
        legend=map_legend(vmin, vmax, has_suppressed, disclosure),
        legend_y=bottom + 12,
        scale_bars=scale_bars,
        has_suppressed=has_suppressed,
        dropped=[label.text for label in zoom_marks + overview_marks if not label.placed],
    )


def top_cell_names(cells: list[dict], places: Sequence[Place]) -> dict[str, str]:
    """The top ranked cells (cells come in rank order), each named after the gazetteer venue or
    street nearest its centre: public names that say where the cell is, not who was there."""
    return {
        c["cell_id"]: cell_name(c["cell_id"], places) for c in [c for c in cells if c["rank"] is not None][:TOP_CELLS]
    }


def cell_name(cell_id: str, places: Sequence[Place]) -> str:
    """The gazetteer venue or street nearest the cell's centre, or the cell id when none is near."""
    place = nearest_place(*h3.cell_to_latlng(cell_id), places)
    return place.name if place else cell_id
