"""Gi* hot-spot scores and ED-to-police matching."""

from __future__ import annotations

import h3
import pandas as pd

from warehouse.spatial import getis_ord_gi_star, neighbours, police_matches

CENTRE = h3.latlng_to_cell(51.4800, -3.1760, 9)
FAR = h3.latlng_to_cell(51.5200, -3.2500, 9)


def test_a_busy_cluster_is_a_hot_spot_and_a_quiet_cell_is_not():
    values = {c: 50 for c in neighbours(CENTRE)} | {FAR: 5}
    scores = getis_ord_gi_star(values)
    assert scores[CENTRE] > 1.96
    assert scores[FAR] < scores[CENTRE] and scores[FAR] < 1.96


def test_gi_star_matches_a_hand_computation():
    values = {CENTRE: 10, FAR: 0}
    scores = getis_ord_gi_star(values)
    area = {c: 0.0 for c in neighbours(CENTRE) | neighbours(FAR)} | {CENTRE: 10.0}
    n = len(area)
    mean = 10 / n
    s = ((100 / n) - mean**2) ** 0.5
    w = 7
    expected = (10 - mean * w) / (s * ((n * w - w * w) / (n - 1)) ** 0.5)
    assert abs(scores[CENTRE] - round(expected, 3)) < 1e-9


def test_flat_values_have_no_score():
    assert set(getis_ord_gi_star({CENTRE: 0, FAR: 0}).values()) == {None}


def _row(source, cell, when):
    return {"source": source, "cell_id": cell, "event_hour": pd.Timestamp(when) if when else pd.NaT}


def test_police_matches_in_place_and_time():
    neighbour = next(iter(neighbours(CENTRE) - {CENTRE}))
    joint = pd.DataFrame([
        _row("ed", CENTRE, "2026-09-05 23:00"),      # police next door an hour later: matched
        _row("ed", CENTRE, "2026-09-06 05:00"),      # too late: not matched
        _row("ed", FAR, "2026-09-05 23:00"),         # too far: not matched
        _row("ed", None, "2026-09-05 23:00"),        # unlocated: not compared
        _row("police", neighbour, "2026-09-06 00:00"),
        _row("police_uk", CENTRE, None),
    ])
    assert police_matches(joint).tolist() == [True, False, False, pd.NA, pd.NA, pd.NA]
