"""Reproducible discrete Laplace noise and the per-agreement, per-month privacy budget."""

import numpy as np
import pytest
from scipy import stats

from anonymise.differential_privacy import (
    BudgetExceeded,
    check_budget,
    discrete_laplace,
    epsilon_spent,
    noise_seed,
)

KEY = bytes(range(32))
DIGEST_A = "a" * 64
DIGEST_B = "b" * 64
AGREEMENT = "cardiff-violence-prevention"


def release(content, epsilon, month="2026-10", agreement=AGREEMENT, version=1):
    return {
        "kind": "dp_release",
        "details": {
            "agreement_id": agreement,
            "agreement_version": version,
            "month": month,
            "content_sha256": content,
            "epsilon": epsilon,
        },
    }


# --- the seed and the noise -------------------------------------------------------------------


def test_seed_is_keyed_hmac_of_the_content():
    seed = noise_seed(KEY, DIGEST_A)
    assert len(seed) == 32 and seed == noise_seed(KEY, DIGEST_A)
    assert seed != noise_seed(KEY, DIGEST_B)
    assert seed != noise_seed(bytes(32), DIGEST_A)  # without the key nobody can regenerate it
    assert seed != noise_seed(KEY, DIGEST_A, label="police_count")
    with pytest.raises(ValueError, match="empty"):
        noise_seed(b"", DIGEST_A)


def test_same_seed_and_counts_give_byte_identical_output():
    counts = np.arange(500) % 12
    first = discrete_laplace(counts, 1.0, noise_seed(KEY, DIGEST_A))
    second = discrete_laplace(counts, 1.0, noise_seed(KEY, DIGEST_A))
    assert first.dtype == np.int64
    assert first.tobytes() == second.tobytes()
    assert (first >= 0).all()
    assert (first != counts).any()  # noise was actually added


def test_different_content_gives_different_noise():
    counts = np.full(500, 20)
    a = discrete_laplace(counts, 1.0, noise_seed(KEY, DIGEST_A))
    b = discrete_laplace(counts, 1.0, noise_seed(KEY, DIGEST_B))
    assert (a != b).mean() > 0.3


def test_different_epsilon_gives_independent_noise_for_the_same_content():
    # Otherwise two releases of one month at different epsilons would share their randomness.
    counts = np.full(2000, 50)
    seed = noise_seed(KEY, DIGEST_A)
    at_1 = discrete_laplace(counts, 1.0, seed) - 50
    at_2 = discrete_laplace(counts, 2.0, seed) - 50
    assert abs(np.corrcoef(at_1, at_2)[0, 1]) < 0.1


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_noise_follows_the_discrete_laplace_distribution(scale):
    # Counts far from zero so the floor never bites; the noise is then the difference.
    noise = discrete_laplace(np.full(200_000, 1000), scale, noise_seed(KEY, DIGEST_A)) - 1000
    a = np.exp(-1 / scale)
    limit = int(8 * scale)  # one bin per value in -limit..limit, one for the two tails
    ks = np.arange(-limit, limit + 1)
    pmf = (1 - a) / (1 + a) * a ** np.abs(ks)  # P(X=k), proportional to exp(-|k|/scale)
    observed = np.array([(noise == k).sum() for k in ks] + [(np.abs(noise) > limit).sum()])
    expected = np.append(pmf, 1 - pmf.sum()) * noise.size
    assert expected.min() >= 5  # enough per bin for the chi-square approximation
    assert stats.chisquare(observed, expected).pvalue > 0.001
    assert noise.var() == pytest.approx(2 * a / (1 - a) ** 2, rel=0.03)


def test_noisy_counts_are_floored_at_zero():
    out = discrete_laplace(np.zeros(1000, dtype=int), 2.0, noise_seed(KEY, DIGEST_A))
    assert out.min() == 0 and out.max() > 0


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        discrete_laplace(np.array([3]), 0.0, noise_seed(KEY, DIGEST_A))


# --- the attack this module exists for -------------------------------------------------------


