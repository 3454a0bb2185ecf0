"""NHS numbers: normalisation and the Modulus 11 check digit (NHS Data Dictionary)."""

from __future__ import annotations

import re

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
