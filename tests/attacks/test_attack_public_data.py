"""Attack 1: subtracting the exact public police counts (data.police.uk, South Wales) from the
published combined counts, to recover each cell's ED count."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import attacks as A

from .conftest import measured


@pytest.fixture(scope="module")
def cell_key_score(months, cell_key_releases):
    return A.public_subtraction(cell_key_releases, [m.police for m in months], "cell_key")


def test_the_intruders_open_data_count_is_the_published_public_part(months, cell_key_releases):
    for month, release in zip(months, cell_key_releases):
        combined = release.figure("hotspot_cells", "combined", month.month)
        counted = A.open_data_counts(month.police).reindex(combined.index).fillna(0).astype(int)
        assert (combined["public"] == counted).all()


def test_subtraction_leaves_the_ed_figure_as_published_and_pins_nothing(cell_key_score):
    # Public records are counted apart: combined - public is the ED figure itself (same records,
    # same perturbation), never a bare count.
    assert cell_key_score.extra["agree"] == 1.0
    assert cell_key_score.pinned == 0.0
    assert cell_key_score.exact_published < cell_key_score.baseline


def test_cell_key_subtraction_pins_nothing_and_is_no_better_than_guessing(cell_key_score):
    assert not A.criterion_failures(cell_key_score), measured(cell_key_score)


def test_without_the_public_split_the_old_rule_gives_counts_away(months, old_policy, cell_key_score):
    """The same attack on suppress_and_round with police counts protected together with the ED
    ones (the code before c23185c): the rounded combined figure minus the exact police count
    narrows the withheld ED count and sometimes pins it."""
    releases = A.monthly_releases(months, old_policy, public=())
    old = A.public_subtraction(
        releases, [m.police for m in months], "suppress_and_round, police not public", public_split=False
    )
    assert old.pinned > 0.005, measured(old)  # fails the criterion
    assert old.exact > cell_key_score.exact, f"{measured(old)}; {measured(cell_key_score)}"


def test_suppress_and_round_with_the_public_split_withholds_every_small_ed_count(months, suppressed_releases):
    score = A.public_subtraction(suppressed_releases, [m.police for m in months], "suppress_and_round")
    assert score.narrowed == 0.0 and score.exact == pytest.approx(score.baseline)
    assert np.isclose(score.mean_feasible, 7.0)
