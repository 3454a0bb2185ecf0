"""Attack 2: one-row corrections. A month is published, then corrected by one ED row (removed or
added) and published again; the intruder compares the two releases, table by table. Production
publishes a corrected month against the ledger of its earlier release (warehouse.corrections)."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import attacks as A

from .conftest import LEDGER_TRIALS, TRIALS, measured


@pytest.fixture(scope="module")
def production(months, default_policy):
    """As production publishes corrections: one build_tables call each, with the ledger."""
    return A.one_row_corrections(months[0], default_policy, LEDGER_TRIALS)


@pytest.fixture(scope="module")
def no_ledger(months, default_policy):
    """Each corrected version published afresh, as before the ledger, every monthly cell shown (no
    cell minimum: the attack's teeth are shown on figures the intruder can see)."""
    every_cell = dataclasses.replace(default_policy, cell_minimum=0)
    return A.one_row_corrections(months[0], every_cell, TRIALS, ledger=False)


def test_releases_built_together_equal_releases_built_alone(months, default_policy):
    month = months[0]
    versions = [month.joint, month.joint.drop(index=month.joint.index[-1]).reset_index(drop=True)]
    together = A.publish_copies(versions, default_policy, police=[month.police])
    for version, batched in zip(versions, together):
        alone = A.publish_release(version, default_policy, police=[month.police])
        kept = alone.figures[~alone.figures["table"].isin(A.BATCH_LEFT_OUT)].reset_index(drop=True)
        assert kept[["table", "key", "column", "protected", "public"]].equals(
            batched.figures[["table", "key", "column", "protected", "public"]]
        )
        assert (kept["published"].fillna(-1) == batched.figures["published"].fillna(-1)).all()


@pytest.mark.slow
def test_a_corrected_release_publishes_the_first_release_again(production):
    for mode, result in production.items():
        assert result.trials == LEDGER_TRIALS
        assert result.visible == 0.0, mode


@pytest.mark.slow
def test_with_the_ledger_the_corrected_release_adds_nothing_to_the_first(production):
    for mode, result in production.items():
        assert result.pin.exact_bayes == result.first_only.exact_bayes, mode
        assert result.pin.pinned == result.first_only.pinned, mode


@pytest.mark.slow
@pytest.mark.parametrize("attribute", list(A.ATTRIBUTES))
def test_a_one_row_correction_names_no_attribute_better_than_guessing(production, attribute):
    for mode, result in production.items():
        assert result.learned[attribute] - result.baseline[attribute] <= A.TOLERANCE, (
            mode,
            result.learned,
            result.baseline,
        )


def test_without_the_ledger_the_same_attack_beats_the_criterion(no_ledger):
    """The attack has teeth: a correction published afresh gives the changed figures a fresh cell
    key, so the intruder holds two noisy views of n and n - 1, and the figures that moved name
    the changed row's cell, hour of the week and method."""
    for mode, result in no_ledger.items():
        pin = result.pin
        assert pin.exact - pin.baseline > A.TOLERANCE, measured(pin)
        for attribute in A.ATTRIBUTES:
            assert result.learned[attribute] - result.baseline[attribute] > A.TOLERANCE, (
                mode,
                result.learned,
                result.baseline,
            )
        assert result.visible >= 0.9, mode


def test_an_intruder_who_knows_one_incident_learns_its_cells_count_no_better_than_guessing(months, default_policy):
    """Every ED row of every month, and as many new ones: all a one-row correction tells, since with
    the ledger it publishes the first release again. The agreement's cell minimum withholds the
    small counts whose noise would tell the intruder the others' number."""
    assert default_policy.cell_minimum > 0
    for month in [months, *([m] for m in months)]:
        found = A.known_incident(month, default_policy)
        for mode in ("remove", "add"):
            cell = found["cell", mode]
            assert cell.attacked > 300 and cell.pinned == 0, measured(cell)
            assert cell.exact - cell.baseline <= A.TOLERANCE, measured(cell)
            # An hour of the week is a figure of the whole area, not a place: it keeps its small
            # counts, and someone who knows one incident's hour reads the others' number off its
            # noise as the cell's could be read without the minimum (the README gives the figure).
            assert found["hour of week", mode].pinned == 0


def test_without_the_cell_minimum_the_same_intruder_beats_the_criterion(months, default_policy):
    found = A.known_incident(months, dataclasses.replace(default_policy, cell_minimum=0))
    assert found["cell", "add"].exact - found["cell", "add"].baseline > A.TOLERANCE, measured(found["cell", "add"])
    assert found["cell", "remove"].exact > found["cell", "remove"].baseline, measured(found["cell", "remove"])
