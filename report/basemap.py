"""What the hotspot map draws beneath the hexagons, all from open data bundled with istv (offline,
credited in open_data/basemap/README.md): the outline of the area (ONS boundary, clipped to the
coast), area names (open_data/basemap/areas_cardiff.csv) and street names at the gazetteer's
street points (open_data/streets_cardiff.csv). No road or river lines are bundled: the README says
why, and what would be needed.

`python -m report.basemap` rebuilds the area names from the Open Pubs register.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import open_data
from anonymise.gazetteer import Place

BOUNDARIES_DIR = open_data.ROOT / "boundaries"
BASEMAP_DIR = open_data.ROOT / "basemap"
AREA_NAMES = BASEMAP_DIR / "areas_cardiff.csv"
OPEN_PUBS = open_data.ROOT / "open_pubs_cardiff.csv"
# An area is named where at least this many licensed premises give it as their locality: one
# premises could sit anywhere in it.
MIN_PREMISES = 2
# "A4232": a road number at one point says little about where the road runs.
_ROAD_NUMBER = re.compile(r"^[ABM]\d+(\(M\))?$")

CREDITS = (
    "Boundary: Office for National Statistics, OGL v3.0, contains OS data © Crown copyright and database "
    "right 2021. Area names: Open Pubs (FSA, ONS), OGL. Street names: data.police.uk, OGL."
)


@dataclass(frozen=True)
class Outline:
    name: str
    rings: tuple[tuple[tuple[float, float], ...], ...]  # (lat, lon) rings, each closed


@dataclass(frozen=True)
class AreaName:
    name: str
    latitude: float
    longitude: float
    premises: int  # how many premises name it: the more, the more prominent the label


@cache
def _outlines() -> tuple[Outline, ...]:
    """Every bundled boundary, one outline per feature."""
    outlines = []
    for path in sorted(BOUNDARIES_DIR.glob("*.geojson")):
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            geometry = feature["geometry"]
            polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
            rings = tuple(tuple((lat, lon) for lon, lat in ring) for polygon in polygons for ring in polygon)
            outlines.append(Outline(feature["properties"].get("name") or path.stem, rings))
    return tuple(outlines)


def outlines_near(points: list[tuple[float, float]]) -> list[Outline]:
    """The bundled boundaries with a point among `points` (lat, lon) inside their bounding box:
    the area the cells are in, not every boundary the project ever bundles."""
    near = []
    for outline in _outlines():
        lats = [p[0] for ring in outline.rings for p in ring]
        lons = [p[1] for ring in outline.rings for p in ring]
        if any(min(lats) <= lat <= max(lats) and min(lons) <= lon <= max(lons) for lat, lon in points):
            near.append(outline)
    return near


@cache
def area_names(path: Path = AREA_NAMES) -> tuple[AreaName, ...]:
    if not path.is_file():
        return ()
    with path.open(newline="", encoding="utf-8") as rows:
        return tuple(
            AreaName(r["name"], float(r["latitude"]), float(r["longitude"]), int(r["premises"]))
            for r in csv.DictReader(rows)
        )


def street_places(places: list[Place] | tuple[Place, ...]) -> list[Place]:
    """Gazetteer streets worth a label: named streets with a point, not bare road numbers."""
    return [
        p
        for p in places
        if p.kind == "street" and p.latitude is not None and p.longitude is not None and not _ROAD_NUMBER.match(p.name)
    ]


def area_names_from_open_pubs(rows: list[dict]) -> list[AreaName]:
    """Each locality the register's addresses give ("10 Church Road, Caerau, Cardiff": Caerau),
    placed at the median point of the premises that give it."""
    points = defaultdict(list)
    for row in rows:
        parts = [p.strip() for p in row["address"].split(",")]
        try:
            lat, lon = float(row["latitude"]), float(row["longitude"])
        except ValueError:  # "\N": a premises the register could not place
            continue
        if len(parts) >= 3 and parts[-1] == row["local_authority"] and not re.search(r"\d", parts[-2]):
            points[parts[-2]].append((lat, lon))
    return sorted(
        (
            AreaName(
                name,
                round(statistics.median(p[0] for p in found), 6),
                round(statistics.median(p[1] for p in found), 6),
                len(found),
            )
            for name, found in points.items()
            if len(found) >= MIN_PREMISES
        ),
        key=lambda a: (-a.premises, a.name),
    )


def build_area_names_file(out: Path = AREA_NAMES) -> list[AreaName]:
    with OPEN_PUBS.open(newline="", encoding="utf-8") as rows:
        names = area_names_from_open_pubs(list(csv.DictReader(rows)))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "latitude", "longitude", "premises"])
        writer.writerows((a.name, a.latitude, a.longitude, a.premises) for a in names)
    return names


if __name__ == "__main__":
    print(f"{len(build_area_names_file())} area names written to {AREA_NAMES}")
