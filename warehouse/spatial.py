"""Spatial statistics over H3 cells: neighbours and the Getis-Ord Gi* hot-spot z-score, and the
matching of ED assaults to police records nearby in place and time."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import h3
import pyarrow as pa

from warehouse import SQL_DIR


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
        return dict.fromkeys(values)
    mean = sum(area.values()) / count
    spread = math.sqrt(sum(v * v for v in area.values()) / count - mean * mean)
    if spread == 0:
        return dict.fromkeys(values)
    scores = {}
    for cell in values:
        ring_cells = [n for n in neighbours(cell, ring) if n in area]
        weight = len(ring_cells)
        local = sum(area[n] for n in ring_cells)
        denominator = spread * math.sqrt((count * weight - weight * weight) / (count - 1))
        scores[cell] = round((local - mean * weight) / denominator, 3) if denominator else None
    return scores


def match_police(con: duckdb.DuckDBPyConnection, ring: int = 1, window_hours: float = 1) -> None:
    """Create the table ed_police_matches(cell_id, event_hour, police_match) from the view or
    table joint_incidents: each distinct (cell, hour) of a located and timed ED row, and whether
    a police record-management record (not open data, which has no time) lies in the same or a
    neighbouring cell, within `ring` steps, and within `window_hours` of it.

    Only the rings of the distinct ED cells are worked out in Python (h3); the joins run in
    DuckDB, so a month's rows never come into memory."""
    con.execute(_sql("ed_pairs.sql"))
    cells = [cell for (cell,) in con.execute("SELECT DISTINCT cell_id FROM ed_pairs").fetchall()]
    disks = [h3.grid_disk(cell, ring) for cell in cells]
    rings = pa.table(
        {
            "cell_id": pa.array([c for c, disk in zip(cells, disks) for _ in disk], pa.string()),
            "near": pa.array([n for disk in disks for n in disk], pa.string()),
        }
    )
    con.register("cell_rings", rings)
    try:
        con.execute(_sql("police_matches.sql"), {"window": dt.timedelta(hours=window_hours)})
    finally:
        con.unregister("cell_rings")
        con.execute("DROP TABLE ed_pairs")


def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")
