"""Attack 2: one-row corrections. A month is published, then corrected by one ED row (removed or
added) and published again; the intruder compares the two releases, table by table. Production
publishes a corrected month against the ledger of its earlier release (warehouse.corrections)."""

from __future__ import annotations

import pytest

from benchmarks import attacks as A

from .conftest import LEDGER_TRIALS, TRIALS, measured


@pytest.fixture(scope="module")
def production(months, default_policy):
    """As production publishes corrections: one build_tables call each, with the ledger."""
    return A.one_row_corrections(months[0], default_policy, LEDGER_TRIALS)


@pytest.fixture(scope="module")
def no_ledger(months, default_policy):
    """Each corrected version published afresh, as before the ledger."""
    return A.one_row_corrections(months[0], default_policy, TRIALS, ledger=False)


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
