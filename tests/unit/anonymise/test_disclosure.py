"""Statistical disclosure control of every published count: the cell-key method (the default) and
suppression and rounding (for agreements that ask for it), on hand-worked tables.

`protect` takes each count column with two more beside it: `<count>__key`, the summed record keys
of the figure's protected records (its cell key), and `<count>__public`, its records from public
sources, which are published exactly and added to the protected part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymise.cellkey import KEY_MODULUS, perturb, perturbation_table
from anonymise.disclosure import (
    DisclosurePolicy,
    protect,
    protect_count,
    rows_showing_something,
    withhold_small_counts,
)

DEFAULT = DisclosurePolicy()  # the cell-key method, at most 4 away, variance 2
SUPPRESS_AND_ROUND = DisclosurePolicy(method="suppress_and_round")  # threshold 7, base 5
NOISE_KEY = bytes(range(32))
DIGEST_A, DIGEST_B = "a" * 64, "b" * 64


def figures(
    table: dict | pd.DataFrame, counts: list[str], keys: dict | None = None, public: dict | None = None, seed: int = 0
) -> pd.DataFrame:
    """`table` with the key and public columns protect expects beside each count: the keys given
    (else uniform random ones, as summed record keys are) and the public counts given (else 0)."""
    out = pd.DataFrame(table).copy()
    rng = np.random.default_rng(seed)
    for column in counts:
        given = (keys or {}).get(column)
        out[f"{column}__key"] = given if given is not None else rng.integers(0, KEY_MODULUS, len(out), dtype=np.int64)
        out[f"{column}__public"] = (public or {}).get(column, 0)
    return out


# --- suppression and rounding ---------------------------------------------------------------


@pytest.mark.parametrize(
    "count, expected",
    [
        (0, 0),
        (1, None),
        (2, None),
        (5, None),
        (7, None),
        (8, 10),  # 8 is nearer 10 than 5
        (12, 10),  # 12 is nearer 10 than 15
        (13, 15),
        (17, 15),
        (18, 20),
        (100, 100),
        (102, 100),
        (103, 105),
    ],
)
def test_protect_count_suppress_and_round(count, expected):
    assert protect_count(count, SUPPRESS_AND_ROUND) == expected


def test_default_policy_is_the_cell_key_method_with_seven_and_five_kept_for_suppression():
    assert DEFAULT.method == "cell_key"
    assert (DEFAULT.max_deviation, DEFAULT.variance) == (4, 2.0)
    assert DEFAULT.largest_withheld() == 0 and DEFAULT.smallest_shown() == 1
    assert DEFAULT.suppression_threshold == 7 and DEFAULT.rounding_base == 5
    assert SUPPRESS_AND_ROUND.largest_withheld() == 7 and SUPPRESS_AND_ROUND.smallest_shown() == 10


def test_hand_worked_table_suppress_and_round():
    table = figures(
        {
            "place": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
            "ed": [0, 1, 7, 8, 12, 13, 100, 3, 6],
            "police": [100, 0, 9, 2, 7, 11, 22, 23, 1],
        },
        ["ed", "police"],
    )
    before = table.copy()
    out = protect(table, ["ed", "police"], SUPPRESS_AND_ROUND)

    assert out["place"].tolist() == table["place"].tolist()
    assert out["ed"].tolist() == [0, pd.NA, pd.NA, 10, 10, 15, 100, pd.NA, pd.NA]
    assert out["ed_suppressed"].tolist() == [False, True, True, False, False, False, False, True, True]
    assert out["police"].tolist() == [100, 0, 10, pd.NA, pd.NA, 10, 20, 25, pd.NA]
    assert out["police_suppressed"].tolist() == [False, False, False, True, True, False, False, False, True]
    # Suppressed counts are NULL, never a silent zero.
    assert out.loc[out["ed_suppressed"], "ed"].isna().all()
    assert (out.loc[~out["ed_suppressed"], "ed"].notna()).all()
    # The input table is not modified, and neither keys nor public parts are published.
    pd.testing.assert_frame_equal(table, before)
    assert "ed_suppressed" not in table
    assert set(out.columns) == {"place", "ed", "police", "ed_suppressed", "police_suppressed"}


def test_suppress_and_round_adds_the_public_part_exactly():
    table = figures({"n": [10, 0, 3, 13]}, ["n"], public={"n": [3, 4, 5, 0]})
    out = protect(table, ["n"], SUPPRESS_AND_ROUND)
    # 10 rounds to 10, then 3 public records: 13. Only public records (4): published as they are.
    # 3 protected records are withheld whatever the public part. 13 rounds to 15.
    assert out["n"].tolist() == [13, 4, pd.NA, 15]
    assert out["n_suppressed"].tolist() == [False, False, True, False]


def test_zero_is_published_and_not_flagged():
    for policy in (DEFAULT, SUPPRESS_AND_ROUND):
        out = protect(figures({"n": [0]}, ["n"]), ["n"], policy)
        assert out["n"].iloc[0] == 0
        assert not pd.isna(out["n"].iloc[0])
        assert not bool(out["n_suppressed"].iloc[0])


def test_flag_column_for_every_count_column_and_only_those():
    table = figures({"area": ["x", "y"], "a": [1, 20], "b": [9, 0], "c": [4, 4]}, ["a", "b", "c"])
    for policy in (DEFAULT, SUPPRESS_AND_ROUND):
        out = protect(table, ["a", "b", "c"], policy)
        assert set(out.columns) == {"area", "a", "b", "c", "a_suppressed", "b_suppressed", "c_suppressed"}
        for column in ("a", "b", "c"):
            assert out[f"{column}_suppressed"].dtype == bool
    out = protect(table, ["a", "b", "c"], SUPPRESS_AND_ROUND)
    assert out["c_suppressed"].tolist() == [True, True]
    assert out["b_suppressed"].tolist() == [False, False]


@pytest.mark.parametrize(
    "count, expected",
    [
        (0, 0),
        (1, None),
        (5, None),
        (10, None),
        (15, 20),
        (16, 20),
        (24, 20),
        (25, 30),
        (100, 100),
        (104, 100),
        (105, 110),
    ],
)
def test_custom_threshold_ten_base_ten(count, expected):
    policy = DisclosurePolicy(method="suppress_and_round", suppression_threshold=10, rounding_base=10)
    assert protect_count(count, policy) == expected


def test_custom_policy_on_a_table():
    policy = DisclosurePolicy(method="suppress_and_round", suppression_threshold=10, rounding_base=10)
    out = protect(figures({"n": [0, 3, 10, 15, 26, 94]}, ["n"]), ["n"], policy)
    assert out["n"].tolist() == [0, pd.NA, pd.NA, 20, 30, 90]
    assert out["n_suppressed"].tolist() == [False, True, True, False, False, False]


@pytest.mark.parametrize(
    "threshold, base",
    [(7, 5), (10, 5), (10, 10), (5, 10), (3, 2)],
    ids=lambda v: str(v),
)
def test_no_published_value_between_one_and_threshold(threshold, base):
    # Module docstring: "a count from 1 to the threshold is withheld, the rest rounded to the base".
    policy = DisclosurePolicy(method="suppress_and_round", suppression_threshold=threshold, rounding_base=base)
    counts = list(range(0, 500))
    out = protect(figures({"n": counts}, ["n"]), ["n"], policy)
    published = out["n"].dropna().astype(int)
    leaking = {c: v for c, v in zip(counts, out["n"]) if not pd.isna(v) and 1 <= v <= threshold}
    assert leaking == {}, f"counts published at or below the threshold: {leaking}"
    assert (published % base == 0).all()
    assert out["n_suppressed"].sum() == threshold


# --- the cell-key method --------------------------------------------------------------------


def _cell_key(counts, keys=None, public=None, policy=DEFAULT, seed=0) -> pd.DataFrame:
    table = figures(
        {"n": counts},
        ["n"],
        keys={"n": keys} if keys is not None else None,
        public={"n": public} if public is not None else None,
        seed=seed,
    )
    return protect(table, ["n"], policy)


def test_the_same_counts_and_keys_give_identical_output():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 60, 2000)
    keys = rng.integers(0, KEY_MODULUS, 2000, dtype=np.int64)
    first, second = _cell_key(counts, keys), _cell_key(counts, keys)
    pd.testing.assert_frame_equal(first, second)
    # A figure's value depends on its own count and key only: the same figure in another table
    # (here, the rows in another order, among other rows) is published alike.
    order = rng.permutation(2000)[:700]
    elsewhere = _cell_key(counts[order], keys[order])
    assert elsewhere["n"].tolist() == first["n"].iloc[order].tolist()
    # And the key matters: other keys move the same counts differently.
    other = _cell_key(counts, rng.integers(0, KEY_MODULUS, 2000, dtype=np.int64))
    assert (other["n"] != first["n"]).mean() > 0.5


def test_cell_key_withholds_nothing_and_stays_within_the_maximum_deviation():
    counts = np.repeat(np.arange(0, 80), 200)
    out = _cell_key(counts, seed=2)
    shown = out["n"].astype(int).to_numpy()
    assert out["n"].notna().all() and not out["n_suppressed"].any()
    assert np.abs(shown - counts).max() == 4  # reached, never passed
    assert (shown >= 0).all()  # never negative
    assert (shown[counts == 0] == 0).all()  # a true zero stays zero
    assert ((shown != counts) & (counts > 0)).mean() > 0.6  # and most counts do move
    # Small counts are published, perturbed: a true 1 is sometimes shown as 0, sometimes as up to 5.
    assert set(shown[counts == 1]) == {0, 1, 2, 3, 4, 5}


@pytest.mark.parametrize("max_deviation, variance", [(4, 3.0), (2, 1.0), (5, 4.0), (3, 0.5)])
def test_other_parameters_are_kept_too(max_deviation, variance):
    policy = DisclosurePolicy(max_deviation=max_deviation, variance=variance)
    counts = np.repeat(np.arange(0, 30), 300)
    shown = _cell_key(counts, policy=policy, seed=3)["n"].astype(int).to_numpy()
    assert np.abs(shown - counts).max() == max_deviation and (shown >= 0).all() and (shown[counts == 0] == 0).all()


def test_the_public_part_is_added_exactly():
    rng = np.random.default_rng(4)
    counts = rng.integers(0, 40, 3000)
    keys = rng.integers(0, KEY_MODULUS, 3000, dtype=np.int64)
    public = rng.integers(0, 25, 3000)
    alone = _cell_key(counts, keys)["n"].astype(int).to_numpy()
    with_public = _cell_key(counts, keys, public)["n"].astype(int).to_numpy()
    assert (with_public - alone == public).all()
    # Only public records: published exactly, whatever their number (police open data).
    only_public = _cell_key(np.zeros(3000, dtype=int), keys, public)["n"].astype(int).to_numpy()
    assert (only_public == public).all()


def test_protect_uses_the_perturbation_table_of_the_policy():
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 30, 1000)
    keys = rng.integers(0, KEY_MODULUS, 1000, dtype=np.int64)
    expected = perturb(counts, keys, perturbation_table(DEFAULT.max_deviation, DEFAULT.variance))
    assert (_cell_key(counts, keys)["n"].astype(int).to_numpy() == expected).all()
    # Keys are taken modulo 2^29, as a sum of record keys would be.
    assert (_cell_key(counts, keys + 3 * KEY_MODULUS)["n"].astype(int).to_numpy() == expected).all()


@pytest.mark.parametrize("max_deviation, variance", [(4, 3.0), (2, 1.0), (5, 4.0), (3, 2.0), (6, 10.0)])
def test_perturbation_table_rows_are_distributions_with_mean_zero_and_the_declared_variance(max_deviation, variance):
    table = perturbation_table(max_deviation, variance)
    assert table.cumulative.shape == (max_deviation + 1, 2 * max_deviation + 1)
    assert table.probabilities(0) == {0: 1.0}
    for count in range(1, 3 * max_deviation):
        row = table.probabilities(count)
        values, p = np.array(list(row)), np.array(list(row.values()))
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        assert (p > 0).all() and values.min() >= -min(count, max_deviation) and values.max() <= max_deviation
        mean = (values * p).sum()
        spread = (values**2 * p).sum() - mean**2
        assert mean == pytest.approx(0.0, abs=1e-4), count
        if count >= max_deviation:
            assert spread == pytest.approx(variance, abs=1e-4), count
            assert row == table.probabilities(max_deviation)  # counts of D and above share one row
            assert values.min() == -max_deviation  # symmetric support
        else:
            # A small count cannot move far down; it takes as much variance as it can, up to the declared.
            assert 0 < spread <= variance + 1e-4, count
    assert table.cumulative[:, -1] == pytest.approx(np.ones(max_deviation + 1))


@pytest.mark.parametrize("max_deviation, variance", [(0, 1.0), (4, 0.0), (4, 16.0), (2, 5.0)])
def test_a_perturbation_table_that_cannot_be_built_is_refused(max_deviation, variance):
    with pytest.raises(ValueError):
        perturbation_table(max_deviation, variance)


def test_perturb_over_uniform_keys_follows_the_table():
    table = perturbation_table(4, 3.0)
    rng = np.random.default_rng(6)
    trials = 100_000
    for count in (1, 2, 3, 4, 9, 250):
        keys = rng.integers(0, KEY_MODULUS, trials, dtype=np.int64)
        moved = perturb(np.full(trials, count), keys, table) - count
        found = dict(zip(*np.unique(moved, return_counts=True)))
        expected = table.probabilities(count)
        assert set(found) <= set(expected), count
        for value, p in expected.items():
            # Within 4.5 standard errors of the table's probability (and never beyond 0.006).
            tolerance = min(4.5 * np.sqrt(p * (1 - p) / trials), 0.006)
            assert abs(found.get(value, 0) / trials - p) <= tolerance, (count, value)
    # Evenly spread keys land in each interval in exact proportion to its probability.
    even = np.arange(0, KEY_MODULUS, KEY_MODULUS // 10_000, dtype=np.int64)
    moved = perturb(np.full(even.size, 20), even, table) - 20
    for value, p in table.probabilities(20).items():
        assert abs((moved == value).mean() - p) <= 2 / even.size


# --- differential privacy (optional, seeded) -------------------------------------------------


def _dp(
    content: str = DIGEST_A, method: str = "cell_key", key: bytes = NOISE_KEY, scale: float = 1.0
) -> DisclosurePolicy:
    return DisclosurePolicy(method=method, laplace_scale=scale, noise_key=key, content_sha256=content)


DP_TABLE = figures({"n": [0, 3, 9, 40, 200] * 200, "m": [0, 3, 9, 40, 200] * 200}, ["n", "m"], seed=7)


@pytest.mark.parametrize("method", ["cell_key", "suppress_and_round"])
def test_dp_noise_is_seeded_so_the_same_content_gives_the_same_output(method):
    first = protect(DP_TABLE, ["n", "m"], _dp(method=method), label="hotspot_cells")
    again = protect(DP_TABLE, ["n", "m"], _dp(method=method), label="hotspot_cells")
    pd.testing.assert_frame_equal(first, again)
    without = protect(DP_TABLE, ["n", "m"], DisclosurePolicy(method=method))
    assert not first["n"].equals(without["n"])  # noise changed something


@pytest.mark.parametrize("method", ["cell_key", "suppress_and_round"])
def test_dp_noise_differs_with_the_content_the_table_and_the_column(method):
    first = protect(DP_TABLE, ["n", "m"], _dp(DIGEST_A, method), label="hotspot_cells")
    changed = protect(DP_TABLE, ["n", "m"], _dp(DIGEST_B, method), label="hotspot_cells")
    other_table = protect(DP_TABLE, ["n", "m"], _dp(DIGEST_A, method), label="hour_of_week")
    other_key = protect(DP_TABLE, ["n", "m"], _dp(DIGEST_A, method, key=bytes(32)), label="hotspot_cells")
    # (Rounding to 5 hides some of the noise under suppression and rounding.)
    differ = 0.4 if method == "cell_key" else 0.1
    for other in (changed, other_table, other_key):
        assert (other["n"].fillna(-1) != first["n"].fillna(-1)).mean() > differ
    # Two columns of the same figures get independent noise, so subtracting one from the other
    # does not cancel it.
    assert (first["n"].fillna(-1) != first["m"].fillna(-1)).mean() > differ


def test_dp_noise_is_centred_with_the_laplace_spread():
    table = figures({"n": [100] * 4000}, ["n"])
    noised = protect(table, ["n"], _dp(scale=2.0, method="suppress_and_round", content=DIGEST_A), label="t")[
        "n"
    ].astype(int)
    # Rounded to 5 afterwards: the spread seen is the noise's plus the rounding's.
    deviations = noised - 100
    assert abs(deviations.mean()) < 0.5
    assert 5.0 < deviations.var() < 20.0
    assert len(set(noised)) > 3


def test_dp_policy_still_obeys_suppression_and_rounding():
    out = protect(DP_TABLE, ["n"], _dp(method="suppress_and_round"), label="t")
    published = out["n"].dropna()
    assert not published.between(1, 7).any() and (published % 5 == 0).all()
    assert out["n_suppressed"].sum() > 0


def test_dp_under_cell_key_stays_non_negative_and_withholds_nothing():
    out = protect(DP_TABLE, ["n"], _dp(), label="t")
    assert out["n"].notna().all() and (out["n"] >= 0).all() and not out["n_suppressed"].any()


def test_dp_without_a_noise_key_is_refused():
    with pytest.raises(ValueError, match="empty"):
        protect(DP_TABLE, ["n"], DisclosurePolicy(laplace_scale=1.0, content_sha256=DIGEST_A))


# --- the agreement's disclosure control ------------------------------------------------------


def test_an_agreement_can_ask_for_differential_privacy():
    from sharing_agreements.model import DisclosureControl

    policy = DisclosureControl(differential_privacy={"epsilon": 0.5, "budget_per_month": 2.0}).policy()
    assert policy.laplace_scale == 2.0 and policy.method == "cell_key"
    assert DisclosureControl().policy().laplace_scale is None
    with pytest.raises(ValueError, match="epsilon must be positive"):
        DisclosureControl(differential_privacy={"epsilon": 0, "budget_per_month": 1.0})
    with pytest.raises(ValueError, match="budget_per_month"):
        DisclosureControl(differential_privacy={"epsilon": 0.5, "budget_per_month": 0.25})
    with pytest.raises(ValueError):
        DisclosureControl(differential_privacy={"epsilon": 0.5})  # a budget must be declared


def test_the_agreement_declares_the_method_and_its_parameters():
    from sharing_agreements.model import DisclosureControl, load_agreement

    assert DisclosureControl().policy() == DisclosurePolicy()
    custom = DisclosureControl(method="cell_key", cell_key={"max_deviation": 5, "variance": 4.0}).policy()
    assert (custom.method, custom.max_deviation, custom.variance) == ("cell_key", 5, 4.0)
    suppressing = DisclosureControl(method="suppress_and_round", suppression_threshold=10, rounding_base=10).policy()
    assert (suppressing.method, suppressing.largest_withheld(), suppressing.rounding_base) == (
        "suppress_and_round",
        10,
        10,
    )
    with pytest.raises(ValueError):
        DisclosureControl(cell_key={"max_deviation": 2, "variance": 4.0})  # variance out of reach
    with pytest.raises(ValueError):
        DisclosureControl(method="noise_and_hope")

    bundled = load_agreement()
    assert bundled.disclosure_control.policy().method == "cell_key"
    assert bundled.public_sources() == ("police_uk",)


def _rows_to_show() -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "cell_id": ["a", "b", "c", "d", "e"],
            "ed_assaults": pd.array([0, None, 2, 0, None], dtype="Int64"),
            "combined": pd.array([0, None, 2, 0, 3], dtype="Int64"),
            "police_violence": pd.array([0, 0, 0, 1, 0], dtype="Int64"),
        }
    )
    for column in ("ed_assaults", "combined", "police_violence"):
        table[f"{column}_suppressed"] = table[column].isna()
    return table


def test_under_the_cell_key_rows_of_zeros_and_withheld_counts_are_left_out_the_others_kept_in_order():
    shown = rows_showing_something(_rows_to_show(), ["ed_assaults", "combined", "police_violence"], DisclosurePolicy())
    assert shown["cell_id"].tolist() == ["c", "d", "e"]
    assert shown.index.tolist() == [0, 1, 2]


def test_under_suppression_a_suppressed_count_shows_something():
    policy = DisclosurePolicy(method="suppress_and_round")
    shown = rows_showing_something(_rows_to_show(), ["ed_assaults", "combined", "police_violence"], policy)
    assert shown["cell_id"].tolist() == ["b", "c", "d", "e"]


# --- a cell minimum (an agreement's stricter choice under the cell-key method) ----------------


def test_a_cell_minimum_withholds_the_counts_whose_protected_part_shows_below_it():
    rng = np.random.default_rng(11)
    counts = np.repeat(np.arange(0, 30), 300)
    public = rng.integers(0, 6, len(counts))
    raw = figures({"n": counts}, ["n"], public={"n": public}, seed=11)
    policy = DisclosurePolicy(cell_minimum=5)
    protected = protect(raw, ["n"], policy)
    part = protected["n"].astype(int).to_numpy() - public  # what the cell-key method shows of the records
    out = withhold_small_counts(protected.copy(), raw, policy, ["n"])
    small = part < 5
    assert small.any() and (~small).any()
    assert out["n"][small].isna().all() and out["n_suppressed"][small].all()  # zeros among them
    assert (part[small & (counts == 0)] == 0).all() and (small & (counts == 0)).any()
    assert (out["n"][~small].astype(int).to_numpy() == protected["n"][~small].astype(int).to_numpy()).all()
    assert not out["n_suppressed"][~small].any()
    # Withheld by what is published, never by the true count: true counts from 2 to 7 fall both
    # sides, so neither side tells them apart.
    for count in range(2, 8):
        assert small[counts == count].any() and (~small[counts == count]).any()


def test_without_a_cell_minimum_or_a_protected_record_nothing_is_withheld():
    raw = figures({"n": [0, 1, 2, 3], "public": [0, 0, 0, 0]}, ["n", "public"], public={"public": [0, 2, 1, 9]})
    raw["public"] = 0  # the public column's records are all public: no protected record
    protected = protect(raw, ["n", "public"], DisclosurePolicy(cell_minimum=7))
    # The default (no cell minimum) withholds nothing.
    unchanged = withhold_small_counts(protected.copy(), raw, DisclosurePolicy(), ["n", "public"])
    pd.testing.assert_frame_equal(unchanged, protected)
    # Nor does it touch a column whose sources are all public, or any count under suppression.
    strict = withhold_small_counts(protected.copy(), raw, DisclosurePolicy(cell_minimum=7), ["n", "public"])
    assert strict["public"].tolist() == [0, 2, 1, 9] and not strict["public_suppressed"].any()
    assert strict["n"].isna().all()
    rounded = protect(raw, ["n", "public"], DisclosurePolicy(method="suppress_and_round", cell_minimum=7))
    pd.testing.assert_frame_equal(
        withhold_small_counts(
            rounded.copy(), raw, DisclosurePolicy(method="suppress_and_round", cell_minimum=7), ["n"]
        ),
        rounded,
    )


def test_an_agreement_may_set_a_cell_minimum_and_the_legend_says_so():
    from sharing_agreements.model import DisclosureControl

    assert DisclosureControl().policy().cell_minimum == 0
    strict = DisclosureControl(cell_key={"cell_minimum": 5}).policy()
    assert strict.cell_minimum == 5 and strict.area_minimum == 20
    assert "below 5 is withheld" in strict.legend()
    assert "withheld" not in DisclosurePolicy(area_minimum=0).legend()
    with pytest.raises(ValueError):
        DisclosureControl(cell_key={"cell_minimum": -1})
