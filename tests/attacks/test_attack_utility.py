"""Utility of the default agreement on the bundled real months: hotspots still show."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from anonymise.disclosure import protect_count
from benchmarks import attacks as A


def test_the_default_shows_more_incidents_and_hotspots_than_suppression(
    months, default_policy, old_policy, cell_key_releases, suppressed_releases
):
    utility = A.utility(cell_key_releases, "cell_key")
    old = A.utility(suppressed_releases, "suppress_and_round")
    # The suppression the issue found: police open data protected with the ED counts, not public.
    found = A.utility(A.monthly_releases(months, old_policy, public=()), "suppress_and_round, police not public")
    assert utility.visible_share > old.visible_share and utility.visible_share > found.visible_share, (utility, old)
    assert utility.recall_3_months >= 0.9, utility
    assert utility.recall_3_months > old.recall_3_months and utility.recall_monthly > old.recall_monthly, (utility, old)
    assert utility.recall_3_months > found.recall_3_months, (utility, found)


def test_the_cell_minimum_costs_the_small_monthly_cells_only(months, default_policy, cell_key_releases):
    """Without the agreement's cell minimum nearly every incident is in a cell showing a combined
    count; with it the small cells show their police counts only, and the three-month windows,
    whose figures add months up, still find the hotspots."""
    utility = A.utility(cell_key_releases, "cell_key")
    every = A.utility(A.monthly_releases(months, dataclasses.replace(default_policy, cell_minimum=0)), "before")
    assert every.usable_share > 0.9 > utility.usable_share, (utility, every)
    assert utility.visible_share < every.visible_share
    assert utility.recall_3_months == every.recall_3_months  # three months add up past the minimum


def test_top_recall_counts_ties_fairly():
    truth = pd.Series([10, 9, 8, 1], index=list("abcd"))
    assert A.top_recall(truth, truth, k=2) == 1.0
    assert A.top_recall(truth, pd.Series([5, 5, 5, 5], index=list("abcd")), k=2) == pytest.approx(0.5)


def test_the_intruders_model_matches_the_production_rules(default_policy, old_policy):
    counts = np.arange(0, 60)
    expected = [
        np.nan if protect_count(int(c), old_policy) is None else protect_count(int(c), old_policy) for c in counts
    ]
    np.testing.assert_array_equal(A.suppressed_and_rounded(counts, old_policy), np.array(expected, dtype=float))
    law = A.Law(default_policy)
    for published in (0.0, 1.0, 5.0, 9.0):
        np.testing.assert_allclose(law.joint_lik([published]), law.lik(published, np.arange(1, 8)))
    # Every count of the perturbation table moves by at most max_deviation.
    assert law.lik(20.0, np.array([15, 16, 24, 25])).tolist()[1:3] != [0, 0]
    assert law.lik(20.0, np.array([15, 25])).tolist() == [0.0, 0.0]


@pytest.mark.slow
def test_the_joint_columns_and_hotspot_areas_are_the_pipelines():
    from warehouse.joint import joint_columns
    from warehouse.release import hotspot_areas

    assert A.joint_columns() == joint_columns()
    assert A.hotspot_areas() == hotspot_areas(A.agreement())
