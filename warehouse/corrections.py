"""Corrected re-deliveries: publish a correction only when comparing releases cannot pin a count.

Under the cell-key method a figure whose records change gets a fresh perturbation, so an intruder
holding both releases sees two noisy views of nearly the same count. A correction that moves
some figure by fewer records than the agreement's threshold is therefore held: the month's
earlier release stays published, the audit log and coverage say a correction waits, and it is
published at the month's next scheduled revision (every `revision_every_months` after the
month), when all the corrections held since are released together.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

# The groupings published figures are made of (cells at the finest resolution, venues, hours of
# the week, methods, the month's totals); a record moves at least these figures when it changes.
FIGURE_GROUPINGS = {"cell": ["cell_id"], "venue": ["place_id"], "hour_of_week": ["weekday", "hour"],
                    "method": ["method"], "month": []}


def released_copy(joint: Path) -> Path:
    """Where the joint rows behind the month's published release are kept (row-level zone)."""
    return joint.with_name(f"{joint.stem}.released.parquet")


def smallest_figure_change(released: Path, corrected: Path, public_sources: tuple[str, ...]) -> int:
    """The fewest protected records by which any changed figure moves (0: nothing changed).
    A changed record is one present in one release and not the other (a moved record counts
    in both its old and its new figures). Public records are published exactly, so they do not count."""
    public = ", ".join("'" + s.replace("'", "''") + "'" for s in public_sources) or "NULL"
    with duckdb.connect() as con:
        con.execute(f"""CREATE TEMP TABLE changed AS
            WITH old AS (SELECT * FROM read_parquet(?)), new AS (SELECT * FROM read_parquet(?))
            SELECT * FROM ((SELECT * FROM old EXCEPT ALL SELECT * FROM new)
                           UNION ALL (SELECT * FROM new EXCEPT ALL SELECT * FROM old))
            WHERE coalesce(source NOT IN ({public}), true)""", [str(released), str(corrected)])
        smallest = 0
        for keys in FIGURE_GROUPINGS.values():
            where = " AND ".join(f"{k} IS NOT NULL" for k in keys) or "true"
            (n,) = con.execute(f"SELECT min(n) FROM (SELECT count(*) AS n FROM changed WHERE {where} "
                               f"GROUP BY {', '.join(['source', *keys])})").fetchone()
            if n:
                smallest = n if not smallest else min(smallest, n)
        return smallest


def next_revision(month: dt.date, every_months: int, after: dt.date) -> dt.date:
    """The first scheduled revision of `month` after the date `after`."""
    revision = month
    while revision <= after:
        revision = (pd.Timestamp(revision) + pd.DateOffset(months=every_months)).date()
    return revision


def held_reason(smallest_change: int, threshold: int, revision: dt.date) -> str:
    return (f"a correction changes some published figure by {smallest_change} record(s), fewer than the "
            f"agreement's {threshold}; it is held until the scheduled revision on {revision:%Y-%m-%d}, so "
            "that comparing releases cannot pin a count")
