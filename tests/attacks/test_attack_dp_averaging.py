"""Attack 4: averaging re-runs of an unchanged month under differential privacy."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import attacks as A

from .conftest import RERUNS, measured


def test_seeded_re_runs_are_identical_and_averaging_gains_nothing(months, default_policy):
    score, identical = A.dp_averaging(months[0], 3, seeded=True, base=default_policy)
    assert identical
    assert score.extra["distinct"] == 1
    assert not A.criterion_failures(score), measured(score)


def test_fresh_noise_is_averaged_away(months, default_policy):
    """What drawing fresh noise on every run (the code before c23185c) would give away, with every
    monthly cell shown (no cell minimum: withheld cells would hide most draws)."""
    every_cell = dataclasses.replace(default_policy, cell_minimum=0)
    score, identical = A.dp_averaging(months[0], RERUNS, seeded=False, base=every_cell)
    assert not identical
    assert score.exact > score.baseline + A.TOLERANCE, measured(score)


@pytest.mark.slow
def test_the_old_code_fresh_noise_and_suppression_is_averaged_away(months, old_policy):
    """The code before c23185c: fresh noise, then suppression and rounding. Withheld values hide
    most of each draw, so it takes the benchmark's twenty re-runs (ten gain under a point)."""
    score, _ = A.dp_averaging(months[0], 20, seeded=False, base=old_policy)
    assert score.exact > score.baseline + A.TOLERANCE, measured(score)
