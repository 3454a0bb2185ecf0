"""How the hotspot map's layers are drawn: each cell's hexagon and colour, the colour legend, the
area's outline as an SVG path, and the scale bars."""

from __future__ import annotations

import math
from dataclasses import dataclass

from report.basemap import Outline
from report.colours import RAMP, SUPPRESSED_FILL, LegendSwatch, legend_values, ramp_colour
from report.counts import Count, count_of, count_text
from report.disclosure import Disclosure
from report.geo import Projection


@dataclass
class Hexagon:
    cell_id: str
    points: str  # SVG polygon points, in the whole-area panel
    fill: str
    suppressed: bool
    title: str


def cell_colour(combined: Count, vmax: int) -> str:
    # Square-root scale: one very busy cell would otherwise wash every other cell out to yellow.
    if combined.number is None:
        return SUPPRESSED_FILL
    return ramp_colour(math.sqrt(combined.number / vmax)) if vmax else RAMP[0]


def map_legend(vmin: int, vmax: int, has_suppressed: bool, disclosure: Disclosure | None = None) -> list[LegendSwatch]:
    disclosure = disclosure or Disclosure(None)
    legend = []
    if vmax:
        legend = [
            LegendSwatch(cell_colour(Count(v), vmax), f"{v:,}")
            for v in legend_values(vmin, vmax, root=True, base=disclosure.legend_base)
        ]
    if has_suppressed:
        legend.append(LegendSwatch("url(#hatch)", disclosure.suppressed_label))
    return legend


def hexagons(cells: list[dict], boundaries: dict[str, tuple], projection: Projection, vmax: int) -> list[Hexagon]:
    hexagons = []
    for cell in cells:
        combined = count_of(cell, "combined")
        points = " ".join(f"{x},{y}" for x, y in (projection.xy(lat, lon) for lat, lon in boundaries[cell["cell_id"]]))
        rank = f"rank {cell['rank']}, " if cell["rank"] is not None else ""
        title = (
            f"{rank}combined {count_text(combined)}; ED {count_text(count_of(cell, 'ed_assaults'))}; "
            f"police {count_text(count_of(cell, 'police_violence'))}"
        )
        hexagons.append(Hexagon(cell["cell_id"], points, cell_colour(combined, vmax), combined.number is None, title))
    # Suppressed first, so coloured cells are drawn over their hatched neighbours' edges.
    hexagons.sort(key=lambda h: not h.suppressed)
    return hexagons


def outline_paths(outlines: list[Outline], projection: Projection) -> list[tuple[str, str]]:
    paths = []
    for outline in outlines:
        rings = (" L".join(f"{x},{y}" for x, y in (projection.xy(*p) for p in ring)) for ring in outline.rings)
        paths.append((outline.name, " ".join(f"M{ring} Z" for ring in rings)))
    return paths


def scale_bar(units_per_km: float, right: float, y: float) -> tuple[float, float, float, str]:
    """A round distance about a fifth of the panel wide."""
    km = next((k for k in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10) if k * units_per_km >= 50), 10)
    return right, y, round(km * units_per_km, 1), (f"{km:g} km" if km >= 1 else f"{km * 1000:g} m")
