"""Evaluating an intervention on synthetic months with a planted effect: the interval covers it, a
placebo finds nothing, displacement next door is reported, and protection holds."""

from __future__ import annotations

import datetime as dt

import h3
import numpy as np
import pytest

from outcomes.evaluate import BUFFER_RINGS, comparison_cells, evaluate, periods
from outcomes.protect import NO_CHANGE, TOO_EARLY, TOO_FEW_INCIDENTS, published_row, rounded_percent
from outcomes.register import Intervention
from tests.unit.outcomes.synthetic_months import (
    CENTRE,
    MONTHS,
    RESOLUTION,
    START,
    area_cells,
    monthly_counts,
    treated_venues,
    venue_cell,
)

THRESHOLD = 7  # the bundled agreement's suppression threshold
LAST = MONTHS[-1]


@pytest.fixture(scope="module")
def venues() -> list[str]:
    return treated_venues(area_cells())


@pytest.fixture(scope="module")
def treated(venues) -> list[str]:
    return [venue_cell(v) for v in venues]


@pytest.fixture(scope="module")
def planted(treated):
    """A 30% drop in the three venues' cells from month 13, and 30% more in the cells next door."""
    return monthly_counts(seed=7, treated_cells=treated, effect=-0.3, neighbour_effect=0.3)


def glass(places, start=START, end=None, id="glass") -> Intervention:
    return Intervention(id=id, kind="toughened_glass", places=places, start=start, end=end, owner="Cardiff CSP")


def row_of(evaluation) -> dict:
    return published_row(evaluation, THRESHOLD, "cardiff-violence-prevention", 1)


def test_the_interval_covers_the_planted_drop(venues, planted):
    evaluation = evaluate(glass(venues), planted, LAST, RESOLUTION)
    assert (evaluation.months_before, evaluation.months_after) == (12, 12)
    assert evaluation.effect.low <= -0.3 <= evaluation.effect.high
    row = row_of(evaluation)
    assert row["verdict"].startswith("fell by about ") and 20 <= -row["effect_pct"] <= 40
    assert row["ci_low_pct"] <= -30 <= row["ci_high_pct"]
    assert row["verdict"] == f"fell by about {-row['effect_pct']}%"
    assert row["comparison_cells"] >= 20


def test_a_placebo_at_untreated_places_finds_nothing(treated, planted):
    rng = np.random.default_rng(11)
    far = [
        c for c in area_cells() if h3.grid_distance(CENTRE, c) <= 5 and min(h3.grid_distance(c, t) for t in treated) > 3
    ]
    placebo = glass(list(rng.choice(far, 3, replace=False)), id="placebo")
    row = row_of(evaluate(placebo, planted, LAST, RESOLUTION, other_cells=set(treated)))
    assert row["verdict"] == NO_CHANGE
    assert row["ci_low_pct"] <= 0 <= row["ci_high_pct"]


def test_a_placebo_before_the_real_start_finds_nothing(venues, planted):
    """The treated venues, as if the intervention began in month 7, evaluated before it really did."""
    row = row_of(evaluate(glass(venues, start=MONTHS[6]), planted, MONTHS[11], RESOLUTION))
    assert (row["months_before"], row["months_after"]) == (6, 6)
    assert row["verdict"] == NO_CHANGE


def test_displacement_planted_next_door_is_reported(venues, planted):
    evaluation = evaluate(glass(venues), planted, LAST, RESOLUTION)
    assert evaluation.displacement.low <= 0.3 <= evaluation.displacement.high
    row = row_of(evaluation)
    assert row["displacement_verdict"].startswith("rose by about ")
    assert row["displacement_ci_low_pct"] > 0


def test_no_displacement_is_reported_when_none_was_planted(venues, treated):
    counts = monthly_counts(seed=7, treated_cells=treated, effect=-0.3)
    row = row_of(evaluate(glass(venues), counts, LAST, RESOLUTION))
    assert row["verdict"].startswith("fell by about ")
    assert row["displacement_verdict"] == NO_CHANGE


def test_too_few_incidents_are_not_published_never_as_zero(venues, treated):
    quiet = monthly_counts(seed=7, treated_cells=treated, effect=-0.3, treated_level=0.05)
    evaluation = evaluate(glass(venues), quiet, LAST, RESOLUTION)
    assert min(evaluation.treated_records) < THRESHOLD
    row = row_of(evaluation)
    assert row["verdict"] == TOO_FEW_INCIDENTS
    assert row["effect_pct"] is None and row["ci_low_pct"] is None and row["ci_high_pct"] is None
    assert row["model"] is None


