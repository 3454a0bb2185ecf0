"""Record keys for the cell-key method: a keyed hash of each record's pseudonym, the same in DuckDB
(where joint_incidents computes it) and in Python, uniform over [0, 2^29), and secret."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pytest
from scipy import stats

from anonymise.cellkey import KEY_MODULUS, RecordKeys, perturb, perturbation_table
from tests.conftest import TEST_RECORD_KEYS, made_up_pseudonym

PSEUDONYMS = [made_up_pseudonym(i) for i in range(20_000)]


def _in_duckdb(keys: RecordKeys, pseudonyms: list[str | None]) -> list[int | None]:
    with duckdb.connect() as con:
        keys.bind(con)
        con.execute("CREATE TABLE t (i BIGINT, p VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(pseudonyms)))
        return [k for (k,) in con.execute(f"SELECT {RecordKeys.sql('p')} FROM t ORDER BY i").fetchall()]


def test_duckdb_and_python_give_the_same_keys():
    sample = PSEUDONYMS[:3000] + ["0" * 64, "f" * 64, "0123456789abcdef" * 4]
    assert _in_duckdb(TEST_RECORD_KEYS, sample) == [TEST_RECORD_KEYS.of(p) for p in sample]
    other = RecordKeys.from_secret(b"another secret, another key")
    assert _in_duckdb(other, sample[:500]) == [other.of(p) for p in sample[:500]]
    assert _in_duckdb(TEST_RECORD_KEYS, [None]) == [None]  # no pseudonym, no key (joint_incidents falls back)


def test_keys_are_below_the_modulus_and_uniform():
    keys = np.array([TEST_RECORD_KEYS.of(p) for p in PSEUDONYMS])
    assert keys.min() >= 0 and keys.max() < KEY_MODULUS
    assert len(set(keys.tolist())) > 0.999 * len(keys)
    assert stats.kstest(keys / KEY_MODULUS, "uniform").pvalue > 0.001
    # A figure's cell key, the sum of its records' keys modulo 2^29, is uniform too, whatever
    # the number of records, so a figure of any size is perturbed as the table says.
    for size in (1, 2, 7):
        sums = keys[: size * 2000].reshape(2000, size).sum(axis=1) % KEY_MODULUS
        assert stats.kstest(sums / KEY_MODULUS, "uniform").pvalue > 0.001, size
    # The perturbations over these keys follow the table: its most likely value is as frequent.
    moved = perturb(np.full(len(keys), 10), keys, perturbation_table(4, 3.0)) - 10
    assert abs((moved == 0).mean() - perturbation_table(4, 3.0).probabilities(10)[0]) < 0.015


def test_the_key_depends_on_the_secret_not_only_on_the_pseudonym():
    # Secrets as the pipeline derives them (anonymise/keys.py derive_disclosure_key): 32 random bytes.
    a = RecordKeys.from_secret(hashlib.sha256(b"agreement a").digest())
    b = RecordKeys.from_secret(hashlib.sha256(b"agreement b").digest())
    same = sum(a.of(p) == b.of(p) for p in PSEUDONYMS[:5000])
    assert same <= 1
    # Nor is it a function of the pseudonym anyone could compute, such as its digest.
    assert all(a.of(p) != int(hashlib.sha256(p.encode()).hexdigest()[:8], 16) for p in PSEUDONYMS[:1000])


def test_the_secret_is_never_in_the_sql_the_repr_or_the_query_plan(tmp_path):
    keys = RecordKeys.from_secret(b"\x12\x34\x56\x78" * 4)
    sql = RecordKeys.sql("record_pseudonym")
    profile = tmp_path / "profile.json"
    with duckdb.connect() as con:
        keys.bind(con)
        con.execute("CREATE TABLE t AS SELECT md5(range::VARCHAR) AS record_pseudonym FROM range(100)")
        plans = [str(con.execute(f"EXPLAIN ANALYZE SELECT {sql} FROM t").fetchall())]
        con.execute(f"PRAGMA enable_profiling = 'json'; PRAGMA profiling_output = '{profile}'")
        con.execute(f"SELECT sum({sql}) FROM t").fetchall()
        con.execute("PRAGMA disable_profiling")
    plans.append(profile.read_text())
    for part in (keys.a1, keys.a2, keys.b):
        assert str(part) not in sql and str(part) not in repr(keys)
        assert all(str(part) not in plan for plan in plans)


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="12 bytes"):
        RecordKeys.from_secret(b"too short")
    assert RecordKeys.from_secret(b"twelve bytes") is not None
