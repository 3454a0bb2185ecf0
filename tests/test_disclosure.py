"""Statistical disclosure control: suppression of small counts and rounding, on hand-worked tables."""

from __future__ import annotations

import pandas as pd
import pytest

from anonymise.disclosure import DisclosurePolicy, protect, protect_count

DEFAULT = DisclosurePolicy()  # threshold 7, base 5


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
def test_protect_count_default_policy(count, expected):
    assert protect_count(count, DEFAULT) == expected


def test_default_policy_is_seven_and_five():
    assert DEFAULT.suppression_threshold == 7
    assert DEFAULT.rounding_base == 5


def test_hand_worked_table_default_policy():
    table = pd.DataFrame(
        {
            "place": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
            "ed": [0, 1, 7, 8, 12, 13, 100, 3, 6],
            "police": [100, 0, 9, 2, 7, 11, 22, 23, 1],
        }
    )
    out = protect(table, ["ed", "police"], DEFAULT)

    assert out["place"].tolist() == table["place"].tolist()
    assert out["ed"].tolist() == [0, pd.NA, pd.NA, 10, 10, 15, 100, pd.NA, pd.NA]
    assert out["ed_suppressed"].tolist() == [False, True, True, False, False, False, False, True, True]
    assert out["police"].tolist() == [100, 0, 10, pd.NA, pd.NA, 10, 20, 25, pd.NA]
    assert out["police_suppressed"].tolist() == [False, False, False, True, True, False, False, False, True]
    # Suppressed counts are NULL, never a silent zero.
    assert out.loc[out["ed_suppressed"], "ed"].isna().all()
    assert (out.loc[~out["ed_suppressed"], "ed"].notna()).all()
    # The input table is not modified.
    assert table["ed"].tolist() == [0, 1, 7, 8, 12, 13, 100, 3, 6]
    assert "ed_suppressed" not in table


def test_zero_is_published_and_not_flagged():
    out = protect(pd.DataFrame({"n": [0]}), ["n"], DEFAULT)
    assert out["n"].iloc[0] == 0
    assert not pd.isna(out["n"].iloc[0])
    assert not bool(out["n_suppressed"].iloc[0])


def test_flag_column_for_every_count_column_and_only_those():
    table = pd.DataFrame({"area": ["x", "y"], "a": [1, 20], "b": [9, 0], "c": [4, 4]})
    out = protect(table, ["a", "b", "c"], DEFAULT)
    assert set(out.columns) == {"area", "a", "b", "c", "a_suppressed", "b_suppressed", "c_suppressed"}
    for column in ("a", "b", "c"):
        assert out[f"{column}_suppressed"].dtype == bool
    assert out["c_suppressed"].tolist() == [True, True]
    assert out["b_suppressed"].tolist() == [False, False]


@pytest.mark.parametrize(
    "count, expected",
    [(0, 0), (1, None), (5, None), (10, None), (15, 20), (16, 20), (24, 20), (25, 30), (100, 100), (104, 100), (105, 110)],
)
def test_custom_threshold_ten_base_ten(count, expected):
    assert protect_count(count, DisclosurePolicy(suppression_threshold=10, rounding_base=10)) == expected


def test_custom_policy_on_a_table():
    policy = DisclosurePolicy(suppression_threshold=10, rounding_base=10)
    table = pd.DataFrame({"n": [0, 3, 10, 15, 26, 94]})
    out = protect(table, ["n"], policy)
    assert out["n"].tolist() == [0, pd.NA, pd.NA, 20, 30, 90]
    assert out["n_suppressed"].tolist() == [False, True, True, False, False, False]


@pytest.mark.parametrize(
    "threshold, base",
    [(7, 5), (10, 5), (10, 10), (5, 10), (3, 2)],
    ids=lambda v: str(v),
)
def test_no_published_value_between_one_and_threshold(threshold, base):
    # Module docstring: "a published figure is either 0 or at least the first multiple of the
    # base above the threshold".
    policy = DisclosurePolicy(suppression_threshold=threshold, rounding_base=base)
    counts = list(range(0, 500))
    out = protect(pd.DataFrame({"n": counts}), ["n"], policy)
    published = out["n"].dropna().astype(int)
    leaking = {c: v for c, v in zip(counts, out["n"]) if not pd.isna(v) and 1 <= v <= threshold}
    assert leaking == {}, f"counts published at or below the threshold: {leaking}"
    assert (published % base == 0).all()


# --- optional differential privacy ----------------------------------------------------------


def test_dp_noise_is_centred_with_the_laplace_spread():
    from anonymise.disclosure import dp_noised

    noised = dp_noised([100] * 4000, scale=2.0)
    deviations = [n - 100 for n in noised]
    mean = sum(deviations) / len(deviations)
    variance = sum(d * d for d in deviations) / len(deviations)
    assert abs(mean) < 0.3
    assert 5.0 < variance < 11.0  # discrete Laplace with scale 2: variance close to 2 * 2**2 = 8
    assert len(set(noised)) > 5


def test_dp_policy_still_obeys_suppression_and_rounding():
    import pandas as pd

    from anonymise.disclosure import DisclosurePolicy, protect

    table = pd.DataFrame({"n": [0, 3, 9, 40, 200] * 50})
    out = protect(table, ["n"], DisclosurePolicy(laplace_scale=1.0))
    published = out["n"].dropna()
    assert not published.between(1, 7).any() and (published % 5 == 0).all()
    assert out["n_suppressed"].sum() > 0
    exact = protect(table, ["n"], DisclosurePolicy())
    assert not out["n"].equals(exact["n"])  # noise changed something


def test_an_agreement_can_ask_for_differential_privacy():
    from sharing_agreements.model import DisclosureControl

    assert DisclosureControl(differential_privacy={"epsilon": 0.5}).policy().laplace_scale == 2.0
    assert DisclosureControl().policy().laplace_scale is None
    with pytest.raises(ValueError, match="epsilon must be positive"):
        DisclosureControl(differential_privacy={"epsilon": 0})
