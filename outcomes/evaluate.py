"""Did violence fall where an intervention ran, relative to comparable places, and did it move next door?

A difference-in-differences in counts: a Poisson regression (negative binomial when the counts
vary more than Poisson allows) of each cell's monthly incidents on a term per cell (places differ
in how violent they are), a term per month (season, city-wide trends, a source missing for a
month: everything that moves all places together) and one term for the intervention's cells in
its months. exp(that term) - 1 is the change relative to what the comparison places suggest
would have happened, with a 95% confidence interval.

Comparison places are chosen by the data, not by hand: cells whose incidents before the start
had a level and trend closest to the intervention's cells'. None lies within two rings of an
intervention's cell (nor of another registered intervention's), so that violence displaced next
door neither counts as a fall nor hides one. Displacement is measured by the same model with
the ring of cells next to the intervention's standing in for them.

Counts here are exact and row-level: only outcomes/protect.py decides what may be published.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from outcomes.count_model import Z_95, fit_counts
from outcomes.counts import panel
from outcomes.places import within
from outcomes.register import Intervention

# Fewer months than these give an estimate too uncertain (and too sensitive to one month) to report.
MIN_MONTHS_BEFORE, MIN_MONTHS_AFTER = 6, 3
# Comparison cells are at least this many rings from any treated cell: about 350 m at resolution 9,
# beyond where displaced violence (the next street, the next venue) is expected.
BUFFER_RINGS = 2
# The ring measured for displacement: the cells touching the intervention's.
DISPLACEMENT_RINGS = 1
COMPARISON_CELLS, MIN_COMPARISON_CELLS = 30, 3


@dataclass(frozen=True)
class Estimate:
    """A relative change (0.3 = 30% more) with its 95% interval, and the model that gave it."""

    change: float
    low: float
    high: float
    model: str  # "poisson" or "negative_binomial"
    # Two-sided Wald p-value of no change: for testing many places at once (outcomes/deviance.py).
    p_value: float = math.nan

    @property
    def detectable(self) -> bool:
        return not self.low <= 0 <= self.high


@dataclass(frozen=True)
class Evaluation:
    """One intervention evaluated at one month. The *_records are exact counts of row-level data,
    kept only so that protection can check them: never published, never printed."""

    intervention: Intervention
    month: dt.date
    months_before: int
    months_after: int
    comparison_cells: int
    effect: Estimate | None
    displacement: Estimate | None
    treated_records: tuple[int, int]
    neighbour_records: tuple[int, int]

    @property
    def too_early(self) -> bool:
        return self.months_before < MIN_MONTHS_BEFORE or self.months_after < MIN_MONTHS_AFTER


def periods(intervention: Intervention, months: list[dt.date]) -> tuple[list[dt.date], list[dt.date]]:
    """The months wholly before the start, and those wholly within the intervention. A month it
    started (or ended) part way through is neither, and months after its end are left out: they
    would blur the contrast between without and with."""
    started = dt.date(intervention.start.year, intervention.start.month, 1)
    first = started if intervention.start.day == 1 else (pd.Timestamp(started) + pd.DateOffset(months=1)).date()
    last = None
    if intervention.end is not None:
        ended = dt.date(intervention.end.year, intervention.end.month, 1)
        last_day = (pd.Timestamp(ended) + pd.offsets.MonthEnd(0)).date()
        last = ended if intervention.end == last_day else (pd.Timestamp(ended) - pd.DateOffset(months=1)).date()
    before = [m for m in months if m < started]
    after = [m for m in months if m >= first and (last is None or m <= last)]
    return before, after


def evaluate(
    intervention: Intervention,
    counts: pd.DataFrame,
    month: dt.date,
    resolution: int,
    other_cells: set[str] = frozenset(),
    comparisons_wanted: int = COMPARISON_CELLS,
) -> Evaluation:
    """Evaluate `intervention` on the monthly cell counts (outcomes/counts.py) of the months up to
    `month`. `other_cells` are other interventions' cells: neither they nor their neighbours are
    comparison places."""
    table = panel(counts[counts["month"] <= month])
    before, after = periods(intervention, list(table.columns))
    treated = sorted(intervention.cells(resolution))
    neighbours = sorted(within(set(treated), DISPLACEMENT_RINGS) - set(treated))
    table = table.reindex(table.index.union(treated).union(neighbours), fill_value=0)
    treated_records = (
        int(table.loc[treated, before].to_numpy().sum()),
        int(table.loc[treated, after].to_numpy().sum()),
    )
    neighbour_records = (
        int(table.loc[neighbours, before].to_numpy().sum()),
        int(table.loc[neighbours, after].to_numpy().sum()),
    )
    effect = displacement = None
    comparisons: list[str] = []
    if len(before) >= MIN_MONTHS_BEFORE and len(after) >= MIN_MONTHS_AFTER:
        excluded = within(set(treated), BUFFER_RINGS) | within(set(other_cells), BUFFER_RINGS)
        comparisons = comparison_cells(table, treated, excluded, before, after, comparisons_wanted)
        if len(comparisons) >= MIN_COMPARISON_CELLS:
            effect = fit(table, treated, comparisons, before, after)
            displacement = fit(table, neighbours, comparisons, before, after)
    return Evaluation(
        intervention,
        month,
        len(before),
        len(after),
        len(comparisons),
        effect,
        displacement,
        treated_records,
        neighbour_records,
    )


def _level_and_trend(series: pd.DataFrame) -> np.ndarray:
    """Each row's mean and least-squares slope per month."""
    values = series.to_numpy(dtype=float)
    x = np.arange(values.shape[1], dtype=float)
    x -= x.mean()
    slope = values @ x / (x @ x) if values.shape[1] > 1 else np.zeros(len(values))
    return np.column_stack([values.mean(axis=1), slope])


