"""Shared, session-wide inputs of the attack tests: the bundled South Wales police months with
synthetic ED assaults, and their releases under the agreement's policy and suppress_and_round.
Sizes keep the folder to about a minute on two cores; `make bench-privacy` runs the same attacks
at full size (benchmarks/privacy.py)."""

from __future__ import annotations

import pytest

from benchmarks import attacks as A

ED_ROWS = 1000  # synthetic ED assaults a month: the benchmark's size city
TRIALS = 30  # one-row corrections of each kind published without the ledger (the benchmark runs 300)
# One-row corrections of each kind published as production publishes them, against what it kept
# of the first release: one build_tables call each, about a second here. Thirty give the count's
# gain over guessing within about +-10 points; the benchmark runs 200.
LEDGER_TRIALS = 30
RERUNS = 10  # re-runs averaged in the differential-privacy attack (the benchmark runs 20)


@pytest.fixture(scope="session")
def months() -> list[A.Month]:
    found = A.police_uk_months()
    if not found:
        pytest.skip("no bundled data.police.uk South Wales files")
    return [A.make_month(m, ED_ROWS) for m in found]


@pytest.fixture(scope="session")
def default_policy():
    return A.default_policy()


@pytest.fixture(scope="session")
def old_policy(default_policy):
    return A.suppress_and_round(default_policy)


@pytest.fixture(scope="session")
def cell_key_releases(months, default_policy) -> list[A.Release]:
    return A.monthly_releases(months, default_policy)


@pytest.fixture(scope="session")
def suppressed_releases(months, old_policy) -> list[A.Release]:
    return A.monthly_releases(months, old_policy)


def measured(score: A.Score) -> str:
    return (
        f"{score.attack}, {score.setting}: exact {score.exact:.1%} (face value "
        f"{score.exact_published if score.exact_published is None else f'{score.exact_published:.1%}'}, Bayes "
        f"{score.exact_bayes:.1%}), pinned {score.pinned:.1%}, narrowed {score.narrowed:.1%}, guess "
        f"{score.baseline:.1%}, {score.attacked} counts; fails: {'; '.join(A.criterion_failures(score)) or 'nothing'}"
    )
