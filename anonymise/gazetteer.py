"""Named places that ED free text and police locations are resolved to.

Two kinds of place: licensed premises (venues, from the Open Pubs register) and streets (from the
snapped map points that data.police.uk publishes). Everything here is pure: callers read the
files and pass data frames in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

# data.police.uk snaps some crimes to a kind of place rather than a street; those are not streets.
POLICE_UK_PLACE_CATEGORIES = frozenset(
    {
        "Shopping Area", "Nightclub", "Supermarket", "Sports/Recreation Area", "Parking Area",
        "Petrol Station", "Police Station", "Further/Higher Educational Building", "Hospital",
        "Park/Open Space", "Prison", "Theatre/Concert Hall", "Ferry Terminal",
        "Conference/Exhibition Centre", "Pedestrian Subway", "Bus/Coach Station", "Airport/Airfield",
        "Hotel/Motel", "Train Station", "Sports Ground", "Place of Worship",
    }
)
_ON_OR_NEAR = re.compile(r"^On or near (.+)$")
# The Open Pubs register uses this placeholder where a premises has no coordinates.
_MISSING = "\\N"


@dataclass(frozen=True)
class Place:
    place_id: str
    kind: str  # "venue" or "street"
    name: str
    latitude: float | None
    longitude: float | None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def venues_from_open_pubs(pubs: pd.DataFrame) -> list[Place]:
    """Licensed premises, one per fas_id; a premises listed twice (same name and postcode) once."""
    pubs = pubs.astype(str).sort_values("fas_id", key=lambda s: s.astype(int))
    pubs = pubs.drop_duplicates(subset=["name", "postcode"], keep="first")
    places = []
    for row in pubs.itertuples(index=False):
        located = row.latitude != _MISSING and row.longitude != _MISSING
        places.append(
            Place(
                place_id=f"venue:{row.fas_id}",
                kind="venue",
                name=row.name.strip(),
                latitude=float(row.latitude) if located else None,
                longitude=float(row.longitude) if located else None,
            )
        )
    return places


def streets_from_police_uk(crimes: pd.DataFrame, lsoa_prefix: str) -> pd.DataFrame:
    """Street names and a representative point (median of snapped points) for one area."""
    rows = crimes[crimes["LSOA name"].fillna("").str.startswith(lsoa_prefix)]
    names = rows["Location"].fillna("").str.extract(_ON_OR_NEAR, expand=False)
    points = pd.DataFrame(
        {"name": names, "latitude": rows["Latitude"], "longitude": rows["Longitude"]}
    ).dropna()
    points = points[~points["name"].isin(POLICE_UK_PLACE_CATEGORIES)]
    points = points[~points["name"].str.contains("/", regex=False)]
    streets = points.groupby("name", as_index=False)[["latitude", "longitude"]].median()
    streets["street_id"] = "street:" + streets["name"].map(slug)
    streets = streets.drop_duplicates("street_id").sort_values("street_id")
    streets[["latitude", "longitude"]] = streets[["latitude", "longitude"]].round(6)
    return streets[["street_id", "name", "latitude", "longitude"]].reset_index(drop=True)


def streets_as_places(streets: pd.DataFrame) -> list[Place]:
    return [
        Place(r.street_id, "street", r.name, float(r.latitude), float(r.longitude))
        for r in streets.itertuples(index=False)
    ]
