"""NHS numbers: normalisation and the Modulus 11 check digit (NHS Data Dictionary)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_NON_DIGITS = re.compile(r"\D")


def normalise_nhs_number(value: str) -> str:
    """Digits only, so '943 476 5919' and '9434765919' give the same pseudonym."""
    return _NON_DIGITS.sub("", value)


def is_valid_nhs_number(value: str) -> bool:
    digits = normalise_nhs_number(value)
    if len(digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


_WEIGHTS = np.arange(10, 1, -1)


def valid_nhs_numbers(values: pd.Series) -> np.ndarray:
    """`is_valid_nhs_number` of every value at once. ASCII texts are checked as digit arrays;
    the rare others (Python counts non-ASCII digits as digits) one at a time, so that the answer
    is the same either way."""
    texts = pa.array(values.fillna(""), type=pa.string())
    valid = np.zeros(len(texts), dtype=bool)
    ascii_ = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False)
    digits = pc.replace_substring_regex(texts, r"[^0-9]", "")
    ten = ascii_ & (pc.utf8_length(digits).to_numpy(zero_copy_only=False) == 10)
    if ten.any():
        grid = np.frombuffer(np.array(digits.filter(pa.array(ten)).to_pylist(), dtype="S10").tobytes(), dtype=np.uint8)
        grid = grid.reshape(-1, 10).astype(np.int64) - ord("0")
        check = 11 - (grid[:, :9] @ _WEIGHTS) % 11
        check[check == 11] = 0
        valid[ten] = (check != 10) & (check == grid[:, 9])
    others = np.flatnonzero(~ascii_)
    valid[others] = [is_valid_nhs_number(values.iloc[i]) for i in others]
    return valid
