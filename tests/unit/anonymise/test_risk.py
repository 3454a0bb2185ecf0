"""k-anonymity on hand-worked tables."""

import duckdb
import pandas as pd

from anonymise.risk import k_anonymity

ROWS = pd.DataFrame(
    {
        "age_band": ["20-24"] * 5 + ["25-29"] * 2 + [None],
        "sex": ["male"] * 5 + ["female"] * 2 + ["male"],
        "cell_id": ["a"] * 8,
        "hour": [23] * 8,
    }
)


def test_smallest_group_and_rows_below_target():
    report = k_anonymity(ROWS, ["age_band", "sex", "cell_id", "hour"], target_k=3)
    assert report.groups == 3 and report.k == 1
    assert report.smallest_groups == (1, 2, 5)
    assert report.rows_below_target == 3 and report.below_target
    assert report.highest_risk == 1.0


def test_coarser_quasi_identifiers_raise_k():
    report = k_anonymity(ROWS, ["cell_id", "hour"], target_k=5)
    assert report.k == 8 and not report.below_target and report.rows_below_target == 0


def test_empty_and_undeclared_columns():
    assert k_anonymity(ROWS.iloc[:0], ["sex"], 5).k == 0
    assert k_anonymity(ROWS, ["shoe_size"], 5).quasi_identifiers == ()


def test_a_duckdb_relation_over_parquet_gives_the_same_report(tmp_path):
    ROWS.to_parquet(tmp_path / "joint.parquet", index=False)
    quasi_identifiers = ["age_band", "sex", "cell_id", "hour", "shoe_size"]
    with duckdb.connect() as con:
        from_file = k_anonymity(con.read_parquet(str(tmp_path / "joint.parquet")), quasi_identifiers, target_k=3)
    assert from_file == k_anonymity(ROWS, quasi_identifiers, target_k=3)
    assert from_file.quasi_identifiers == ("age_band", "sex", "cell_id", "hour") and from_file.rows == 8
