"""Keyed pseudonyms (HMAC-SHA256) for identifiers.

Identifiers are normalised before hashing so that the same person or crime gets the same
pseudonym however the source system typed it. Distinct values are hashed once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable

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
    cache: dict[str, str | None] = {}
    out = []
    for value in values:
        if value not in cache:
            if value is None or pd.isna(value) or str(value).strip() == "":
                cache[value] = None
            else:
                message = normaliser(str(value)).encode()
                cache[value] = hmac.new(key, message, hashlib.sha256).hexdigest()
        out.append(cache[value])
    return out
