"""Spatial statistics over H3 cells: neighbours and the Getis-Ord Gi* hot-spot z-score, and the
matching of ED assaults to police records nearby in place and time."""

from __future__ import annotations

import math

import h3
import pandas as pd


def neighbours(cell: str, ring: int = 1) -> set[str]:
    """The cell and every cell within `ring` steps of it."""
    return set(h3.grid_disk(cell, ring))


def getis_ord_gi_star(values: dict[str, float], ring: int = 1) -> dict[str, float | None]:
    """Gi* z-score of each cell with binary weights over its ring (itself included).

    The study area is the given cells plus their neighbours (as zeros), so an isolated busy cell
    is compared with the quiet streets around it rather than only with other busy cells.
    """
    area = {c: float(v) for c, v in values.items()}
    for cell in values:
        for n in neighbours(cell, ring):
            area.setdefault(n, 0.0)
    count = len(area)
    if count < 2:
        return {c: None for c in values}
    mean = sum(area.values()) / count
    spread = math.sqrt(sum(v * v for v in area.values()) / count - mean * mean)
    if spread == 0:
        return {c: None for c in values}
    scores = {}
    for cell in values:
        ring_cells = [n for n in neighbours(cell, ring) if n in area]
        weight = len(ring_cells)
        local = sum(area[n] for n in ring_cells)
        denominator = spread * math.sqrt((count * weight - weight * weight) / (count - 1))
        scores[cell] = round((local - mean * weight) / denominator, 3) if denominator else None
    return scores


def police_matches(joint: pd.DataFrame, ring: int = 1, window_hours: int = 1) -> pd.Series:
    """For each ED row, whether a police record-management record lies in the same or a
    neighbouring cell within `window_hours` of it. NA for rows that cannot be compared (no
    cell or no time) and for other sources."""
    result = pd.Series(pd.NA, index=joint.index, dtype="boolean")
    ed = joint[(joint["source"] == "ed") & joint["cell_id"].notna() & joint["event_hour"].notna()]
    police = joint[(joint["source"] == "police") & joint["cell_id"].notna() & joint["event_hour"].notna()]
    if ed.empty:
        return result
    result[ed.index] = False
    if police.empty:
        return result
    matched = _matched_pairs(ed[["cell_id", "event_hour"]], police[["cell_id", "event_hour"]], ring, window_hours)
    hit = ed[["cell_id", "event_hour"]].merge(matched, on=["cell_id", "event_hour"], how="left")["hit"]
    result[ed.index] = hit.notna().to_numpy()
    return result


def _matched_pairs(ed: pd.DataFrame, police: pd.DataFrame, ring: int, window_hours: float) -> pd.DataFrame:
    """The distinct ED (cell_id, event_hour) pairs with a police record within `ring` cells and
    `window_hours`, as joins: ED pairs -> the cells of their rings -> police pairs in those cells."""
    pairs = ed.drop_duplicates()
    cells = pairs["cell_id"].unique()
    disks = [h3.grid_disk(c, ring) for c in cells]
    rings = pd.DataFrame({
        "cell_id": pd.array([c for c, d in zip(cells, disks) for _ in d], dtype=ed["cell_id"].dtype),
        "near": pd.array([n for d in disks for n in d], dtype=ed["cell_id"].dtype),
    }).drop_duplicates()  # grid_disk lists each cell once; kept as a set for safety
    nearby = pairs.merge(rings, on="cell_id")
    police = police.drop_duplicates().rename(columns={"cell_id": "near", "event_hour": "police_hour"})
    hours = pd.concat([ed["event_hour"], police["police_hour"]])
    if (hours == hours.dt.floor("h")).all():
        # Whole hours: a police record is near in time when it is at one of the hours within
        # the window, so each (ring cell, hour) pair is looked up rather than compared.
        steps = range(-math.floor(window_hours), math.floor(window_hours) + 1) if window_hours >= 0 else range(0)
        shifted = [nearby.assign(police_hour=nearby["event_hour"] + pd.Timedelta(hours=k)) for k in steps]
        found = pd.concat(shifted).merge(police, on=["near", "police_hour"]) if shifted else nearby.iloc[:0]
    else:
        found = nearby.merge(police, on="near")
        found = found[(found["police_hour"] - found["event_hour"]).abs() <= pd.Timedelta(hours=window_hours)]
    return found[["cell_id", "event_hour"]].drop_duplicates().assign(hit=True)
