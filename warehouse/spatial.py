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
    police_hours = police.groupby("cell_id")["event_hour"].apply(lambda s: s.sort_values().to_numpy())
    window = pd.Timedelta(hours=window_hours).to_numpy()
    for index, cell, when in zip(ed.index, ed["cell_id"], ed["event_hour"]):
        when = pd.Timestamp(when).to_datetime64()
        for near in neighbours(cell, ring):
            hours = police_hours.get(near)
            if hours is not None and (abs(hours - when) <= window).any():
                result[index] = True
                break
    return result
