"""Statistical disclosure control for every published count (the OpenSAFELY / NHS England rule).

A count from 1 to the suppression threshold is withheld: published as NULL with its
`<column>_suppressed` flag set, never as a silent zero. Every other count is rounded to the
nearest multiple of the rounding base (halves round up), so a published figure is either 0 or at
least the first multiple of the base above the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SUPPRESSION_THRESHOLD = 7
ROUNDING_BASE = 5


@dataclass(frozen=True)
class DisclosurePolicy:
    suppression_threshold: int = SUPPRESSION_THRESHOLD
    rounding_base: int = ROUNDING_BASE


def protect_count(count: int, policy: DisclosurePolicy) -> int | None:
    if 1 <= count <= policy.suppression_threshold:
        return None
    return ((count + policy.rounding_base // 2) // policy.rounding_base) * policy.rounding_base


def protect(table: pd.DataFrame, count_columns: list[str], policy: DisclosurePolicy) -> pd.DataFrame:
    """Return a copy with each count column protected and a boolean `_suppressed` flag beside it."""
    out = table.copy()
    for column in count_columns:
        raw = out[column].fillna(0).astype(int)
        out[column] = pd.array([protect_count(c, policy) for c in raw], dtype="Int64")
        out[f"{column}_suppressed"] = raw.between(1, policy.suppression_threshold)
    return out
