"""The intruder's model of the method (P(published | true count), from the published parameters)
and the scoring of every attack against the guessing baseline and the requirement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from anonymise.cellkey import perturbation_table
from anonymise.disclosure import DisclosurePolicy

ATTACKED = tuple(range(1, 8))
TOLERANCE = 0.05  # the requirement: exact recovery at most this far above the guessing baseline


def suppressed_and_rounded(counts: np.ndarray, policy: DisclosurePolicy) -> np.ndarray:
    """anonymise.disclosure.protect_count over an array (NaN: withheld); tests/attacks checks they agree."""
    counts = np.asarray(counts, dtype=np.int64)
    base = policy.rounding_base
    rounded = np.maximum(((counts + base // 2) // base) * base, policy.smallest_shown()).astype(float)
    rounded[(counts >= 1) & (counts <= policy.suppression_threshold)] = np.nan
    rounded[counts == 0] = 0.0
    return rounded


class Law:
    """What the intruder computes from the agreement's published parameters: the probability of
    a published protected value (the public part already subtracted; NaN when withheld) given
    the true protected count (NaN, a count withheld under a cell minimum: any value below it).
    Differential privacy, when the policy asks for it, is discrete
    Laplace noise floored at 0 and then the method, as anonymise/disclosure.py applies them."""

    def __init__(self, policy: DisclosurePolicy):
        self.policy = policy
        if policy.method == "cell_key":
            table = perturbation_table(policy.max_deviation, policy.variance)
            self.deviation = table.max_deviation
            cumulative = table.cumulative
            mass = np.diff(np.concatenate([np.zeros((cumulative.shape[0], 1)), cumulative], axis=1), axis=1)
            self.rows = np.clip(mass, 0.0, None)

    def spread(self) -> int:
        """How far a published value can lie from the true count (rounding and suppression: the
        threshold; the Laplace tail: where its mass is negligible)."""
        base = self.deviation if self.policy.method == "cell_key" else self.policy.suppression_threshold
        return base + (int(np.ceil(40 * self.policy.laplace_scale)) if self.policy.laplace_scale else 0)

    def _method(self, published: float, counts: np.ndarray) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.int64)
        out = np.zeros(len(counts))
        valid = counts >= 0
        if self.policy.method == "cell_key":
            if np.isnan(published):  # withheld: it would have shown below the cell minimum (if any)
                return sum((self._method(float(v), counts) for v in range(self.policy.cell_minimum)), out)
            d = int(round(published)) - counts
            ok = valid & (np.abs(d) <= self.deviation)
            rows = np.minimum(np.maximum(counts, 0), self.deviation)
            out[ok] = self.rows[rows[ok], d[ok] + self.deviation]
            return out
        threshold = self.policy.suppression_threshold
        if np.isnan(published):
            return (valid & (counts >= 1) & (counts <= threshold)).astype(float)
        return (valid & (suppressed_and_rounded(counts, self.policy) == published)).astype(float)

    def lik(self, published: float, counts: np.ndarray) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.int64)
        scale = self.policy.laplace_scale
        if not scale:
            return self._method(published, counts)
        if len(counts) == 0:
            return np.zeros(0)
        q = math.exp(-1.0 / scale)
        c = (1 - q) / (1 + q)
        top = int(max(counts.max(), 0)) + int(np.ceil(40 * scale)) + 1
        noisy = np.arange(0, top + 1)
        method = self._method(published, noisy)
        n = np.maximum(counts, 0)[:, None]
        transition = c * q ** np.abs(noisy[None, :] - n)
        transition[:, 0] = q ** n[:, 0] / (1 + q)
        out = transition @ method
        out[counts < 0] = 0.0
        return out

    def _transition(self, counts: np.ndarray, top: int) -> np.ndarray:
        """P(noisy count m | true n), m = 0..top: the identity without differential privacy,
        discrete Laplace floored at 0 with it."""
        n = np.maximum(counts, 0)[:, None]
        noisy = np.arange(top + 1)[None, :]
        if not self.policy.laplace_scale:
            return (noisy == n).astype(float)
        q = math.exp(-1.0 / self.policy.laplace_scale)
        out = (1 - q) / (1 + q) * q ** np.abs(noisy - n)
        out[:, 0] = q ** n[:, 0] / (1 + q)
        return out

    def joint_lik(self, published: Sequence[float], counts: Sequence[int] = ATTACKED) -> np.ndarray:
        """P(every published value | n) for several releases of one figure whose records do not
        change (re-runs): under the cell-key method they share one cell key, so one position u in
        the perturbation table, integrated out exactly over the intervals between the table's
        cumulative breakpoints (within one, every count's perturbation is fixed). Identical
        releases (a seeded re-run) must be passed once: they are one draw, not several."""
        counts = np.asarray(counts, dtype=np.int64)
        if self.policy.method != "cell_key":
            out = np.ones(len(counts))
            for p in published:
                out = out * self.lik(p, counts)
            return out
        deviation = self.deviation
        cumulative = np.cumsum(self.rows, axis=1)
        breaks = np.unique(np.concatenate([[0.0, 1.0], np.clip(cumulative.ravel(), 0, 1)]))
        widths = np.diff(breaks)
        keep = widths > 0
        middles = ((breaks[:-1] + breaks[1:]) / 2)[keep]
        widths = widths[keep]
        # picked position for each interval and table row, as anonymise.cellkey.perturb picks it
        picked = np.minimum((cumulative[None, :, :] <= middles[:, None, None]).sum(axis=2), 2 * deviation)
        shift = picked - deviation  # (intervals, rows)
        top = int(max(counts.max(initial=0), np.nanmax(np.asarray(published, dtype=float), initial=0))) + deviation + 1
        if self.policy.laplace_scale:
            top += int(np.ceil(40 * self.policy.laplace_scale))
        m = np.arange(top + 1)
        shown = m[None, :] + shift[:, np.minimum(m, deviation)]  # (intervals, m)
        values = np.asarray(published, dtype=float)
        withheld = np.isnan(values)[None, None, :]  # shown below the cell minimum, if any
        match = np.where(
            withheld, shown[:, :, None] < self.policy.cell_minimum, shown[:, :, None] == values[None, None, :]
        ).astype(float)  # (intervals, m, releases)
        transition = self._transition(counts, top)  # (n, m)
        per_release = np.einsum("nm,kmr->knr", transition, match)  # (intervals, n, releases)
        out = (widths[:, None] * per_release.prod(axis=2)).sum(axis=0)
        out[counts < 0] = 0.0
        return out

    def matrix(self, published: Sequence[float], counts: Sequence[int] = ATTACKED) -> np.ndarray:
        """Likelihoods, one row per published value, one column per candidate count."""
        counts = np.asarray(counts)
        return np.vstack([self.lik(p, counts) for p in published]) if len(published) else np.zeros((0, len(counts)))


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


@dataclass
class Score:
    """An attack's success on the attacked counts (true values 1..7); see the module's docstring."""

    attack: str
    setting: str
    attacked: int
    exact_published: float | None  # estimate: the published figure at face value (None: not defined)
    exact_bayes: float
    pinned: float  # the feasible set is one value: recovered with certainty
    narrowed: float
    mean_feasible: float
    baseline: float
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def exact(self) -> float:
        """The better of the attack's estimators."""
        return max(self.exact_bayes, self.exact_published or 0.0)


def guessing_baseline(truth: np.ndarray, population: np.ndarray | None = None) -> float:
    """The share of `truth` equal to the most common value of `population` (the smallest of
    several), by default of `truth` itself."""
    truth = np.asarray(truth)
    if len(truth) == 0:
        return float("nan")
    values, counts = np.unique(truth if population is None else np.asarray(population), return_counts=True)
    return float(np.mean(truth == values[np.argmax(counts)]))


def score(
    attack: str,
    setting: str,
    truth: np.ndarray,
    likelihoods: np.ndarray,
    as_published: np.ndarray | None = None,
    note: str = "",
    population: np.ndarray | None = None,
    **extra,
) -> Score:
    """`likelihoods`: one row per attacked count, columns 1..7, the probability of everything
    the attack observed under each candidate. The Bayes estimate uses the prior the guesser has,
    the distribution of the attacked counts: of `population` when the counts attacked are a
    sample drawn from it (a prior fitted to a small sample would favour the attacker), else of
    `truth`; ties go to the smaller value."""
    truth = np.asarray(truth, dtype=np.int64)
    values = np.asarray(ATTACKED)
    known = truth if population is None else np.asarray(population, dtype=np.int64)
    prior = np.array([np.mean(known == v) for v in values]) if len(known) else np.ones(len(values))
    posterior = likelihoods * prior[None, :]
    fallback = values[np.argmax(prior)]
    estimate = np.where(posterior.sum(axis=1) > 0, values[np.argmax(posterior, axis=1)], fallback)
    feasible = (likelihoods > 0).sum(axis=1)
    exact_published = None
    if as_published is not None:
        as_published = np.asarray(as_published, dtype=float)
        exact_published = float(np.mean(as_published == truth)) if len(truth) else float("nan")
    return Score(
        attack,
        setting,
        len(truth),
        exact_published,
        float(np.mean(estimate == truth)) if len(truth) else float("nan"),
        float(np.mean(feasible == 1)) if len(truth) else float("nan"),
        float(np.mean(feasible < len(values))) if len(truth) else float("nan"),
        float(np.mean(feasible)) if len(truth) else float("nan"),
        guessing_baseline(truth, known),
        note,
        extra,
    )


def criterion_failures(score: Score) -> list[str]:
    """Why an attack's score fails the requirement (the module's docstring); empty: it meets it."""
    failures = []
    if score.pinned > 0:
        failures.append(f"{score.pinned:.1%} of counts pinned")
    if score.exact - score.baseline > TOLERANCE:
        failures.append(f"exact {score.exact:.1%} > guess {score.baseline:.1%} + {100 * TOLERANCE:g} pt")
    return failures
