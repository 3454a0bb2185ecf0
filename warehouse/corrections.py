"""Corrected re-deliveries: a figure is republished only when its records changed by at least
the agreement's threshold.

Under the cell-key method a figure whose records change gets a fresh perturbation, so an intruder
holding both releases of a month would see two noisy views of nearly the same count, and which
figures moved would name the changed record's cell, hour and method. So every published figure
is remembered by its protected part: how many records it held and their summed record keys (its
published value follows from these and the perturbation table). When the month is published
again, a figure whose record count moved by fewer than `threshold` keeps the records it was
published with, and so its published value, exactly; a figure that moved by `threshold` or more
is published afresh. A figure that was not published before and would hold fewer than
`threshold` records stays unpublished; one that disappears keeps its earlier value.

What a corrected release reveals: that some figures changed by at least the threshold, each
perturbed afresh. What it does not: any change smaller than the threshold, nor which record
changed. Public records (police open data) are always current: they are published exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from anonymise.disclosure import KEY_SUFFIX, PUBLIC_SUFFIX

LEDGER_COLUMNS = ["table", "row", "column", "n", "key"]


@dataclass
class Corrections:
    """What build_tables needs to publish a month again, and what it leaves for the next time."""

    threshold: int
    released: pd.DataFrame | None = None  # the month's ledger as last published; None: first release
    ledgers: list[pd.DataFrame] = field(default_factory=list)  # filled by build_tables, one per table
    kept: dict[str, int] = field(default_factory=dict)  # figures kept at their released value, per table

    def apply(self, table: str, raw: pd.DataFrame, keys: list[str], counts: list[str]) -> pd.DataFrame:
        if self.released is not None:
            raw, self.kept[table] = carry_forward(table, raw, keys, counts, self.released, self.threshold)
        self.ledgers.append(ledger(table, raw, keys, counts))
        return raw

    def save(self, path: Path) -> None:
        """Keep the ledger of what was just published (row-level zone: it holds record-key sums)."""
        frame = pd.concat(self.ledgers, ignore_index=True) if self.ledgers else pd.DataFrame(columns=LEDGER_COLUMNS)
        partial = path.with_name(f".{path.name}.partial")
        frame.to_parquet(partial, index=False)
        partial.replace(path)


def released_ledger(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def ledger_file(joint: Path) -> Path:
    """Where the month's published figures are remembered, beside its joint rows."""
    return joint.with_name(f"{joint.stem}.released.parquet")


def _row_ids(raw: pd.DataFrame, keys: list[str]) -> pd.Series:
    return raw[keys].astype(str).agg("|".join, axis=1) if len(raw) else pd.Series([], dtype=str)


def ledger(table: str, raw: pd.DataFrame, keys: list[str], counts: list[str]) -> pd.DataFrame:
    """The protected part of every figure of one table, as published: (n, key) per row and count,
    with the row's other columns (JSON) so that a row can be published again as it was."""
    ids = _row_ids(raw, keys)
    others = [c for c in raw.columns if c not in counts and not c.endswith((KEY_SUFFIX, PUBLIC_SUFFIX))]
    rows = raw[others].astype(str).to_dict("records") if len(raw) else []
    parts = [pd.DataFrame({"table": table, "row": [json.dumps({"id": i, "values": r}) for i, r in zip(ids, rows)],
                           "column": column, "n": raw[column].astype("int64").to_numpy(),
                           "key": raw[column + KEY_SUFFIX].astype("int64").to_numpy()})
             for column in counts]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LEDGER_COLUMNS)


def carry_forward(table: str, raw: pd.DataFrame, keys: list[str], counts: list[str], released: pd.DataFrame,
                  threshold: int) -> tuple[pd.DataFrame, int]:
    """`raw` (a table's figures before disclosure control) with every figure that moved by fewer
    than `threshold` records since `released` (the month's ledger) set back to its released
    records. Returns the table and how many figures were kept back."""
    earlier = released[released["table"] == table]
    old = {}
    for row, column, n, key in zip(earlier["row"], earlier["column"], earlier["n"], earlier["key"]):
        parsed = json.loads(row)
        old.setdefault(parsed["id"], {"values": parsed["values"]})[column] = (int(n), int(key))
    raw = raw.reset_index(drop=True)
    ids = _row_ids(raw, keys)
    gone = [rid for rid in old if rid not in set(ids)]
    if gone:  # rows published before whose records all went: back as they were, counted afresh at 0
        restored = pd.DataFrame([old[rid]["values"] for rid in gone])
        for column in counts:
            restored[column], restored[column + KEY_SUFFIX], restored[column + PUBLIC_SUFFIX] = 0, 0, 0
        restored = restored.astype({c: raw[c].dtype for c in restored.columns if c in raw.columns}, errors="ignore")
        raw = pd.concat([raw, restored[raw.columns]], ignore_index=True)
        ids = _row_ids(raw, keys)
    kept_figures = 0
    # Public records are published as they are: a row with any is published.
    fresh_row = (raw[[c + PUBLIC_SUFFIX for c in counts]].fillna(0).astype("int64").to_numpy() > 0).any(axis=1)
    for column in counts:
        before = [old.get(rid, {}).get(column, (0, 0)) for rid in ids]
        old_n = np.array([b[0] for b in before], dtype=np.int64)
        old_key = np.array([b[1] for b in before], dtype=np.int64)
        n = raw[column].fillna(0).astype("int64").to_numpy()
        keep = np.abs(n - old_n) < threshold
        kept_figures += int((keep & ((n != old_n) | (raw[column + KEY_SUFFIX].astype("int64").to_numpy() != old_key))).sum())
        raw[column] = np.where(keep, old_n, n)
        raw[column + KEY_SUFFIX] = np.where(keep, old_key, raw[column + KEY_SUFFIX].astype("int64").to_numpy())
        fresh_row |= ~keep
    # A row never published before, none of whose figures moved enough, stays unpublished.
    new_row = np.array([rid not in old for rid in ids], dtype=bool)
    return raw[~(new_row & ~fresh_row)].reset_index(drop=True), kept_figures
