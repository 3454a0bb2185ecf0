"""What of an evaluation may be published: an effect ratio, rounded, and only over enough incidents.

Why this protects the people in the row-level zone:
- No count leaves: a published row holds relative changes, their intervals, months and the
  number of comparison cells, never the incidents behind them.
- An effect is published only when the intervention's cells held at least the agreement's
  suppression threshold of records both before and after the start (the displacement likewise
  for the neighbouring cells). A ratio of two totals of at least that many records each cannot
  be turned back into either total, and no single incident moves it far; below that, one or two
  incidents would set the figure and the row says "not available: too few incidents to publish"
  (never 0, which would claim an effect of nothing).
- Percentages are rounded to the nearest 5: no finer than the evidence behind them, and a step
  that one incident more or less rarely crosses, so that comparing two evaluations a month apart
  tells little about the incidents added between them.
The verdict is read from the unrounded interval; the interval published is rounded like the rest.
"""

from __future__ import annotations

import math

from outcomes.evaluate import MIN_COMPARISON_CELLS, Estimate, Evaluation

TOO_EARLY = "too early"
NO_CHANGE = "no detectable change"
TOO_FEW_INCIDENTS = "not available: too few incidents to publish"
NO_COMPARISON = "not available: too few comparable places"
NO_ESTIMATE = "not available: no change can be estimated"
PERCENT_BASE = 5


def rounded_percent(fraction: float) -> int:
    """A relative change as a whole percentage rounded to the nearest 5, halves away from zero."""
    percent = abs(fraction) * 100
    return int(math.copysign(math.floor(percent / PERCENT_BASE + 0.5) * PERCENT_BASE, fraction)) or 0


def enough_records(records: tuple[int, ...], threshold: int) -> bool:
    """Whether a ratio over these exact record totals (before, after) may be published: each at
    least the agreement's suppression threshold."""
    return min(records) >= threshold


def verdict(estimate: Estimate) -> str:
    """In plain words: no detectable change when the interval includes zero, else the direction and size."""
    if not estimate.detectable:
        return NO_CHANGE
    size = abs(rounded_percent(estimate.change))
    direction = "fell" if estimate.change < 0 else "rose"
    return f"{direction} by about {size}%" if size else f"{direction} by less than {PERCENT_BASE}%"


def _published(
    estimate: Estimate | None, records: tuple[int, int], threshold: int, evaluation: Evaluation
) -> tuple[int | None, int | None, int | None, str]:
    """(change, low, high) in rounded percent and the verdict, or Nones and why not."""
    if evaluation.too_early:
        return None, None, None, TOO_EARLY
    if not enough_records(records, threshold):
        # Checked before anything else about the estimate: its absence must not hint at the counts.
        return None, None, None, TOO_FEW_INCIDENTS
    if evaluation.comparison_cells < MIN_COMPARISON_CELLS:
        return None, None, None, NO_COMPARISON
    if estimate is None:
        return None, None, None, NO_ESTIMATE
    return (
        rounded_percent(estimate.change),
        rounded_percent(estimate.low),
        rounded_percent(estimate.high),
        verdict(estimate),
    )


def published_row(evaluation: Evaluation, threshold: int, agreement_id: str, agreement_version: int) -> dict:
    """The intervention_effects row for one evaluation under the agreement's suppression threshold."""
    effect, low, high, said = _published(evaluation.effect, evaluation.treated_records, threshold, evaluation)
    moved, moved_low, moved_high, moved_said = _published(
        evaluation.displacement, evaluation.neighbour_records, threshold, evaluation
    )
    return {
        "month": evaluation.month,
        "intervention_id": evaluation.intervention.id,
        "kind": evaluation.intervention.kind,
        "months_before": evaluation.months_before,
        "months_after": evaluation.months_after,
        "comparison_cells": evaluation.comparison_cells,
        "model": evaluation.effect.model if effect is not None else None,
        "effect_pct": effect,
        "ci_low_pct": low,
        "ci_high_pct": high,
        "verdict": said,
        "displacement_pct": moved,
        "displacement_ci_low_pct": moved_low,
        "displacement_ci_high_pct": moved_high,
        "displacement_verdict": moved_said,
        "agreement_id": agreement_id,
        "agreement_version": agreement_version,
    }


def effect_text(row: dict, prefix: str = "") -> str:
    """A published intervention_effects row's effect (or, with prefix "displacement_", the change
    next door) in plain words with its rounded interval."""
    effect = row["displacement_pct" if prefix else "effect_pct"]
    if effect is None:
        return row[f"{prefix}verdict"]
    low, high = row[f"{prefix}ci_low_pct"], row[f"{prefix}ci_high_pct"]
    return f"{row[f'{prefix}verdict']} ({effect:+d}%, 95% interval {low:+d}% to {high:+d}%)"


def deviant_text(row: dict) -> str:
    """A published positive_deviants row in plain words."""
    return (
        f"{row['verdict']} ({row['change_pct']:+d}%, interval {row['ci_low_pct']:+d}% to {row['ci_high_pct']:+d}%; "
        f"{row['months_after']} months against {row['months_before']}, {row['comparison_cells']} comparison cells)"
    )
