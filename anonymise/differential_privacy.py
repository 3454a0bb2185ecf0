"""Differential privacy with a budget: reproducible noise and a per-agreement, per-month ledger.

Fresh noise on every run lets an intruder who asks for re-runs of an unchanged month average the
noise away. So the noise is a deterministic function of a secret key and the month's content: a
re-run publishes byte-identical figures and teaches nothing new. A genuinely changed month (a
correction, a late delivery) is a new release with fresh noise, and each one spends privacy budget;
the audit log records the epsilon spent, and a release that would exceed the agreement's budget for
the month is refused.

Pure functions: the caller reads the audit entries, supplies the key and writes the `dp_release`
entry after publishing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping

import numpy as np

# Sums of floats such as 0.1 + 0.2 must not refuse a release that exactly meets the budget.
_TOLERANCE = 1e-9


def noise_seed(key: bytes, month_content_sha256: str, *, label: str = "") -> bytes:
    """The secret seed for one month's noise: HMAC-SHA256 of the month's content digest.

    Keyed, because anyone who can compute the seed can regenerate the noise and subtract it: the
    key must come from the pipeline's secret and must never be logged (nor the seed). `label`
    separates noise streams within one month, e.g. one per count column: two columns seeded alike
    would get the same noise, and subtracting one from the other would cancel it.
    """
    if not key:
        raise ValueError("the differential privacy noise key is empty; the noise would be public")
    message = f"istv/dp-noise\x00{label}\x00{month_content_sha256}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def discrete_laplace(counts: np.ndarray, scale: float, seed: bytes) -> np.ndarray:
    """Each count plus discrete Laplace noise, P(noise = k) proportional to exp(-|k| / scale),
    floored at 0 (a count cannot be negative; post-processing keeps the guarantee).

    Seeded, not fresh: the same seed and counts give identical output. Re-runs of unchanged input
    must not draw fresh noise, or an intruder averages twenty re-runs and recovers the true counts.
    What seeding does not protect against: a genuinely changed month has a new content digest, so
    a new seed and fresh noise; it is a fresh release and spends budget (see `check_budget`).

    numpy's sampler works in floating point, unlike OpenDP's exact one; that is acceptable for
    published aggregate counts but is not a formally exact implementation of the mechanism.
    """
    if not scale > 0:
        raise ValueError(f"the noise scale must be positive, not {scale}")
    counts = np.asarray(counts, dtype=np.int64)
    # The scale goes into the generator's seed too: the same content released at a different
    # epsilon (a new agreement version) then gets independent noise, so the ledger's plain sum of
    # epsilons is a valid bound; correlated noise at two scales would need a subtler analysis.
    scale_bits = int(np.float64(scale).view(np.uint64))
    rng = np.random.Generator(np.random.PCG64([int.from_bytes(seed, "big"), scale_bits]))
    # The difference of two independent geometric variables with success probability
    # p = 1 - exp(-1/scale) is discrete Laplace with that scale (numpy's geometric starts at 1;
    # the offsets cancel in the difference).
    p = -math.expm1(-1.0 / scale)
    noise = rng.geometric(p, counts.shape) - rng.geometric(p, counts.shape)
    return np.maximum(counts + noise, 0).astype(np.int64)


class BudgetExceeded(ValueError):
    """A release refused because it would spend more privacy budget than the agreement allows."""


def _field(entry, name: str):
    # Plain dicts in tests and callers; sharing_agreements.audit.Entry objects straight from the log.
    return entry[name] if isinstance(entry, Mapping) else getattr(entry, name)


def _releases(entries: Iterable, agreement_id: str, month: str) -> dict[tuple[str, float], float]:
    """Distinct releases of one agreement's month, keyed by (content digest, epsilon).

    A re-run of identical content at the same epsilon is byte-identical and spends nothing new.
    All versions of an agreement share the budget, so the version is not part of the key.
    """
    seen: dict[tuple[str, float], float] = {}
    for entry in entries:
        if _field(entry, "kind") != "dp_release":
            continue
        details = _field(entry, "details")
        if details["agreement_id"] == agreement_id and details["month"] == month:
            epsilon = float(details["epsilon"])
            seen[(details["content_sha256"], epsilon)] = epsilon
    return seen


def epsilon_spent(entries: Iterable, agreement_id: str, month: str) -> float:
    """Privacy budget already spent on this agreement's month: epsilon summed over distinct releases."""
    return sum(_releases(entries, agreement_id, month).values())


def check_budget(
    entries: Iterable, agreement_id: str, month: str, content_sha256: str, epsilon: float, budget: float
) -> float:
    """The epsilon this release would add: 0.0 if this content was already released at this epsilon.

    Raises BudgetExceeded, with a message for the governance board, when the month's spend would
    go over the agreement's budget.
    """
    releases = _releases(entries, agreement_id, month)
    if (content_sha256, float(epsilon)) in releases:
        return 0.0
    spent = sum(releases.values())
    if spent + epsilon > budget + _TOLERANCE:
        if releases:
            plural = "s" if len(releases) > 1 else ""
            earlier = f"{spent:g} already spent on {len(releases)} earlier release{plural}"
            again = " again"
        else:
            earlier, again = "nothing spent yet", ""
        raise BudgetExceeded(
            f"Not published: releasing {month}{again} under {agreement_id} would spend privacy budget "
            f"epsilon {spent + epsilon:g} of the {budget:g} the agreement allows for a month "
            f"({earlier}). Each corrected release of a month spends budget; ask the board to approve "
            "a larger budget in a new agreement version, or publish the correction at the next "
            "scheduled revision."
        )
    return float(epsilon)