def test_averaging_twenty_reruns_of_an_unchanged_month_gains_nothing():
    true = np.random.default_rng(7).integers(1, 8, 2000)  # the small counts suppression hides
    scale = 1.0

    def recovered(releases):
        # The intruder's estimate: the rounded average of everything published for the month.
        return (np.rint(np.mean(releases, axis=0)) == true).mean()

    seed = noise_seed(KEY, DIGEST_A)
    single = discrete_laplace(true, scale, seed)
    seeded_reruns = [discrete_laplace(true, scale, noise_seed(KEY, DIGEST_A)) for _ in range(20)]
    # Seeded: every re-run is the same release, so the average is the single release.
    assert all(r.tobytes() == single.tobytes() for r in seeded_reruns)
    assert recovered(seeded_reruns) == recovered([single])
    assert recovered([single]) < 0.55

    # Fresh noise per run (what dp_noised does today): averaging defeats the protection.
    fresh_reruns = [discrete_laplace(true, scale, noise_seed(KEY, f"run-{i}")) for i in range(20)]
    assert recovered(fresh_reruns) > 0.85
    assert recovered(fresh_reruns) > recovered([single]) + 0.3


# --- the budget ledger -----------------------------------------------------------------------


def test_ledger_sums_distinct_content_only():
    entries = [
        release(DIGEST_A, 1.0),
        release(DIGEST_A, 1.0),  # a re-run: byte-identical, spends nothing new
        release(DIGEST_B, 0.5, version=2),  # versions of one agreement share the budget
        release(DIGEST_A, 1.0, month="2026-11"),
        release(DIGEST_A, 1.0, agreement="other-agreement"),
        {"kind": "publish", "details": {"month": "2026-10"}},
    ]
    assert epsilon_spent(entries, AGREEMENT, "2026-10") == pytest.approx(1.5)
    assert epsilon_spent(entries, AGREEMENT, "2026-11") == pytest.approx(1.0)
    assert epsilon_spent(entries, AGREEMENT, "2026-12") == 0.0


def test_ledger_reads_audit_entry_objects():
    from sharing_agreements.audit import Entry

    entry = release(DIGEST_A, 0.7)
    entries = [Entry(1, "2026-11-01T00:00:00Z", entry["kind"], entry["details"], "0" * 64, "1" * 64)]
    assert epsilon_spent(entries, AGREEMENT, "2026-10") == pytest.approx(0.7)


def test_new_content_within_budget_spends_its_epsilon():
    assert check_budget([], AGREEMENT, "2026-10", DIGEST_A, 1.0, budget=2.0) == 1.0
    entries = [release(DIGEST_A, 1.0)]
    assert check_budget(entries, AGREEMENT, "2026-10", DIGEST_B, 1.0, budget=2.0) == 1.0


def test_rerun_of_same_content_spends_nothing_even_at_the_budget():
    entries = [release(DIGEST_A, 1.0), release(DIGEST_B, 1.0)]
    assert check_budget(entries, AGREEMENT, "2026-10", DIGEST_B, 1.0, budget=2.0) == 0.0


def test_budget_met_exactly_despite_float_rounding():
    entries = [release("c" * 64, 0.1), release("d" * 64, 0.2)]
    assert check_budget(entries, AGREEMENT, "2026-10", DIGEST_A, 0.3, budget=0.6) == 0.3


def test_release_over_budget_is_refused_in_words_a_board_understands():
    entries = [release(DIGEST_A, 1.0), release("c" * 64, 1.0, version=2)]
    with pytest.raises(BudgetExceeded) as refused:
        check_budget(entries, AGREEMENT, "2026-10", DIGEST_B, 1.0, budget=2.0)
    message = str(refused.value)
    assert isinstance(refused.value, ValueError)
    assert message.startswith("Not published: releasing 2026-10 again under cardiff-violence-prevention")
    assert "epsilon 3 of the 2 the agreement allows for a month" in message
    assert "2 already spent on 2 earlier releases" in message
    assert "ask the board" in message
    assert KEY.hex() not in message


def test_first_release_larger_than_the_budget_is_refused():
    with pytest.raises(BudgetExceeded, match=r"releasing 2026-10 under .* \(nothing spent yet\)"):
        check_budget([], AGREEMENT, "2026-10", DIGEST_A, 3.0, budget=2.0)


def test_same_content_at_a_new_epsilon_is_a_new_release():
    # The noise differs (see test_different_epsilon_...), so it is not a free re-run.
    entries = [release(DIGEST_A, 1.0)]
    assert check_budget(entries, AGREEMENT, "2026-10", DIGEST_A, 0.5, budget=2.0) == 0.5
    with pytest.raises(BudgetExceeded):
        check_budget(entries, AGREEMENT, "2026-10", DIGEST_A, 1.5, budget=2.0)
