"""What UK postcodes and phone numbers look like, for every module that reads them.

Three readers look for them for different reasons, so some patterns come in pairs on purpose:
- generalise reads a postcode column: the whole value is one postcode, or it has no district;
- locate reads what a receptionist typed (lower-cased first): it wants the district a text
  names, and first cuts out anything phone-like, as no part of a phone number says where;
- leaks' detectors read any text, machine-written included (file names, decimals, ciphertext):
  a postcode or phone number must be a whole token there, or a chance run of characters inside
  a longer token would stop a run as a leak.
"""

from __future__ import annotations

import re

# ---- Whole tokens ----
# A match must be a whole token: not touching a letter or digit, nor joined to one by . _ / + -.
# Decimals, versions, UUIDs, file names and base64 or Fernet ciphertext are single tokens, and a
# chance digit run inside one ("51.4816545678", "...-0123-4567-...") is not an identifier.
_JOIN = r"[._/+-]"
WHOLE_TOKEN_START = rf"(?<![0-9A-Za-z])(?<![0-9A-Za-z]{_JOIN})"
WHOLE_TOKEN_END = rf"(?![0-9A-Za-z])(?!{_JOIN}[0-9A-Za-z])"

# ---- Postcodes ----
# A postcode column's value, upper-cased: the whole value is a full postcode in ASCII letters and digits;
# group 1 is the outward code. This is the project's definition of a full postcode (leaks checks
# each POSTCODE_TOKEN against it). Any two inward letters pass: a column named for postcodes
# holds no words that a postcode needs telling apart from.
POSTCODE_VALUE = re.compile(r"^\s*([A-Z]{1,2}[0-9][A-Z0-9]?)\s*[0-9][A-Z]{2}\s*$")
# A full postcode in lower-cased free text; group 1 is the outward code. The inward code's letters
# never include C I K M O V, so "nq64 2am" is not a postcode.
POSTCODE_IN_TEXT = re.compile(r"\b([a-z]{1,2}\d[a-z\d]?)\s*\d[abd-hjlnp-uw-z]{2}\b")
# A district alone in lower-cased free text, only for South Wales areas: elsewhere "m4" or "a48"
# are roads, not postcodes.
SOUTH_WALES_DISTRICT = re.compile(r"\b((?:cf|np|sa)\d{1,2})\b")
# A full postcode as a leak detector finds it: in any case, a whole token, the halves at most two
# spaces or tabs apart; inward letters as POSTCODE_IN_TEXT.
POSTCODE_TOKEN = re.compile(
    WHOLE_TOKEN_START + r"[A-Z]{1,2}\d[A-Z\d]?[ \t]{0,2}\d[ABD-HJLNP-UW-Z]{2}" + WHOLE_TOKEN_END, re.I
)

# ---- Phone numbers ----
# Anything phone-like in lower-cased free text, cut out before postcodes and words are read:
# +44 or a trunk 0, then 9 to 11 digits, give or take spaces and hyphens.
PHONE_IN_TEXT = re.compile(r"(?:\+44\s?|\b0)\d(?:[\s-]?\d){8,10}\b")
# Nine digits in a row, give or take spaces and hyphens: part of every phone number PHONE_IN_TEXT
# finds, whatever the digits' values (locate_batches asks it of texts with every digit written 0).
PHONE_SHAPE = re.compile(r"\d(?:[\s-]?\d){8}")
# A phone number as a leak detector finds it: a whole token, +44 / 0044 (maybe with "(0)") or a
# trunk 0 (maybe in brackets), then the number in groups. A finding stops a run, so the digit
# count and first digit are checked too, in is_uk_phone_number.
PHONE_TOKEN = re.compile(
    WHOLE_TOKEN_START + r"(?:(?:\+|00)44[ -]?(?:\(0\)[ -]?)?|\(?0)\d{2,5}\)?(?:[ -]?\d){5,8}" + WHOLE_TOKEN_END
)


def is_uk_phone_number(match: str) -> bool:
    """Whether a PHONE_TOKEN match has 10 or 9 digits after the trunk 0, starting as UK numbers
    do (01, 02, 03, 05, 07, 08)."""
    digits = re.sub(r"\D", "", match)
    if match.startswith("+"):
        digits = digits[2:]
    elif match.startswith("0044"):
        digits = digits[4:]
    national = digits.removeprefix("0")  # the trunk 0, or a "(0)" after +44
    return len(national) in (9, 10) and national[0] in "123578"
