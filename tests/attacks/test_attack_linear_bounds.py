"""Attack 3: linear bounds. A cell's ED count from its own figure and every published sum over
it (coarser areas and rolling windows of hotspot_areas, the month's located and compared ED),
with the earlier months' releases in hand."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import attacks as A

from .conftest import measured


@pytest.fixture(scope="module")
def cell_key_score(cell_key_releases):
    return A.linear_bounds(cell_key_releases, "cell_key")


def test_the_sums_add_up_and_are_used(cell_key_score):
    # _sums asserts that each hotspot_areas figure is the sum of the cells it is built from.
    assert cell_key_score.extra["sums"] > 3
    assert cell_key_score.pinned == 0.0
    # the classic "total minus the other cells" is right far less often than guessing
    assert cell_key_score.exact_published < cell_key_score.baseline / 2


def test_cell_key_linear_bounds_pin_nothing_and_are_no_better_than_guessing(cell_key_score):
    assert not A.criterion_failures(cell_key_score), measured(cell_key_score)
    # The quiet hotspot_areas rows withheld by the area minimum are in the attack, as bounds.
    assert any(kind.startswith("hotspot_areas") for kind in cell_key_score.extra["kinds"])


def test_without_the_area_minimum_the_sums_of_hotspot_areas_beat_the_criterion(months, default_policy):
    """The attack has teeth: every coarser area and longer window shown, their sums over a small
    cell are enough noisy views of it to narrow its count past the criterion."""
    every_area = dataclasses.replace(default_policy, area_minimum=0, cell_minimum=0)  # every monthly cell shown too
    score = A.linear_bounds(A.monthly_releases(months, every_area), "cell_key, every area shown")
    assert score.exact - score.baseline > A.TOLERANCE, measured(score)


def test_the_same_attack_narrows_suppressed_counts(suppressed_releases):
    """The attack has teeth: suppress_and_round publishes rounded sums beside withheld cells, and
    the sums narrow most withheld counts and pin a few (failing the criterion)."""
    score = A.linear_bounds(suppressed_releases, "suppress_and_round")
    assert score.narrowed > 0.5, measured(score)
    assert score.pinned > 0.0, measured(score)


def test_the_same_attack_recovers_counts_under_weak_noise(months, default_policy, cell_key_score):
    weak = dataclasses.replace(default_policy, max_deviation=1, variance=0.5, cell_minimum=0)
    score = A.linear_bounds(A.monthly_releases(months, weak), "cell_key, max_deviation 1")
    assert score.exact > score.baseline + A.TOLERANCE, measured(score)
    assert score.exact > cell_key_score.exact
