"""Statistical disclosure control for every published count (the OpenSAFELY / NHS England rule).

A count from 1 to the suppression threshold is withheld: published as NULL with its
`<column>_suppressed` flag set, never as a silent zero. Every other count is rounded to the
nearest multiple of the rounding base (halves round up) but never below the first multiple of the
base above the threshold, so a published figure is either 0 or above the threshold.

Margins and differencing (the documented rule; tests/test_differencing.py attacks it):
- every total and margin (monthly_trend, combined) is computed from raw counts and protected as a
  whole, never summed from protected cells, so subtracting published cells from a total leaves
  a rounding uncertainty of at least +-2 per cell: every value from 1 to the threshold stays
  possible for a suppressed cell;
- a re-delivered month replaces its earlier release; a correction of a few records moves a
  published figure only when it crosses a rounding boundary, so comparing the two releases does
  not reveal the size of the correction;
- derived columns (rank, Gi* z-scores, shares) are computed from published values only.
Differential privacy is optional, per agreement (`disclosure_control.differential_privacy.epsilon`):
OpenDP noise on every count before the rule above. Cell-key perturbation (ONS) is not applied.
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
    # Set when an agreement asks for differential privacy: each count (sensitivity 1) gets
    # discrete Laplace noise of this scale (1 / epsilon) from OpenDP before suppression and rounding.
    laplace_scale: float | None = None


def dp_noised(counts: list[int], scale: float) -> list[int]:
    """Counts with OpenDP's discrete Laplace noise, floored at zero (a count cannot be negative;
    post-processing keeps the guarantee). Not reproducible by design: re-runs differ."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    measurement = dp.m.make_laplace(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=scale)
    return [max(0, measurement(int(c))) for c in counts]


def protect_count(count: int, policy: DisclosurePolicy) -> int | None:
    if count == 0:
        return 0
    if count <= policy.suppression_threshold:
        return None
    base = policy.rounding_base
    rounded = ((count + base // 2) // base) * base
    # With some thresholds (10 with base 5, say) plain rounding would publish 11 as 10, a value
    # inside the suppressed range; never publish below the first multiple above the threshold.
    return max(rounded, (policy.suppression_threshold // base + 1) * base)


def protect(table: pd.DataFrame, count_columns: list[str], policy: DisclosurePolicy) -> pd.DataFrame:
    """Return a copy with each count column protected and a boolean `_suppressed` flag beside it."""
    out = table.copy()
    for column in count_columns:
        raw = out[column].fillna(0).astype(int)
        if policy.laplace_scale:
            raw = pd.Series(dp_noised(raw.tolist(), policy.laplace_scale), index=raw.index)
        out[column] = pd.array([protect_count(c, policy) for c in raw], dtype="Int64")
        out[f"{column}_suppressed"] = raw.between(1, policy.suppression_threshold)
    return out
