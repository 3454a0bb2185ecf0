"""Monthly incidents per H3 cell, counted in the row-level joint zone.

These are exact counts of row-level data: they stay inside the evaluation (outcomes/evaluate.py)
and are never published or printed; only protected effect ratios leave (outcomes/protect.py).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from ingest.engine import row_level_duckdb
from ingest.home import IstvHome

_MONTH_FILE = re.compile(r"^(\d{4})-(\d{2})\.parquet$")


def joint_months(home: IstvHome, up_to: dt.date | None = None) -> dict[dt.date, Path]:
    """The months the joint zone holds (up to `up_to`), oldest first, and their files."""
    folder = home.pseudonymised / "joint"
    found = {}
    for file in folder.glob("*.parquet") if folder.exists() else ():
        match = _MONTH_FILE.match(file.name)
        if match:
            month = dt.date(int(match[1]), int(match[2]), 1)
            if up_to is None or month <= up_to:
                found[month] = file
    return dict(sorted(found.items()))


def monthly_cell_counts(home: IstvHome, up_to: dt.date | None = None) -> pd.DataFrame:
    """month, cell_id, incidents: every located incident of every source in the joint zone (a
    private dwelling has no cell, so it is not counted), months up to `up_to`. A month the zone
    holds appears even when no cell has an incident, as one row with cell_id NULL, so that the
    evaluation knows the month exists; cells with no incident in a month have no row (zero)."""
    parts = []
    months = joint_months(home, up_to)
    # One file at a time, in DuckDB: only per-cell totals leave it, the rows never come into memory.
    with row_level_duckdb(spill_zone=home.pseudonymised) as con:
        for month, file in months.items():
            counts = con.execute(
                "SELECT cell_id, count(*) AS incidents FROM read_parquet(?) WHERE cell_id IS NOT NULL GROUP BY cell_id",
                [str(file)],
            ).df()
            if counts.empty:
                counts = pd.DataFrame({"cell_id": [None], "incidents": [0]})
            counts.insert(0, "month", month)
            parts.append(counts)
    if not parts:
        return pd.DataFrame({"month": [], "cell_id": [], "incidents": []})
    return pd.concat(parts, ignore_index=True).astype({"incidents": "int64"})


def panel(counts: pd.DataFrame) -> pd.DataFrame:
    """The counts as a table of cells (rows) by months (columns), zero where a cell had none."""
    months = sorted(set(counts["month"]))
    located = counts.dropna(subset=["cell_id"])
    table = located.pivot_table(index="cell_id", columns="month", values="incidents", aggfunc="sum", fill_value=0)
    return table.reindex(columns=months, fill_value=0).astype("int64")
