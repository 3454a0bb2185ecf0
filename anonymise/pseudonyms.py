"""Keyed pseudonyms (HMAC-SHA256) for identifiers.

Identifiers are normalised before hashing so that the same person or crime gets the same
pseudonym however the source system typed it. Distinct values are hashed once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anonymise.keyed_hash import DIGEST_BYTES, hmac_sha256
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
    """HMAC-SHA256 hex digest of each normalised value; missing and blank values stay missing."""
    return pseudonym_array(values, key, normaliser).to_pylist()


# The normalisers as Arrow kernels, for text that is all ASCII (as identifiers nearly always
# are), where they give what the Python function gives: str.split() splits on these ASCII
# characters, and an ASCII text's digits are 0-9. Other text goes through the function.
# (utf8_upper upper-cases ASCII as ascii_upper does; pyarrow 26's ascii_upper corrupts a batch
# cut from a row group, whose string offsets do not start at zero.)
_WHITESPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"
_ARROW_NORMALISERS: dict[Callable[[str], str], Callable[[pa.Array], pa.Array]] = {
    normalise_reference: lambda texts: pc.utf8_upper(pc.replace_substring_regex(texts, _WHITESPACE + "+", "")),
    normalise_nhs_number: lambda texts: pc.replace_substring_regex(texts, r"[^0-9]", ""),
}


def pseudonym_array(
    values: Iterable[str | None], key: bytes, normaliser: Callable[[str], str] = normalise_reference
) -> pa.Array:
    """`pseudonymise` as an Arrow (large) string array. Values are normalised column-wise, each
    distinct normalised value is hashed once and spread back to the rows, and the digests are
    written as hex in one go: per value, only the HMAC call itself is Python work."""
    texts = text_array(values)
    if not len(texts):
        return pa.array([], pa.large_string())
    vectorised = _ARROW_NORMALISERS.get(normaliser)
    if vectorised is not None and pc.all(pc.string_is_ascii(texts)).as_py() is not False:
        normalised = vectorised(texts)
        blank = pc.match_substring_regex(texts, f"^{_WHITESPACE}*$")
    else:
        plain = texts.to_pylist()
        normalised = pa.array([None if t is None else normaliser(t) for t in plain], pa.string())
        blank = pa.array([t is not None and not t.strip() for t in plain])
    if pc.any(blank).as_py():  # if_else copies the column: only when a value needs it
        normalised = pc.if_else(blank, pa.scalar(None, pa.string()), normalised)
    encoded = normalised.dictionary_encode()
    hashed = hmac_sha256(key, encoded.dictionary.cast(pa.binary()).to_pylist())
    return hex_array(hashed, DIGEST_BYTES).take(encoded.indices)


def hex_array(raw: bytes, width: int) -> pa.Array:
    """Lower-case hexadecimal of each `width` bytes of `raw`, as one Arrow (large) string array
    written in one go."""
    count, chars = len(raw) // width, 2 * width
    offsets = pa.py_buffer(np.arange(0, chars * (count + 1), chars, dtype=np.int64))
    return pa.Array.from_buffers(pa.large_string(), count, [None, offsets, pa.py_buffer(raw.hex().encode())])


def text_array(values: Iterable[str | None]) -> pa.Array:
    """The values as an Arrow string array: text as it is, other values as str(value), missing
    ones (None, NaN, pd.NA) null."""
    if (
        isinstance(values, pd.Series)
        and pd.api.types.is_string_dtype(values.dtype)
        and not pd.api.types.is_object_dtype(values.dtype)
    ):
        texts = pa.array(values, pa.string())  # a chunked array when the column's storage is
        return texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    return pa.array([None if pd.isna(v) else str(v) for v in series.tolist()], pa.string())
