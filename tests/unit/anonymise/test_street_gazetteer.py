"""The street gazetteer: what the bundled file holds, and how same-named streets stay apart."""

from __future__ import annotations

import pandas as pd
import pytest

from anonymise.gazetteer import streets_as_places, streets_from_police_uk
from anonymise.locate_batches import LocationResolver
from anonymise.reference import STREETS, gazetteer

# The Cardiff local authority, with a margin: every bundled street lies inside it.
CARDIFF_LAT, CARDIFF_LON = (51.37, 51.57), (-3.35, -3.05)


def test_every_bundled_street_has_a_name_and_a_point_inside_cardiff():
    streets = pd.read_csv(STREETS, dtype={"street_id": str, "name": str})
    assert len(streets) > 1000
    assert streets["street_id"].is_unique
    assert streets["name"].str.strip().ne("").all()
    assert streets["latitude"].between(*CARDIFF_LAT).all()
    assert streets["longitude"].between(*CARDIFF_LON).all()


def _two_high_streets(districts: tuple[str, str]) -> LocationResolver:
    streets = pd.DataFrame(
        {
            "street_id": ["street:high-street-centre", "street:high-street-llandaff"],
            "name": ["High Street", "High Street"],
            "latitude": [51.4806, 51.4946],
            "longitude": [-3.1790, -3.2185],
            "district": list(districts),
        }
    )
    return LocationResolver(streets_as_places(streets))


def test_same_named_streets_in_two_districts_are_two_places():
    places = _two_high_streets(("CF10", "CF5"))._places
    assert [p.place_id for p in places] == ["street:high-street-centre", "street:high-street-llandaff"]
    assert [p.district for p in places] == ["CF10", "CF5"]
    assert places[0].latitude != places[1].latitude


@pytest.mark.parametrize(
    "districts, text, expected",
    [
        (("CF10", "CF5"), "outside high st", None),  # which High Street? not said
        (("CF10", "CF5"), "high st cf5", "street:high-street-llandaff"),
        (("CF10", "CF5"), "o/s 12 high street, cf10 1aa", None),  # a full postcode: a home address
        (("CF10", "CF5"), "high street cf10", "street:high-street-centre"),
        (("CF10", "CF5"), "high st cf24", None),  # a district that is neither
        (("City Centre", "Llandaff"), "high street, llandaff", "street:high-street-llandaff"),
        (("City Centre", "Llandaff"), "by the shops on high st city centre", "street:high-street-centre"),
        (("City Centre", "Llandaff"), "high street", None),
    ],
)
def test_a_district_or_locality_in_the_text_says_which(districts, text, expected):
    resolver = _two_high_streets(districts)
    for result in (resolver.resolve(text), resolver.resolve_many([text])[0]):
        if expected is None:
            assert result.status in ("ambiguous", "private")
            assert result.place_id is None
        else:
            assert (result.status, result.place_id) == ("street", expected)


def test_a_district_does_not_override_an_unambiguous_street():
    """One High Street only: the text's district is no reason to doubt it."""
    streets = pd.DataFrame(
        {
            "street_id": ["street:high-street"],
            "name": ["High Street"],
            "latitude": [51.4806],
            "longitude": [-3.1790],
            "district": ["CF10"],
        }
    )
    result = LocationResolver(streets_as_places(streets)).resolve("high st cf5")
    assert (result.status, result.place_id) == ("street", "street:high-street")


def test_venues_carry_the_postcode_district_of_their_premises():
    venues = [p for p in gazetteer() if p.kind == "venue"]
    assert all(p.district and p.district.startswith("CF") for p in venues)


def test_possessives_read_as_written_not_as_the_open_data_title_cases_them():
    """data.police.uk writes "St Andrew'S Lane"; the gazetteer, the report and the published place
    names read "St Andrew's Lane"."""
    crimes = pd.DataFrame(
        {
            "LSOA name": ["Cardiff 032A", "Cardiff 032A"],
            "Location": ["On or near St Andrew'S Lane", "On or near Queen Street"],
            "Latitude": [51.4853, 51.4810],
            "Longitude": [-3.1733, -3.1760],
        }
    )
    assert sorted(streets_from_police_uk(crimes, "Cardiff")["name"]) == ["Queen Street", "St Andrew's Lane"]
    bundled = pd.read_csv(STREETS, dtype=str)
    assert not bundled["name"].str.contains(r"\w'S\b", regex=True).any()
    assert "St Andrew's Lane" in set(bundled["name"])
