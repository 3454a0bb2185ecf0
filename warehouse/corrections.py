"""Corrected re-deliveries: a figure is republished only when its records changed by at least
the agreement's threshold.

Under the cell-key method a figure whose records change gets a fresh perturbation, so an intruder
holding both releases of a month would see two noisy views of nearly the same count, and which
figures moved would name the changed record's cell, hour and method. So every published figure
is remembered by its protected part: how many records it held, their summed record keys and the
value it showed. When the month is published again, a figure whose record count moved by fewer
than `threshold` keeps the records it was published with and shows its published value again,
exactly, even if the agreement's perturbation table has changed since; a figure that moved by
`threshold` or more is published afresh. A figure that was not published before and would hold
fewer than `threshold` records stays unpublished; one that disappears keeps its earlier value.

What a corrected release reveals: that some figures changed by at least the threshold, each
perturbed afresh. What it does not: any change smaller than the threshold, nor which record
changed. Public records (police open data) are always current: they are published exactly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from anonymise.disclosure import KEY_SUFFIX, PUBLIC_SUFFIX, SHOWN_SUFFIX


@dataclass
class Corrections:
    """What build_tables needs to publish a month again, and what it leaves for the next time:
    per table, its figures before disclosure control (their protected record counts, summed
    record keys and public counts, beside the row's other columns)."""

    threshold: int
    released: dict[str, pd.DataFrame] | None = None  # the month as last published; None: first release
    figures: dict[str, pd.DataFrame] = field(default_factory=dict)  # filled by build_tables
    kept: dict[str, int] = field(default_factory=dict)  # figures kept at their released value, per table

    def apply(self, table: str, raw: pd.DataFrame, keys: list[str], counts: list[str]) -> pd.DataFrame:
        if self.released is not None and table in self.released:
            raw, self.kept[table] = carry_forward(raw, keys, counts, self.released[table], self.threshold)
        self.figures[table] = raw
        return raw

    def shown(self, table: str, published: pd.DataFrame, counts: list[str]) -> None:
        """Remember what each figure of `table` showed (`published`: the figures `apply` returned,
        row for row, through disclosure control): its protected part, the published count less the
        public one. A figure kept at the next release shows it again, even after the agreement's
        noise has changed: perturbing the same records afresh would give a second noisy view."""
        figures = self.figures[table]
        for column in counts:
            public = figures[column + PUBLIC_SUFFIX].fillna(0).astype("int64").to_numpy()
            figures[column + SHOWN_SUFFIX] = pd.array(published[column], dtype="Int64") - public

    def save(self, folder: Path) -> None:
        """Keep what was just published, a file a table (row-level zone: it holds record-key sums),
        swapped in whole so that a run killed here leaves the earlier release's files."""
        partial = folder.with_name(f".{folder.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for table, frame in self.figures.items():
            frame.to_parquet(partial / f"{table}.parquet", index=False)
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)


def released_figures(folder: Path) -> dict[str, pd.DataFrame] | None:
    if not folder.is_dir():
        return None
    return {f.stem: pd.read_parquet(f) for f in folder.glob("*.parquet")}


LEDGER_SUFFIX = ".released"


def released_folder(joint: Path) -> Path:
    """Where the month's published figures are remembered, beside its joint rows."""
    return joint.with_name(f"{joint.stem}{LEDGER_SUFFIX}")


def is_ledger(path: Path) -> bool:
    """Whether `path` is a month's ledger. Retention leaves ledgers with the published tables:
    without it, a correction delivered after the month's rows are deleted would be published
    afresh, and comparing it with the first release would pin the changed figures' counts."""
    return path.name.endswith(LEDGER_SUFFIX)


def carry_forward(
    raw: pd.DataFrame, keys: list[str], counts: list[str], released: pd.DataFrame, threshold: int
) -> tuple[pd.DataFrame, int]:
    """`raw` (a table's figures before disclosure control) with every figure that moved by fewer
    than `threshold` records since `released` set back to its released records. Returns the
    table and how many figures were kept back."""
    old = released.drop(columns=[c + PUBLIC_SUFFIX for c in counts])
    merged = raw.merge(old, on=keys, how="outer", suffixes=("", "__released"), indicator=True)
    # Rows published before whose records all went come back as they were, counted afresh at 0.
    gone = merged["_merge"] == "right_only"
    for column in raw.columns:
        if column not in keys and column + "__released" in merged:
            merged[column] = merged[column].where(~gone, merged[column + "__released"])
    for column in counts:
        for part in (column, column + KEY_SUFFIX, column + PUBLIC_SUFFIX):
            merged[part] = merged[part].where(~gone, 0)
    kept_figures = 0
    # Public records are published as they are: a row with any is published.
    fresh_row = (merged[[c + PUBLIC_SUFFIX for c in counts]].fillna(0).astype("int64").to_numpy() > 0).any(axis=1)
    for column in counts:
        n = merged[column].fillna(0).astype("int64").to_numpy()
        key = merged[column + KEY_SUFFIX].fillna(0).astype("int64").to_numpy()
        old_n = merged[column + "__released"].fillna(0).astype("int64").to_numpy()
        old_key = merged[column + KEY_SUFFIX + "__released"].fillna(0).astype("int64").to_numpy()
        keep = np.abs(n - old_n) < threshold
        kept_figures += int((keep & ((n != old_n) | (key != old_key))).sum())
        merged[column] = np.where(keep, old_n, n)
        merged[column + KEY_SUFFIX] = np.where(keep, old_key, key)
        # A ledger written before values were remembered has none: those are perturbed again alike.
        old_shown = merged.get(column + SHOWN_SUFFIX, pd.Series(pd.NA, index=merged.index))
        merged[column + SHOWN_SUFFIX] = pd.array(old_shown, dtype="Int64")
        merged.loc[~keep, column + SHOWN_SUFFIX] = pd.NA
        fresh_row |= ~keep
    # A row never published before, none of whose figures moved enough, stays unpublished.
    new_row = (merged["_merge"] == "left_only").to_numpy()
    out = merged.loc[~(new_row & ~fresh_row), [*raw.columns, *(c + SHOWN_SUFFIX for c in counts)]]
    return out.astype(raw.dtypes.to_dict()).sort_values(keys).reset_index(drop=True), kept_figures
