"""The cell-key method: consistent perturbation of published counts (ABS TableBuilder; ONS, 2021 Census).

Every record carries a permanent record key, uniform over [0, 2^29). A published figure's cell
key is the sum of its records' keys modulo 2^29, so it depends on exactly the records behind
the figure: the same records give the same key, in every table and every release; one record
more or less gives a fresh, unpredictable key. A perturbation table, generated from parameters
the agreement declares (so a board and an intruder alike know it), maps (true count, cell key)
to a perturbation. Nothing is suppressed: every figure is published, near its true value, and
comparing releases or tables of the same records gains nothing because their noise is identical.

The table's rows are the maximum-entropy distributions over the perturbations -D..D (never
below zero) with mean 0 and the declared variance, as Giessing and Tent (2019) and the `ptable`
R package build them; counts of D and above share one row. A true zero is never perturbed (the
figure has no records, so no key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from scipy.optimize import minimize

# 29 bits: fine enough for any perturbation table, and a record key has at most nine digits, so
# the leak scanner never mistakes one for a ten-digit NHS number in the row-level zone.
KEY_MODULUS = 2**29


@dataclass(frozen=True)
class PerturbationTable:
    max_deviation: int
    variance: float
    # rows[i] is the cumulative distribution of the perturbation -D..D for a true count i
    # (rows[D] serves every count from D up); cumulative so that a cell key picks its interval.
    cumulative: np.ndarray

    def probabilities(self, count: int) -> dict[int, float]:
        row = self.cumulative[min(count, self.max_deviation)]
        mass = np.diff(np.concatenate([[0.0], row]))
        return {v: float(p) for v, p in zip(range(-self.max_deviation, self.max_deviation + 1), mass) if p > 0}


def _max_entropy_row(support: np.ndarray, variance: float) -> np.ndarray:
    """p(v) proportional to exp(a v + b v^2): the maximum-entropy law on `support` with mean 0
    and the given variance, found by minimising the convex dual."""

    def dual(params):
        a, b = params
        logits = a * support + b * support**2
        top = logits.max()
        return top + np.log(np.exp(logits - top).sum()) - b * variance

    a, b = minimize(dual, x0=[0.0, -0.5], method="BFGS").x
    weights = np.exp(a * support + b * support**2 - (a * support + b * support**2).max())
    return weights / weights.sum()


@cache
def perturbation_table(max_deviation: int, variance: float) -> PerturbationTable:
    if max_deviation < 1 or variance <= 0:
        raise ValueError("the cell-key method needs a max_deviation of 1 or more and a positive variance")
    if variance >= max_deviation**2:
        raise ValueError(f"a variance of {variance} cannot be reached with perturbations of at most {max_deviation}")
    deviations = np.arange(-max_deviation, max_deviation + 1)
    rows = np.zeros((max_deviation + 1, deviations.size))
    rows[0, max_deviation] = 1.0  # a true zero stays zero
    for count in range(1, max_deviation + 1):
        allowed = deviations >= -count  # a published count is never negative
        support = deviations[allowed]
        # Small counts cannot move far down: with mean 0 their variance is bounded by count * D,
        # so they take the largest variance they can, a little below that bound.
        reachable = 0.9 * count * max_deviation
        rows[count, allowed] = _max_entropy_row(support.astype(float), min(variance, reachable))
    return PerturbationTable(max_deviation, variance, np.cumsum(rows, axis=1))


def perturb(counts: np.ndarray, cell_keys: np.ndarray, table: PerturbationTable) -> np.ndarray:
    """Published counts: each true count moved by the perturbation its cell key selects."""
    counts = np.asarray(counts, dtype=np.int64)
    fractions = np.asarray(cell_keys, dtype=np.float64) % KEY_MODULUS / KEY_MODULUS
    rows = table.cumulative[np.minimum(counts, table.max_deviation)]
    picked = (rows <= fractions[:, None]).sum(axis=1)
    picked = np.minimum(picked, table.cumulative.shape[1] - 1)
    return counts + picked - table.max_deviation


@dataclass(frozen=True)
class RecordKeys:
    """Record keys: a keyed hash of each record's pseudonym, computed in DuckDB as the month is
    joined. The pseudonym is already an HMAC of the record's identifier; hashing it again under
    a key of its own means a pseudonym seen in the row-level zone does not give its record key.
    The hash is multilinear over two 28-bit pieces of the pseudonym (a universal family, exact in
    64-bit integers, so DuckDB computes it at the speed of reading the column and any version
    computes the same keys); the pseudonym's own randomness does the rest."""

    a1: int = field(repr=False)
    a2: int = field(repr=False)
    b: int = field(repr=False)

    @classmethod
    def from_secret(cls, secret: bytes) -> RecordKeys:
        if len(secret) < 12:
            raise ValueError("a record-key secret needs at least 12 bytes")
        a1, a2, b = (int.from_bytes(secret[i : i + 4], "big") for i in (0, 4, 8))
        return cls(a1 | 1, a2 | 1, b)

    TABLE = "istv_record_key"

    def bind(self, con) -> None:
        """Hold the key in a one-row temporary table, from bound parameters, so that no SQL text
        (which may be logged) holds it. Not in DuckDB variables: their values are folded into
        plans as constants, and EXPLAIN ANALYZE or a profiling file would print them."""
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.TABLE} AS SELECT ?::BIGINT AS a1, ?::BIGINT AS a2, ?::BIGINT AS b",
            [self.a1, self.a2, self.b],
        )

    @staticmethod
    def sql(pseudonym: str) -> str:
        """The record key of a hexadecimal pseudonym column, once `bind` has run."""
        piece = "('0x' || substr({p}, {start}, 7))::BIGINT"
        a1, a2, b = (f"(SELECT {v} FROM {RecordKeys.TABLE})" for v in ("a1", "a2", "b"))
        return (
            f"(({a1} * {piece.format(p=pseudonym, start=1)} + {a2} * {piece.format(p=pseudonym, start=8)} + {b})"
            f" >> 16) % {KEY_MODULUS}"
        )

    def of(self, pseudonym: str) -> int:
        """The same key in Python (tests, and frames built by hand)."""
        x1, x2 = int(pseudonym[0:7], 16), int(pseudonym[7:14], 16)
        return ((self.a1 * x1 + self.a2 * x2 + self.b) >> 16) % KEY_MODULUS
