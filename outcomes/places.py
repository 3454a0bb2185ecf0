"""The places an intervention names, as the joint zone identifies them, and the H3 cells they are.

The joint zone places an incident in an H3 cell (`cell_id`, at the agreement's resolution) and,
when its location was resolved to a named place, also by `place_id`: `venue:<Food Standards
Agency id>` for licensed premises and `street:<slug>` for streets, from the bundled gazetteer
(anonymise/reference.py). A venue or street is placed in the cell of its gazetteer point, as the
pipeline places an incident resolved to it, so an intervention's cells are the cells its
incidents are counted in.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import h3

if TYPE_CHECKING:
    from anonymise.gazetteer import Place

NAMED_PLACE_PREFIXES = ("venue:", "street:")


class UnknownPlace(ValueError):
    """A place the register cannot evaluate: not in the gazetteer, or not a cell of the zone."""


@cache
def _named_places() -> dict[str, Place]:
    # Imported here: reading the gazetteer brings in pandas, which the command line loads only when needed.
    from anonymise.reference import gazetteer

    return {place.place_id: place for place in gazetteer()}


def cell_of(place: str, resolution: int) -> str:
    """The H3 cell (at the zone's `resolution`) a venue, street or cell id names; UnknownPlace
    saying why when it names none the joint zone could count incidents in."""
    if place.startswith(NAMED_PLACE_PREFIXES):
        found = _named_places().get(place)
        if found is None:
            raise UnknownPlace(f"{place} is not in the gazetteer of Cardiff venues and streets")
        if found.latitude is None or found.longitude is None:
            raise UnknownPlace(f"{place} ({found.name}) has no coordinates in the register: name its H3 cell instead")
        return h3.latlng_to_cell(found.latitude, found.longitude, resolution)
    place = place.lower()  # the zone writes cells in lower case, as h3 does
    if not h3.is_valid_cell(place):
        raise UnknownPlace(
            f"{place!r} is not a place the joint zone knows: give a venue id (venue:<id>), a street id "
            "(street:<name>) or an H3 cell id"
        )
    if h3.get_resolution(place) != resolution:
        # A cell of another size would match no incident: the zone counts cells of one resolution.
        raise UnknownPlace(
            f"{place} is an H3 cell at resolution {h3.get_resolution(place)}; the agreement places incidents "
            f"in cells at resolution {resolution}"
        )
    return place


def cells_of(places: list[str], resolution: int) -> set[str]:
    return {cell_of(place, resolution) for place in places}


def place_label(place: str) -> str:
    """A venue's or street's name beside its id, for people reading the register."""
    found = _named_places().get(place)
    return f"{found.name} ({place})" if found else place


def within(cells: set[str], rings: int) -> set[str]:
    """Every cell within `rings` steps of any of `cells`, the cells included."""
    return {near for cell in cells for near in h3.grid_disk(cell, rings)}
