"""The hotspot map's base layers and labels: greedy placement never lets two labels (or a label
and a marker) overlap, a venue is named once however many marks point at it, and the map draws
the area's outline, area names and street names from the bundled open data."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re

import h3
import pytest

from anonymise.reference import gazetteer
from report.basemap import area_names, area_names_from_open_pubs, outlines_near, street_places
from report.data import MonthData
from report.labels import Box, Label, place_labels, text_box, text_width
from report.map import MARKER_RADIUS, hotspot_map, top_cell_names
from report.page import render_html

MONTH = dt.date(2026, 10, 1)
CITY_CENTRE = (51.4805, -3.1768)  # St Mary Street, Cardiff


def dense_month() -> MonthData:
    """A busy city-centre month: 61 neighbouring cells, the busiest in the middle, and the five
    venues nearest the centre as the top venues; labels have to fight for room."""
    centre = h3.latlng_to_cell(*CITY_CENTRE, 9)
    cells = []
    for rank, cell in enumerate(sorted(h3.grid_disk(centre, 4), key=lambda c: (h3.grid_distance(centre, c), c)), 1):
        combined = max(300 - 5 * rank, 1)
        cells.append(
            {
                "cell_id": cell,
                "rank": rank,
                "ed_assaults": combined // 3,
                "police_violence": combined - combined // 3,
                "combined": combined,
            }
        )
    venues = sorted(
        (p for p in gazetteer() if p.kind == "venue" and p.latitude is not None),
        key=lambda p: (p.latitude - CITY_CENTRE[0]) ** 2 + (p.longitude - CITY_CENTRE[1]) ** 2,
    )[:5]
    top_venues = [
        {
            "venue_id": v.place_id,
            "venue_name": v.name,
            "cell_id": h3.latlng_to_cell(v.latitude, v.longitude, 9),
            "rank": i,
            "ed_assaults": 40 - i,
            "police_violence": 10,
        }
        for i, v in enumerate(venues, 1)
    ]
    return MonthData(
        month=MONTH,
        tables={"hotspot_cells", "hotspot_venues"},
        cells=cells,
        venues=top_venues,
        previous_venues=None,
        hours=None,
        methods=None,
        coverage=None,
        hidden=None,
        trend=[],
        trend_source="monthly_trend",
        agreements=[],
    )


def _no_overlaps(boxes: list[Box]) -> None:
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)


# --- placement ---------------------------------------------------------------------------------


def test_text_width_grows_with_the_text_and_wide_letters():
    assert text_width("", 12) == 0
    assert text_width("Queen Street", 12) < text_width("Queen Street East", 12)
    assert text_width("iiii", 12) < text_width("WWWW", 12)
    assert text_width("Park Lane", 12, bold=True) > text_width("Park Lane", 12)
    # About DejaVu Sans's own width (the widest common font): 9 characters at 12 px.
    assert 55 < text_width("Park Lane", 12) < 75


def test_labels_at_the_same_point_are_moved_apart_or_dropped_never_overlapped():
    bounds = Box(0, 0, 300, 200)
    marker = Box.around(150, 100, MARKER_RADIUS + 1)
    labels = [Label(f"Label number {i}", 150, 100, "cell", 12, radius=MARKER_RADIUS) for i in range(30)]
    placed = place_labels(labels, bounds, [marker])
    assert 4 <= len(placed) < 30  # several fit round the marker, the rest are dropped
    _no_overlaps([marker] + [label.box for label in placed])
    assert all(label.box.inside(bounds) for label in placed)
    assert all(not label.placed for label in labels if label not in placed)
    # The first takes the nearest place, to the right of its marker, with no leader line.
    assert (placed[0].anchor, placed[0].leader) == ("start", None) and placed[0].tx > 150
    # One standing off from its marker is joined to it by a leader line.
    assert any(label.leader for label in placed)


def test_random_labels_never_overlap_each_other_markers_or_the_edge():
    rng = random.Random(17)
    bounds = Box(0, 0, 600, 400)
    markers = [(rng.uniform(0, 600), rng.uniform(0, 400)) for _ in range(15)]
    obstacles = [Box.around(x, y, MARKER_RADIUS + 1) for x, y in markers]
    labels = [Label(f"Venue {i}", x, y, "venue", 12, radius=MARKER_RADIUS) for i, (x, y) in enumerate(markers)]
    labels += [Label(f"Street {i} Road", rng.uniform(0, 600), rng.uniform(0, 400), "street", 10.5) for i in range(80)]
    placed = place_labels(labels, bounds, obstacles)
    assert len(placed) > 40
    _no_overlaps([label.box for label in placed])
    for label in placed:
        assert label.box.inside(bounds)
        assert not any(label.box.overlaps(o) for o in obstacles)


def test_a_limit_stops_placing_and_boxes_match_the_anchor():
    labels = [Label(f"Street {i}", 40 * i + 30, 50, "street", 10) for i in range(10)]
    assert len(place_labels(labels, Box(0, 0, 500, 100), limit=3)) == 3
    start, middle, end = (text_box(100, 50, 40, 10, a) for a in ("start", "middle", "end"))
    assert start.x0 < 100 < start.x1 and middle.x0 < 80 and end.x1 == pytest.approx(102)


# --- base layers -------------------------------------------------------------------------------


def test_the_base_layers_come_from_the_bundled_open_data():
    (outline,) = outlines_near([CITY_CENTRE])
    assert outline.name == "Cardiff" and len(outline.rings) == 2  # the mainland and Flat Holm
    assert outlines_near([(51.5155, -0.0922)]) == []  # the City of London is not Cardiff
    names = {a.name for a in area_names()}
    assert {"Cathays", "Roath", "Canton", "Splott", "Grangetown", "Butetown"} <= names
    streets = {p.name for p in street_places(gazetteer())}
    assert "St Mary Street" in streets and "A4232" not in streets  # a bare road number says little


def test_area_names_are_where_the_register_places_their_premises():
    rows = [
        {
            "address": "1 High Street, Llandaff, Cardiff",
            "latitude": "51.49",
            "longitude": "-3.21",
            "local_authority": "Cardiff",
        },
        {
            "address": "2 High Street, Llandaff, Cardiff",
            "latitude": "51.50",
            "longitude": "-3.22",
            "local_authority": "Cardiff",
        },
        {
            "address": "3 Lone Road, Nowhere, Cardiff",
            "latitude": "51.40",
            "longitude": "-3.10",
            "local_authority": "Cardiff",
        },
        {"address": "4 Road, Unplaced, Cardiff", "latitude": "\\N", "longitude": "\\N", "local_authority": "Cardiff"},
        {"address": "5 Road, Unplaced, Cardiff", "latitude": "\\N", "longitude": "\\N", "local_authority": "Cardiff"},
    ]
    (llandaff,) = area_names_from_open_pubs(rows)  # one premises is not enough to name an area
    assert (llandaff.name, llandaff.latitude, llandaff.longitude, llandaff.premises) == ("Llandaff", 51.495, -3.215, 2)


# --- the map -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dense_map():
    data = dense_month()
    names = top_cell_names(data.cells, gazetteer())
    return data, names, hotspot_map(data.cells, names, data.venues, gazetteer())


def test_no_label_overlaps_another_or_a_marker_on_a_busy_map(dense_map):
    _, _, m = dense_map
    for panel in (m.overview, m.enlarged):
        boxes = [label.box for label in panel.labels]
        _no_overlaps(boxes)
        markers = [Box.around(k.x, k.y, MARKER_RADIUS) for k in panel.markers]
        assert not any(b.overlaps(k) for b in boxes for k in markers)
    kinds = {label.kind for label in m.enlarged.labels}
    assert {"cell", "venue", "street"} <= kinds
    # Markers never sit on one another, so no rank number hides behind a venue's diamond.
    for panel in (m.overview, m.enlarged):
        for a, b in itertools.combinations(panel.markers, 2):
            assert (a.x - b.x) ** 2 + (a.y - b.y) ** 2 >= (2 * MARKER_RADIUS) ** 2


def test_each_venue_is_labelled_once_even_when_a_top_cell_is_named_after_it(dense_map):
    data, names, m = dense_map
    venue_names = {v["venue_name"] for v in data.venues}
    shared = venue_names & set(names.values())
    assert shared, "the busy month should name a top cell after a top venue"
    labels = [label.text for panel in (m.overview, m.enlarged) for label in panel.labels]
    for name in venue_names | set(names.values()):
        assert labels.count(name) <= 1, name
    markers = [k for panel in (m.overview, m.enlarged) for k in panel.markers]
    assert len([k for k in markers if k.kind == "venue"]) == 5  # every venue is still marked
    # Whatever found no room is listed for the page to say so.
    assert set(m.dropped) <= set(names.values()) | venue_names


def test_the_page_draws_the_outline_area_names_streets_and_credits(dense_map):
    html = render_html(dense_month(), gazetteer())
    assert 'class="area-outline"' in html and "<title>Cardiff</title>" in html
    assert 'class="map-label street-label halo"' in html and 'class="map-label area-label halo"' in html
    assert "Office for National Statistics" in html and "data.police.uk" in html
    shown = re.findall(r'class="map-label street-label halo"[^>]*>([^<]+)</text>', html)
    streets = {p.name.replace("'", "&#39;") for p in street_places(gazetteer())}
    assert shown and set(shown) <= streets
