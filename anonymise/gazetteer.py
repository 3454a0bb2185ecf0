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
        "Shopping Area",
        "Nightclub",
        "Supermarket",
        "Sports/Recreation Area",
        "Parking Area",
        "Petrol Station",
        "Police Station",
        "Further/Higher Educational Building",
        "Hospital",
        "Park/Open Space",
        "Prison",
        "Theatre/Concert Hall",
        "Ferry Terminal",
        "Conference/Exhibition Centre",
        "Pedestrian Subway",
        "Bus/Coach Station",
        "Airport/Airfield",
        "Hotel/Motel",
        "Train Station",
        "Sports Ground",
        "Place of Worship",
    }
)
_ON_OR_NEAR = re.compile(r"^On or near (.+)$")
# data.police.uk title-cases every word, possessives included: "St Andrew'S Lane".
_TITLE_CASED_POSSESSIVE = re.compile(r"(?<=\w)'S\b")
# The Open Pubs register uses this placeholder where a premises has no coordinates.
_MISSING = "\\N"


@dataclass(frozen=True)
class Place:
    place_id: str
    kind: str  # "venue" or "street"
    name: str
    latitude: float | None
    longitude: float | None
    # Postcode district or locality ("CF5", "Llandaff"): what a text names to say which of
    # several same-named places it means. None when the source gives none.
    district: str | None = None


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
                district=_outward_code(row.postcode),
            )
        )
    return places


def _outward_code(postcode: str) -> str | None:
    """ "CF10 1BR" -> "CF10": a UK postcode's inward code is always its last three characters."""
    compact = re.sub(r"\s+", "", postcode).upper()
    return compact[:-3] or None


def streets_from_police_uk(crimes: pd.DataFrame, lsoa_prefix: str) -> pd.DataFrame:
    """Street names and a representative point (median of snapped points) for one area."""
    rows = crimes[crimes["LSOA name"].fillna("").str.startswith(lsoa_prefix)]
    names = rows["Location"].fillna("").str.extract(_ON_OR_NEAR, expand=False)
    names = names.str.replace(_TITLE_CASED_POSSESSIVE, "'s", regex=True)
    points = pd.DataFrame({"name": names, "latitude": rows["Latitude"], "longitude": rows["Longitude"]}).dropna()
    points = points[~points["name"].isin(POLICE_UK_PLACE_CATEGORIES)]
    points = points[~points["name"].str.contains("/", regex=False)]
    streets = points.groupby("name", as_index=False)[["latitude", "longitude"]].median()
    streets["street_id"] = "street:" + streets["name"].map(slug)
    streets = streets.drop_duplicates("street_id").sort_values("street_id")
    streets[["latitude", "longitude"]] = streets[["latitude", "longitude"]].round(6)
    return streets[["street_id", "name", "latitude", "longitude"]].reset_index(drop=True)


def streets_as_places(streets: pd.DataFrame) -> list[Place]:
    """One place per row: same-named streets in different districts are separate rows, each with
    its own id, point and (optional) district column."""
    districts = streets["district"] if "district" in streets else pd.Series(None, index=streets.index)
    return [
        Place(
            r.street_id,
            "street",
            r.name,
            float(r.latitude),
            float(r.longitude),
            district if isinstance(district, str) and district else None,
        )
        for r, district in zip(streets.itertuples(index=False), districts)
    ]
