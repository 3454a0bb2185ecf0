"""The count regression every evaluation uses: Poisson, or negative binomial when the counts vary
more than Poisson allows (its intervals would be too narrow)."""

from __future__ import annotations

import numpy as np

# Pearson chi-square per degree of freedom above which Poisson intervals would be too narrow.
OVERDISPERSED = 1.5
Z_95 = 1.959964


def fit_counts(sm, y: np.ndarray, design, offset: np.ndarray | None = None):
    """The fitted GLM of counts `y` on `design` (statsmodels passed in: it is slow to import) and
    the model used, "poisson" or "negative_binomial"."""
    result = sm.GLM(y, design, family=sm.families.Poisson(), offset=offset).fit()
    if result.pearson_chi2 / max(result.df_resid, 1) > OVERDISPERSED:
        mu = result.mu
        # Cameron and Trivedi's regression estimate of the negative binomial dispersion.
        alpha = float(((y - mu) ** 2 - y).sum() / (mu**2).sum())
        if alpha > 0:
            family = sm.families.NegativeBinomial(alpha=alpha)
            return sm.GLM(y, design, family=family, offset=offset).fit(), "negative_binomial"
    return result, "poisson"
