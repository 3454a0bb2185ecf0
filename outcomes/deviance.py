"""What works, found by the data: places whose violence fell significantly more than comparable
places, where no intervention is registered (positive deviance), so that the partnership can ask
the people there what they did.

Method:
- Windows: the latest AFTER_MONTHS (6) months the joint zone holds up to the month evaluated are
  "after"; the up to BEFORE_MONTHS (12) months before them are "before" (at least
  evaluate.MIN_MONTHS_BEFORE). With fewer months nothing is searched and the reason is given.
  A year before covers every season once; half a year after is recent enough to ask about and
  long enough that one unusual month does not make a place look changed.
- Candidates: every cell not within evaluate.BUFFER_RINGS of a registered intervention's cells
  (those are intervention_effects' business, and the rings next to them may gain or lose
  displaced violence), with at least the agreement's suppression threshold of records in each
  window. At most MAX_CANDIDATES (100) are tested, the busiest before: the bound depends on the
  before window only, never on the change, so it does not bias the test, and the quieter places
  left out could seldom show a significant fall anyway.
- Each candidate is tested exactly as an intervention is (outcomes/evaluate.py): the same
  comparison cells chosen by level and trend before, none within BUFFER_RINGS of the candidate
  nor of any intervention (comparable places with no registered intervention), and the same
  Poisson or negative binomial difference-in-differences with the "after" months as the
  intervention's months. Each fit is single-threaded, as evaluate.fit is.
- A hundred places tested at once would find some "falls" by chance alone: the two-sided
  p-values of every place tested go through the Benjamini-Hochberg procedure, keeping the
  expected share of false discoveries among all places it flags under FALSE_DISCOVERY_RATE;
  only places flagged whose violence fell get a row. Their interval is widened to the
  false-coverage-rate interval of Benjamini and Yekutieli (2005) for places so selected (level
  1 - R q / m for R places flagged of m tested), which always excludes no change; a fall
  selected for being large is still likely to be somewhat smaller than estimated.

A comparison place whose violence also fell makes a fall look smaller, so the search errs towards
missing a deviant rather than inventing one. A positive deviant is a question, not an answer: a
fall may come from something nobody did (a venue closing, a change in how incidents are
recorded) as well as from what someone did.

Protection (outcomes/protect.py's rules, its functions reused):
- No count is published: a row holds the place (an H3 cell at the agreement's resolution and its
  centre), months, the number of comparison cells, and relative changes rounded to the nearest 5%.
- A place is tested only when it held at least the agreement's suppression threshold of records
  before and after (protect.enough_records, checked again before a row is made): the same rule
  as for an intervention's effect, for the same reason (a ratio of two totals of that many
  records each cannot be turned back into either, and no single incident moves it far).
- Publishing only the significant places reveals no count: a row says that the place held at
  least the threshold in each window and that its fall relative to others was large compared
  with its uncertainty; many different counts give the same rounded ratio and interval. A place
  without a row may have had too few records, been beyond the candidate bound, or have had no
  significant fall: the absence cannot be told apart, so it says nothing about its counts
  either (in particular not that it held fewer than the threshold).

Counts here are exact and row-level: only the rows of deviant_rows leave this module.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import pandas as pd

from outcomes.count_model import Z_95
from outcomes.counts import panel
from outcomes.evaluate import (
    BUFFER_RINGS,
    COMPARISON_CELLS,
    MIN_COMPARISON_CELLS,
    MIN_MONTHS_BEFORE,
    Estimate,
    fit,
)
from outcomes.evaluate import comparison_cells as choose_comparison_cells
from outcomes.places import within
from outcomes.protect import enough_records, rounded_percent, verdict
from outcomes.publish import PROVENANCE, EvaluationTable

BEFORE_MONTHS, AFTER_MONTHS = 12, 6
# Bounds the work (one regression per candidate, a few tens of milliseconds each). Beyond the busiest
# hundred cells a place seldom holds enough incidents for a fall to stand out among so many tested,
# and each place tested makes the others' bar higher.
MAX_CANDIDATES = 100
FALSE_DISCOVERY_RATE = 0.05

DESCRIPTION = (
    "Places (H3 cells) where no intervention is registered whose violence fell significantly more than "
    "comparable places over the latest six months against the twelve before them: questions for the "
    "partnership (what happened there?), not proof that something worked. Each place was measured like an "
    "intervention (intervention_effects) against comparison places chosen by the data, not within two rings "
    "of it or of any registered intervention; up to a hundred places are tested, so only falls that stay "
    "significant under a false discovery rate of 5% (Benjamini-Hochberg) are listed. Relative changes only, "
    "rounded to the nearest 5%, for places with at least the agreement's suppression threshold of records "
    "in both periods; no count is published. A month with no row had no such place."
)
COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("DATE", "The month evaluated (first day): the six months up to it are compared with the 12 before."),
    "cell_id": ("VARCHAR", "The place: an H3 cell at the agreement's resolution (about 350 m across at resolution 9)."),
    "cell_lat": ("DOUBLE", "Latitude of the centre of the cell (not of any incident)."),
    "cell_lon": ("DOUBLE", "Longitude of the centre of the cell (not of any incident)."),
    "months_before": ("INTEGER", "Months of data in the earlier period the recent one is compared with."),
    "months_after": ("INTEGER", "Months of data in the recent period."),
    "comparison_cells": (
        "INTEGER",
        "Number of comparable cells (similar level and trend before) the place was measured against.",
    ),
    "change_pct": (
        "INTEGER",
        "Estimated change in the place's incidents relative to the comparable places, percent, rounded to the "
        "nearest 5 (negative: a fall). Places picked for a large fall are likely to fall somewhat less in truth.",
    ),
    "ci_low_pct": (
        "INTEGER",
        "Lower end of the interval of change_pct, percent: an interval widened for the number of places tested "
        "(false coverage rate 5%), so wider than a plain 95% interval.",
    ),
    "ci_high_pct": (
        "INTEGER",
        "Upper end of that interval, percent: below zero (a fall), or zero when rounding brings it there.",
    ),
    "verdict": ("VARCHAR", "In plain words, e.g. fell by about 40% more than comparable places."),
    **PROVENANCE,
}
POSITIVE_DEVIANTS = EvaluationTable("positive_deviants", DESCRIPTION, COLUMNS, ("month", "change_pct", "cell_id"))


@dataclass(frozen=True)
class Deviant:
    """A place whose fall survived the false discovery rate. `records` are exact counts (before,
    after), kept only so that protection can check them: never published, never printed."""

    cell: str
    estimate: Estimate  # with the false-coverage-rate interval
    comparison_cells: int
    records: tuple[int, int]


@dataclass(frozen=True)
class Search:
    month: dt.date
    months_before: int
    months_after: int
    tested_cells: tuple[str, ...]  # the places tested, busiest before first
    deviants: list[Deviant]
    reason: str | None = None  # why nothing was searched, in plain words

    @property
    def tested(self) -> int:
        """How many places were tested (not a count of incidents)."""
        return len(self.tested_cells)


def windows(months: list[dt.date]) -> tuple[list[dt.date], list[dt.date]] | None:
    """(before, after): the latest AFTER_MONTHS months and up to BEFORE_MONTHS before them; None
    when the months are too few."""
    after = months[-AFTER_MONTHS:]
    before = months[-AFTER_MONTHS - BEFORE_MONTHS : -AFTER_MONTHS]
    if len(after) < AFTER_MONTHS or len(before) < MIN_MONTHS_BEFORE:
        return None
    return before, after


def search(
    counts: pd.DataFrame,
    month: dt.date,
    intervention_cells: set[str],
    threshold: int,
    max_candidates: int | None = None,
    rate: float = FALSE_DISCOVERY_RATE,
) -> Search:
    """The positive deviants among the cells of the monthly counts (outcomes/counts.py) of the
    months up to `month`, away from `intervention_cells` (every registered intervention's)."""
    from statsmodels.stats.multitest import multipletests

    table = panel(counts[counts["month"] <= month])
    table.index = table.index.astype(object)  # plain strings: each fit looks cells up a few hundred times
    months = list(table.columns)
    found = windows(months)
    if found is None:
        needed = AFTER_MONTHS + MIN_MONTHS_BEFORE
        why = f"the joint zone holds {len(months)} months up to {month:%Y-%m}; the search needs {needed}"
        return Search(month, 0, 0, (), [], why)
    before, after = found
    near_interventions = within(set(intervention_cells), BUFFER_RINGS)
    totals = pd.DataFrame({"before": table[before].sum(axis=1), "after": table[after].sum(axis=1)})
    eligible = totals[~totals.index.isin(near_interventions)]
    eligible = eligible[[enough_records((b, a), threshold) for b, a in zip(eligible["before"], eligible["after"])]]
    # The busiest before first, ties by cell id: the same data, the same candidates.
    ranked = sorted(eligible.index, key=lambda cell: (-int(eligible.at[cell, "before"]), cell))
    ranked = ranked[: max_candidates or MAX_CANDIDATES]
    tested: list[tuple[str, Estimate, int]] = []
    for cell in ranked:
        excluded = within({cell}, BUFFER_RINGS) | near_interventions
        comparisons = choose_comparison_cells(table, [cell], excluded, before, after, COMPARISON_CELLS)
        if len(comparisons) < MIN_COMPARISON_CELLS:
            continue
        estimate = fit(table, [cell], comparisons, before, after)
        if estimate is not None and math.isfinite(estimate.p_value):
            tested.append((cell, estimate, len(comparisons)))
    deviants = []
    if tested:
        flagged, *_ = multipletests([e.p_value for _, e, _ in tested], alpha=rate, method="fdr_bh")
        selected = int(flagged.sum())
        for (cell, estimate, compared), significant in zip(tested, flagged):
            if significant and estimate.change < 0:
                records = (int(totals.at[cell, "before"]), int(totals.at[cell, "after"]))
                deviants.append(Deviant(cell, _fcr_interval(estimate, selected, len(tested), rate), compared, records))
    return Search(month, len(before), len(after), tuple(cell for cell, _, _ in tested), deviants)


def _fcr_interval(estimate: Estimate, selected: int, tested: int, rate: float) -> Estimate:
    """The estimate with Benjamini and Yekutieli's false-coverage-rate interval for `selected`
    places of `tested`, from its 95% interval (the same log-scale standard error)."""
    beta = math.log1p(estimate.change)
    se = (math.log1p(estimate.high) - math.log1p(estimate.low)) / (2 * Z_95)
    z = NormalDist().inv_cdf(1 - selected * rate / (2 * tested))
    low, high = math.expm1(beta - z * se), math.expm1(beta + z * se)
    return Estimate(estimate.change, low, high, estimate.model, estimate.p_value)


def deviant_rows(found: Search, threshold: int, agreement_id: str, agreement_version: int) -> list[dict]:
    """The positive_deviants rows of a search under the agreement's suppression threshold."""
    import h3

    rows = []
    for deviant in found.deviants:
        if not enough_records(deviant.records, threshold):  # never a candidate; checked again all the same
            continue
        lat, lon = h3.cell_to_latlng(deviant.cell)
        rows.append(
            {
                "month": found.month,
                "cell_id": deviant.cell,
                "cell_lat": round(lat, 6),
                "cell_lon": round(lon, 6),
                "months_before": found.months_before,
                "months_after": found.months_after,
                "comparison_cells": deviant.comparison_cells,
                "change_pct": rounded_percent(deviant.estimate.change),
                "ci_low_pct": rounded_percent(deviant.estimate.low),
                "ci_high_pct": rounded_percent(deviant.estimate.high),
                "verdict": f"{verdict(deviant.estimate)} more than comparable places",
                "agreement_id": agreement_id,
                "agreement_version": agreement_version,
            }
        )
    return sorted(rows, key=lambda r: (r["change_pct"], r["cell_id"]))


def latest_deviants(warehouse: Path, month: dt.date | None = None) -> tuple[dt.date | None, list[dict]]:
    """The published positive_deviants of `month` (default: the latest month with any), read-only."""
    from outcomes.publish import published_rows

    table = POSITIVE_DEVIANTS.name
    if month is None:
        latest = published_rows(warehouse, f"SELECT max(month) AS month FROM {table}")
        month = latest[0]["month"] if latest else None
    rows = published_rows(warehouse, f"SELECT * FROM {table} WHERE month = ? ORDER BY change_pct, cell_id", [month])
    return month, rows or []
