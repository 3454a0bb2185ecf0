"""Keyed pseudonyms (HMAC-SHA256) for identifiers.

Identifiers are normalised before hashing so that the same person or crime gets the same
pseudonym however the source system typed it. Distinct values are hashed once.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from anonymise.nhs_number import normalise_nhs_number


def normalise_reference(value: str) -> str:
    """Crime references and local ids: trimmed, upper-cased, inner spaces removed."""
    return "".join(value.split()).upper()


NORMALISERS: dict[str, Callable[[str], str]] = {
    "nhs_number": normalise_nhs_number,
    "reference": normalise_reference,
}


def pseudonymise(
    values: Iterable[str | None], key: bytes, normaliser: Callable[[str], str] = normalise_reference
) -> list[str | None]:
    """HMAC-SHA256 hex digest of each normalised value; missing values stay missing."""
    return pseudonym_array(values, key, normaliser).tolist()


def pseudonym_array(
    values: Iterable[str | None], key: bytes, normaliser: Callable[[str], str] = normalise_reference
) -> np.ndarray:
    """`pseudonymise` as an object array: each distinct value is hashed once, then spread back
    to the rows by its position among the distinct values (no per-row Python work)."""
    if not isinstance(values, (pd.Series, pd.Index, np.ndarray, pd.api.extensions.ExtensionArray)):
        values = pd.Series(list(values), dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # missing values get code -1
    return np.array(_digests([str(value) for value in uniques.tolist()], key, normaliser) + [None], dtype=object)[codes]


def _digests(texts: list[str], key: bytes, normaliser: Callable[[str], str]) -> list[str | None]:
    """Hex HMAC of each normalised text, None for blank ones: one comprehension, the digest
    function bound locally, as at about a microsecond an HMAC, call overhead matters."""
    digest = hmac.digest
    return [digest(key, normalised.encode(), "sha256").hex() if text.strip() else None
            for text, normalised in zip(texts, map(normaliser, texts))]