def comparison_cells(
    table: pd.DataFrame, treated: list[str], excluded: set[str], before: list, after: list, wanted: int
) -> list[str]:
    """The `wanted` cells outside `excluded` whose level and trend before the start are nearest the
    treated cells' average (each measure scaled by its spread over the candidates, so neither
    dominates). Cells with no incident at all in the months compared carry no information."""
    used = table[before + after]
    pool = [c for c in used.index[used.to_numpy().sum(axis=1) > 0] if c not in excluded]
    if not pool:
        return []
    features = _level_and_trend(used.loc[pool, before])
    target = _level_and_trend(used.loc[treated, before].mean(axis=0).to_frame().T)[0]
    spread = features.std(axis=0)
    spread[spread == 0] = 1.0
    distance = np.hypot(*((features - target) / spread).T)
    ranked = sorted(zip(distance, pool))  # ties broken by cell id: the same data, the same choice
    return [cell for _, cell in ranked[:wanted]]


def fit(table: pd.DataFrame, group: list[str], comparisons: list[str], before: list, after: list) -> Estimate | None:
    """The group's change in its post months relative to the comparisons (None when the group
    had no incident before or after: no ratio can be estimated)."""
    import statsmodels.api as sm  # slow to import: only when something is evaluated
    from threadpoolctl import threadpool_limits

    used = table.loc[list(group) + list(comparisons), before + after]
    is_group = used.index.isin(group)
    if used.loc[is_group, before].to_numpy().sum() == 0 or used.loc[is_group, after].to_numpy().sum() == 0:
        return None
    # A cell or month with no incident at all has a fixed effect of minus infinity and adds nothing.
    used = used.loc[used.sum(axis=1) > 0, used.sum(axis=0) > 0]
    is_group = used.index.isin(group)
    long = used.stack().rename("y").reset_index()
    long.columns = ["cell", "month", "y"]
    design = pd.concat(
        [
            pd.get_dummies(long["cell"], prefix="cell", drop_first=True, dtype=float),
            pd.get_dummies(long["month"].astype(str), prefix="month", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    design.insert(0, "const", 1.0)
    design["treated_after"] = (long["cell"].isin(used.index[is_group]) & long["month"].isin(after)).astype(float)
    y = long["y"].to_numpy(dtype=float)
    # A design of a few hundred rows: BLAS threads only wait on each other (ten times slower on a busy machine).
    with threadpool_limits(limits=1, user_api="blas"):
        return _regression(sm, y, design)


def _regression(sm, y: np.ndarray, design: pd.DataFrame) -> Estimate | None:
    result, model = fit_counts(sm, y, design)
    beta, se = float(result.params["treated_after"]), float(result.bse["treated_after"])
    if not (math.isfinite(beta) and math.isfinite(se)):
        return None
    p_value = float(result.pvalues["treated_after"])
    return Estimate(math.expm1(beta), math.expm1(beta - Z_95 * se), math.expm1(beta + Z_95 * se), model, p_value)
