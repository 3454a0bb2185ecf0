"""Reference data bundled with the project: the gazetteer of Cardiff venues and streets."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

import open_data
from anonymise.gazetteer import (
    Place,
    streets_as_places,
    streets_from_police_uk,
    venues_from_open_pubs,
)

DATA_DIR = open_data.ROOT
OPEN_PUBS = DATA_DIR / "open_pubs_cardiff.csv"
STREETS = DATA_DIR / "streets_cardiff.csv"
POLICE_UK_DIR = DATA_DIR / "police_uk"


def build_streets_file(out: Path = STREETS) -> pd.DataFrame:
    """Derive the Cardiff street gazetteer from the bundled data.police.uk files."""
    crimes = pd.concat(pd.read_csv(p, dtype=str) for p in sorted(POLICE_UK_DIR.glob("*-south-wales-street.csv")))
    crimes[["Latitude", "Longitude"]] = crimes[["Latitude", "Longitude"]].astype(float)
    streets = streets_from_police_uk(crimes, lsoa_prefix="Cardiff")
    streets.to_csv(out, index=False)
    return streets


@cache
def gazetteer() -> tuple[Place, ...]:
    """Venues first, then streets: a venue name beats a street name of equal quality."""
    venues = venues_from_open_pubs(pd.read_csv(OPEN_PUBS, dtype=str, keep_default_na=False))
    streets = streets_as_places(pd.read_csv(STREETS, dtype={"street_id": str, "name": str}))
    return tuple(venues + streets)