def test_too_few_months_is_too_early(venues, planted):
    after_two = row_of(evaluate(glass(venues), planted, MONTHS[13], RESOLUTION))
    assert (after_two["months_after"], after_two["verdict"], after_two["effect_pct"]) == (2, TOO_EARLY, None)
    assert after_two["displacement_verdict"] == TOO_EARLY
    five_before = row_of(evaluate(glass(venues, start=MONTHS[5]), planted, LAST, RESOLUTION))
    assert (five_before["months_before"], five_before["verdict"]) == (5, TOO_EARLY)
    not_started = row_of(evaluate(glass(venues, start=dt.date(2030, 1, 1)), planted, LAST, RESOLUTION))
    assert (not_started["months_after"], not_started["verdict"]) == (0, TOO_EARLY)


def test_comparisons_are_not_next_door_nor_at_another_intervention(treated, planted):
    from outcomes.counts import panel
    from outcomes.places import within

    table = panel(planted)
    other = [c for c in area_cells() if h3.grid_distance(c, treated[0]) == 6][:1]
    excluded = within(set(treated), BUFFER_RINGS) | within(set(other), BUFFER_RINGS)
    chosen = comparison_cells(table, treated, excluded, MONTHS[:12], MONTHS[12:], 30)
    assert len(chosen) == 30
    assert all(min(h3.grid_distance(c, t) for t in treated + other) > BUFFER_RINGS for c in chosen)


def test_comparisons_match_the_treated_level_before_the_start(treated, planted):
    from outcomes.counts import panel
    from outcomes.places import within

    table = panel(planted)
    chosen = comparison_cells(table, treated, within(set(treated), 2), MONTHS[:12], MONTHS[12:], 10)
    pool = table.drop(index=list(within(set(treated), 2)), errors="ignore")
    assert table.loc[chosen, MONTHS[:12]].mean(axis=1).mean() > 2 * pool[MONTHS[:12]].mean(axis=1).mean()


def test_a_month_started_or_ended_part_way_is_left_out():
    months = MONTHS
    before, after = periods(glass(["x"], start=dt.date(2026, 1, 15), end=dt.date(2026, 6, 10)), months)
    assert before == MONTHS[:12]
    assert after == MONTHS[13:17]  # February to May 2026: January and June are part way
    _, to_the_end = periods(glass(["x"], start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 30)), months)
    assert to_the_end == MONTHS[12:18]


def test_overdispersed_counts_use_a_negative_binomial(venues, treated):
    rng = np.random.default_rng(3)
    counts = monthly_counts(seed=5, treated_cells=treated, effect=-0.3)
    # Extra month-to-month variation in every cell: a gamma-mixed Poisson (negative binomial).
    counts["incidents"] = rng.poisson(counts["incidents"] * rng.gamma(2.0, 0.5, len(counts)))
    evaluation = evaluate(glass(venues), counts[counts["incidents"] > 0], LAST, RESOLUTION)
    assert evaluation.effect.model == "negative_binomial"
    assert evaluation.effect.low <= -0.3 <= evaluation.effect.high


def test_percentages_are_rounded_to_the_nearest_five():
    assert [rounded_percent(f) for f in (-0.325, -0.324, 0.024, 0.025, -0.02, 0.3)] == [-35, -30, 0, 5, 0, 30]


@pytest.mark.slow
def test_over_many_seeds_the_interval_is_calibrated(venues, treated):
    """Not a lucky seed: across 40 seeds the planted drop is covered nearly 95% of the time and a
    placebo rarely finds a change. (Matching comparisons on their noisy pre-period level lets them
    regress to the mean a little, about 2% in the ratio: hence 'nearly'.)"""
    covered = false_alarms = 0
    far = [
        c for c in area_cells() if h3.grid_distance(CENTRE, c) <= 5 and min(h3.grid_distance(c, t) for t in treated) > 3
    ]
    for seed in range(40):
        counts = monthly_counts(seed=100 + seed, treated_cells=treated, effect=-0.3)
        effect = evaluate(glass(venues), counts, LAST, RESOLUTION).effect
        covered += effect.low <= -0.3 <= effect.high
        placebo = glass(list(np.random.default_rng(seed).choice(far, 3, replace=False)), id="placebo")
        false_alarms += evaluate(placebo, counts, LAST, RESOLUTION, other_cells=set(treated)).effect.detectable
    assert covered >= 34 and false_alarms <= 5
