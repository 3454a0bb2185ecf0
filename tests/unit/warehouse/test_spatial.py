"""Gi* hot-spot scores and ED-to-police matching."""

from __future__ import annotations

import random

import duckdb
import h3
import pandas as pd
import pyarrow as pa
import pytest

from warehouse.spatial import getis_ord_gi_star, match_police, neighbours

CENTRE = h3.latlng_to_cell(51.4800, -3.1760, 9)
FAR = h3.latlng_to_cell(51.5200, -3.2500, 9)


def test_a_busy_cluster_is_a_hot_spot_and_a_quiet_cell_is_not():
    values = dict.fromkeys(neighbours(CENTRE), 50) | {FAR: 5}
    scores = getis_ord_gi_star(values)
    assert scores[CENTRE] > 1.96
    assert scores[FAR] < scores[CENTRE] and scores[FAR] < 1.96


def test_gi_star_matches_a_hand_computation():
    values = {CENTRE: 10, FAR: 0}
    scores = getis_ord_gi_star(values)
    area = dict.fromkeys(neighbours(CENTRE) | neighbours(FAR), 0.0) | {CENTRE: 10.0}
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


def police_matches(joint: pd.DataFrame, ring: int = 1, window_hours: float = 1) -> pd.Series:
    """police_match of each row as hidden_violence.sql sees it: match_police's pairs joined
    back to the rows (NA for rows not compared)."""
    with duckdb.connect() as con:
        rows = joint.assign(position=range(len(joint)))
        con.register("joint_incidents", pa.Table.from_pandas(rows, preserve_index=False))
        match_police(con, ring=ring, window_hours=window_hours)
        matched = con.execute(
            "SELECT m.police_match FROM joint_incidents AS j LEFT JOIN ed_police_matches AS m"
            " ON j.source = 'ed' AND m.cell_id = j.cell_id AND m.event_hour = j.event_hour ORDER BY j.position"
        ).df()["police_match"]
    return pd.Series(matched.to_numpy(), index=joint.index, dtype="boolean")


def test_police_matches_in_place_and_time():
    neighbour = next(iter(neighbours(CENTRE) - {CENTRE}))
    joint = pd.DataFrame(
        [
            _row("ed", CENTRE, "2026-09-05 23:00"),  # police next door an hour later: matched
            _row("ed", CENTRE, "2026-09-06 05:00"),  # too late: not matched
            _row("ed", FAR, "2026-09-05 23:00"),  # too far: not matched
            _row("ed", None, "2026-09-05 23:00"),  # unlocated: not compared
            _row("police", neighbour, "2026-09-06 00:00"),
            _row("police_uk", CENTRE, None),
        ]
    )
    assert police_matches(joint).tolist() == [True, False, False, pd.NA, pd.NA, pd.NA]


def test_police_matches_by_hand_against_the_definition():
    neighbour = next(iter(neighbours(CENTRE) - {CENTRE}))
    two_away = next(iter(h3.grid_ring(CENTRE, 2)))
    joint = pd.DataFrame(
        [
            _row("ed", CENTRE, "2026-09-05 23:00"),  # police in the same cell at the same hour
            _row("ed", CENTRE, "2026-09-05 10:00"),  # police next door an hour later
            _row("ed", CENTRE, "2026-09-05 10:00"),  # the same pair again: matched again
            _row("ed", CENTRE, "2026-09-05 14:00"),  # police next door two hours before; open data and
            # an unlocated record at the hour do not count
            _row("ed", two_away, "2026-09-05 23:00"),  # police two cells away: outside the ring
            _row("ed", FAR, "2026-09-05 23:00"),  # far away
            _row("ed", None, "2026-09-05 23:00"),  # unlocated: not compared
            _row("ed", CENTRE, None),  # untimed: not compared
            _row("ed", neighbour, "2026-09-06 00:00"),  # police next door an hour before, across midnight
            _row("police", CENTRE, "2026-09-05 23:00"),
            _row("police", neighbour, "2026-09-05 11:00"),
            _row("police", neighbour, "2026-09-05 12:00"),
            _row("police", None, "2026-09-05 14:00"),
            _row("police", CENTRE, None),
            _row("police_uk", CENTRE, "2026-09-05 14:00"),
        ]
    )
    expected = [True, True, True, False, False, False, pd.NA, pd.NA, True] + [pd.NA] * 6
    got = police_matches(joint)
    assert got.tolist() == expected
    pd.testing.assert_series_equal(got, _reference_police_matches(joint))


def test_match_police_keeps_one_row_per_ed_pair():
    joint = pd.DataFrame(
        [_row("ed", CENTRE, "2026-09-05 23:00")] * 3 + [_row("police", CENTRE, "2026-09-05 23:00")] * 2
    )
    with duckdb.connect() as con:
        con.register("joint_incidents", pa.Table.from_pandas(joint, preserve_index=False))
        match_police(con)
        assert con.execute("SELECT police_match FROM ed_police_matches").fetchall() == [(True,)]


def _reference_police_matches(joint: pd.DataFrame, ring: int = 1, window_hours: float = 1) -> pd.Series:
    """The plain definition, row by row: the implementation must agree with it."""
    result = pd.Series(pd.NA, index=joint.index, dtype="boolean")
    comparable = joint["cell_id"].notna() & joint["event_hour"].notna()
    ed = joint[(joint["source"] == "ed") & comparable]
    police = joint[(joint["source"] == "police") & comparable]
    window = pd.Timedelta(hours=window_hours)
    for index, cell, when in zip(ed.index, ed["cell_id"], ed["event_hour"]):
        near = police[police["cell_id"].isin(neighbours(cell, ring))]
        result[index] = bool(((near["event_hour"] - when).abs() <= window).any())
    return result


@pytest.mark.parametrize("seed", range(6))
def test_police_matches_equals_the_row_by_row_definition(seed):
    rng = random.Random(seed)
    centre = h3.latlng_to_cell(51.48, -3.18, 9)
    cells = sorted(h3.grid_disk(centre, 3)) + [FAR]
    start = pd.Timestamp("2026-09-05 00:00")
    whole_hours = seed % 3 != 2  # event_hour is floored in the pipeline; also try minutes
    rows = []
    for _ in range(rng.randint(0, 300)):
        minutes = rng.randrange(72) * 60 if whole_hours else rng.randrange(72 * 60)
        rows.append(
            _row(
                rng.choice(["ed", "ed", "police", "police_uk"]),
                rng.choice(cells + [None]),
                start + pd.Timedelta(minutes=minutes),
            )
        )
        if rng.random() < 0.05:
            rows[-1]["event_hour"] = pd.NaT
    joint = pd.DataFrame(rows, columns=["source", "cell_id", "event_hour"])
    joint["cell_id"] = joint["cell_id"].astype("string")
    joint.index = [f"r{i}" for i in range(len(joint))][::-1]  # any index, not only 0..n-1
    for ring, window in [(1, 1), (0, 0), (2, 3), (1, 0.5)]:
        got = police_matches(joint, ring=ring, window_hours=window)
        expected = _reference_police_matches(joint, ring=ring, window_hours=window)
        pd.testing.assert_series_equal(got, expected)
