"""Differential privacy with a budget: seeded noise, spend audited, releases past the budget refused."""

from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import pandas as pd
import pytest

from anonymise.differential_privacy import BudgetExceeded
from pipelines.resources import IstvResource
from sharing_agreements import auditing
from sharing_agreements.model import load_agreement
from warehouse.joint import month_content_sha256
from warehouse.release import privacy_budget_spend
from warehouse.tables import table_specs

MONTH = dt.date(2026, 9, 1)


@pytest.fixture
def dp_resource(istv_home, board, monkeypatch):
    def with_dp(agreement):
        agreement["disclosure_control"]["differential_privacy"] = {"epsilon": 0.1, "budget_per_month": 4.0}

    path = board.variant("dp", with_dp)
    monkeypatch.setenv("ISTV_AGREEMENT", str(path))
    return IstvResource(), load_agreement(path)


def _permitted(agreement):
    return [s for s in table_specs() if s.name in agreement.published_tables]


def _spend(istv, agreement, content, permitted):
    """As the release step asks: the audit log read as it stands, a refusal recorded in it."""
    entries = auditing.reader(istv.istv_home).entries
    return privacy_budget_spend(agreement, MONTH, content, permitted, entries, istv.audit)


def test_a_release_spends_epsilon_per_count_column_and_a_rerun_spends_nothing(dp_resource):
    istv, agreement = dp_resource
    spend = _spend(istv, agreement, "content-a", _permitted(agreement))
    assert spend == pytest.approx(0.1 * sum(len(s.counts) for s in _permitted(agreement)))
    istv.audit(
        "dp_release",
        {
            "agreement_id": agreement.id,
            "agreement_version": agreement.version,
            "month": "2026-09",
            "content_sha256": "content-a",
            "epsilon": spend,
        },
    )
    # The same content again draws the same noise: nothing new is spent, and it is allowed.
    assert _spend(istv, agreement, "content-a", _permitted(agreement)) == 0.0


def test_a_corrected_release_past_the_budget_is_refused_and_audited(dp_resource):
    istv, agreement = dp_resource
    permitted = _permitted(agreement)
    spend = _spend(istv, agreement, "content-a", permitted)
    istv.audit(
        "dp_release",
        {
            "agreement_id": agreement.id,
            "agreement_version": agreement.version,
            "month": "2026-09",
            "content_sha256": "content-a",
            "epsilon": spend,
        },
    )
    assert spend * 2 > 4.0  # a second release of new content would pass the month's budget
    with pytest.raises(BudgetExceeded) as refusal:
        _spend(istv, agreement, "content-b", permitted)
    assert "2026-09" in str(refusal.value) and agreement.id in str(refusal.value)
    refused = [e for e in auditing.reader(istv.istv_home).entries() if e.kind == "dp_refused"]
    assert len(refused) == 1 and refused[0].details["month"] == "2026-09"


def test_seeded_noise_is_the_same_for_the_same_month_and_differs_for_another(dp_resource, tmp_path):
    istv, agreement = dp_resource
    rows = pd.DataFrame({"source": ["ed"] * 3, "cell_id": ["a", "b", "c"], "record_key": [1, 2, 3]})
    first, second = tmp_path / "one.parquet", tmp_path / "two.parquet"
    rows.to_parquet(first, index=False)
    rows.iloc[::-1].to_parquet(second, index=False)  # the same rows in another order
    for kind in (1, 2):
        assert month_content_sha256(first, tmp_path, kind) == month_content_sha256(second, tmp_path, kind)
    rows.iloc[:2].to_parquet(second, index=False)
    assert month_content_sha256(first, tmp_path) != month_content_sha256(second, tmp_path)
    # a missing value and an empty one, or a value's letters moved to the next column: other content
    variants = [
        rows.assign(cell_id=["a", None, "c"]),
        rows.assign(cell_id=["a", "", "c"]),
        rows.assign(source=["eda", "ed", "ed"], cell_id=["", "b", "c"]),
        rows,
    ]
    digests = set()
    for n, variant in enumerate(variants):
        variant.to_parquet(tmp_path / f"variant{n}.parquet", index=False)
        digests.add(month_content_sha256(tmp_path / f"variant{n}.parquet", tmp_path))
    assert len(digests) == len(variants)
    policy = istv.disclosure_policy(agreement, month_content_sha256(first, tmp_path))
    assert policy.laplace_scale == pytest.approx(10.0) and policy.noise_key
    assert policy.noise_key.hex() not in repr(policy)  # the key never reaches a log line


def test_the_first_kind_of_digest_is_what_months_were_first_published_with(tmp_path):
    """Months published before the quicker digest keep theirs: the first kind must give what the
    query they were digested with gave (here as it was written), or their seeded noise changes."""
    rows = pd.DataFrame(
        {
            "source": ["ed", "police", None],
            "month": [dt.date(2026, 9, 1)] * 3,
            "cell_id": ["89195879b5bffff", None, "89195879b6bffff"],
            "record_key": [1, 2, 3],
        }
    )
    joint = tmp_path / "joint.parquet"
    rows.to_parquet(joint, index=False)
    with duckdb.connect() as con:
        n, digest = con.execute(
            "SELECT count(*), coalesce(sum(md5_number_lower(j::VARCHAR)::HUGEINT), 0)::VARCHAR || ':' || "
            "coalesce(sum(md5_number_upper(j::VARCHAR)::HUGEINT), 0)::VARCHAR FROM read_parquet(?) AS j",
            [str(joint)],
        ).fetchone()
    assert month_content_sha256(joint, tmp_path, kind=1) == hashlib.sha256(f"{n}:{digest}".encode()).hexdigest()
