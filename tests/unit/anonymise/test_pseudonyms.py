"""NHS number checks, pseudonym key derivation and keyed pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import re

import pandas as pd
import pytest

from anonymise.keys import (
    MIN_SECRET_BYTES,
    KeyError_,
    check_master_secret,
    derive_field_key,
    key_id,
)
from anonymise.nhs_number import is_valid_nhs_number, normalise_nhs_number
from anonymise.pseudonyms import NORMALISERS, normalise_reference, pseudonymise
from tests.conftest import cut_from_a_row_group

MASTER = bytes(range(32))  # 32 bytes: the minimum accepted
OTHER_MASTER = bytes(range(100, 140))
AGREEMENT = "cardiff-violence-prevention"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def mod11_check_digit(first_nine: str) -> int | None:
    """Modulus 11 check digit computed independently of the code under test.

    Weights 10, 9, ..., 2 on the first nine digits; check = 11 - (sum mod 11); 11 means 0 and
    10 means the nine digits can never form a valid NHS number (returned as None).
    """
    assert len(first_nine) == 9 and first_nine.isdigit()
    total = 0
    weight = 10
    for ch in first_nine:
        total += int(ch) * weight
        weight -= 1
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


# ---------------------------------------------------------------- NHS numbers


def test_hand_worked_nhs_number_is_valid():
    # 9434765919: first nine digits 9 4 3 4 7 6 5 9 1, weights 10 9 8 7 6 5 4 3 2
    #   9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 9*3 + 1*2
    #   = 90 + 36 + 24 + 28 + 42 + 30 + 20 + 27 + 2 = 299
    #   299 mod 11 = 299 - 27*11 = 299 - 297 = 2;  11 - 2 = 9  -> check digit 9 (the last digit)
    assert mod11_check_digit("943476591") == 9
    assert is_valid_nhs_number("9434765919")


def test_check_value_eleven_means_zero():
    # 9434765870: 9*10 + 4*9 + 3*8 + 4*7 + 7*6 + 6*5 + 5*4 + 8*3 + 7*2
    #   = 90 + 36 + 24 + 28 + 42 + 30 + 20 + 24 + 14 = 308 = 28*11 -> remainder 0
    #   11 - 0 = 11 -> check digit 0
    assert mod11_check_digit("943476587") == 0
    assert is_valid_nhs_number("9434765870")
    assert not is_valid_nhs_number("9434765871")


@pytest.mark.parametrize("first_nine", ["401023213", "485777345", "987654321", "450557710", "000000001"])
def test_numbers_built_with_independent_check_digit_are_valid(first_nine):
    check = mod11_check_digit(first_nine)
    if check is None:
        pytest.fail(f"pick another example: {first_nine} has check value 10")
    number = first_nine + str(check)
    assert is_valid_nhs_number(number)
    for wrong in range(10):
        if wrong != check:
            assert not is_valid_nhs_number(first_nine + str(wrong)), first_nine + str(wrong)


def test_hand_worked_check_value_ten_is_invalid():
    # 123456789: 1*10 + 2*9 + 3*8 + 4*7 + 5*6 + 6*5 + 7*4 + 8*3 + 9*2
    #   = 10 + 18 + 24 + 28 + 30 + 30 + 28 + 24 + 18 = 210
    #   210 mod 11 = 210 - 19*11 = 210 - 209 = 1;  11 - 1 = 10 -> no valid check digit
    assert mod11_check_digit("123456789") is None
    assert [d for d in range(10) if is_valid_nhs_number(f"123456789{d}")] == []


def test_check_value_ten_is_never_valid():
    # Find nine digits whose weighted sum leaves remainder 1 (so 11 - 1 = 10).
    first_nine = next(f"{n:09d}" for n in range(100000000, 100100000) if mod11_check_digit(f"{n:09d}") is None)
    assert all(not is_valid_nhs_number(first_nine + str(d)) for d in range(10))


@pytest.mark.parametrize("typed", ["943 476 5919", "943-476-5919", " 9434765919 ", "943 476-5919"])
def test_spaces_and_dashes_are_normalised(typed):
    assert normalise_nhs_number(typed) == "9434765919"
    assert is_valid_nhs_number(typed)


def test_wrong_check_digit_is_invalid():
    assert not is_valid_nhs_number("9434765918")
    assert not is_valid_nhs_number("943 476 5910")


@pytest.mark.parametrize("value", ["943476591", "94347659190", "", "12345", "943 476 59199"])
def test_wrong_length_is_invalid(value):
    assert not is_valid_nhs_number(value)


# ---------------------------------------------------------------- keys


def test_derived_keys_differ_by_agreement_version_and_field():
    base = derive_field_key(MASTER, AGREEMENT, 1, "nhs_number")
    variants = {
        "agreement": derive_field_key(MASTER, "other-agreement", 1, "nhs_number"),
        "version": derive_field_key(MASTER, AGREEMENT, 2, "nhs_number"),
        "field": derive_field_key(MASTER, AGREEMENT, 1, "attendance_id"),
        "master": derive_field_key(OTHER_MASTER, AGREEMENT, 1, "nhs_number"),
    }
    assert len(base) == 32
    for what, key in variants.items():
        assert key != base, what
    assert len({base, *variants.values()}) == 5


def test_same_inputs_give_same_key():
    assert derive_field_key(MASTER, AGREEMENT, 1, "nhs_number") == derive_field_key(
        bytes(range(32)), AGREEMENT, 1, "nhs_number"
    )


def test_derived_key_is_not_the_master_secret():
    key = derive_field_key(MASTER, AGREEMENT, 1, "nhs_number")
    assert key != MASTER
    assert MASTER not in key


def test_short_master_secret_is_refused_without_echoing_it():
    secret = b"hunter2-is-my-password"  # 22 bytes
    assert len(secret) < MIN_SECRET_BYTES
    with pytest.raises(KeyError_) as caught:
        check_master_secret(secret)
    message = str(caught.value)
    assert "hunter2" not in message
    assert secret.decode() not in message
    assert repr(secret) not in message
    assert secret.hex() not in message
    assert str(MIN_SECRET_BYTES) in message
    with pytest.raises(KeyError_) as caught_derive:
        derive_field_key(secret, AGREEMENT, 1, "nhs_number")
    assert "hunter2" not in str(caught_derive.value)


def test_secret_of_minimum_length_is_accepted():
    assert check_master_secret(MASTER) == MASTER
    with pytest.raises(KeyError_):
        check_master_secret(MASTER[:-1])


def test_key_id_is_stable_and_is_not_the_key():
    kid = key_id(MASTER)
    assert kid == key_id(bytes(range(32)))
    assert kid != key_id(OTHER_MASTER)
    assert re.fullmatch(r"[0-9a-f]{16}", kid)
    assert kid not in MASTER.hex()
    assert MASTER.hex()[:16] != kid
    derived = derive_field_key(MASTER, AGREEMENT, 1, "nhs_number")
    assert kid not in derived.hex()


# ---------------------------------------------------------------- pseudonyms

KEY_V1 = derive_field_key(MASTER, AGREEMENT, 1, "nhs_number")
KEY_V2 = derive_field_key(MASTER, AGREEMENT, 2, "nhs_number")


def test_stable_within_a_key():
    first = pseudonymise(["9434765919", "9434765870"], KEY_V1, normalise_nhs_number)
    again = pseudonymise(["9434765870", "9434765919"], KEY_V1, normalise_nhs_number)
    assert first == list(reversed(again))
    assert first[0] != first[1]


def test_nhs_normaliser_makes_spaced_number_match():
    spaced, plain, dashed = pseudonymise(
        ["943 476 5919", "9434765919", "943-476-5919"], KEY_V1, NORMALISERS["nhs_number"]
    )
    assert spaced == plain == dashed
    assert spaced is not None


def test_reference_normaliser_trims_and_upper_cases():
    assert normalise_reference(" sw/123/18 ") == "SW/123/18"
    assert normalise_reference("sw /123/ 18") == "SW/123/18"
    messy, clean = pseudonymise([" sw/123/18 ", "SW/123/18"], KEY_V1, NORMALISERS["reference"])
    assert messy == clean
    other = pseudonymise(["SW/123/19"], KEY_V1, NORMALISERS["reference"])[0]
    assert other != clean


def test_different_agreement_versions_are_unlinkable():
    ids = [f"{n:010d}" for n in range(4000000000, 4000001000)]
    v1 = pseudonymise(ids, KEY_V1, normalise_nhs_number)
    v2 = pseudonymise(ids, KEY_V2, normalise_nhs_number)
    assert len(set(v1)) == 1000
    assert len(set(v2)) == 1000
    assert set(v1).isdisjoint(v2)


def test_matches_hmac_sha256_of_normalised_value():
    expected = hmac.new(KEY_V1, b"9434765919", hashlib.sha256).hexdigest()
    assert pseudonymise(["943 476 5919"], KEY_V1, normalise_nhs_number) == [expected]


def test_missing_stays_missing():
    out = pseudonymise([None, "9434765919", None, float("nan"), "", "   "], KEY_V1, normalise_nhs_number)
    assert out[0] is None
    assert out[2] is None
    assert out[3] is None
    assert out[4] is None
    assert out[5] is None
    assert out[1] is not None


def test_pandas_na_stays_missing():
    # A pandas "string" column holds pd.NA for missing values; the docstring says missing
    # values stay missing.
    values = pd.Series(["9434765919", pd.NA], dtype="string")
    out = pseudonymise(values, KEY_V1, normalise_nhs_number)
    assert out[0] is not None
    assert out[1] is None


@pytest.mark.parametrize(
    "value, normaliser",
    [("9434765919", normalise_nhs_number), ("SW/123/18", normalise_reference), ("ABC123", normalise_reference)],
)
def test_output_is_64_hex_and_hides_the_input(value, normaliser):
    (out,) = pseudonymise([value], KEY_V1, normaliser)
    assert HEX64.fullmatch(out)
    assert value not in out
    assert value.lower() not in out
    assert normaliser(value).lower() not in out


# --- the key ring ---------------------------------------------------------------------------

from anonymise.keys import KeyRing  # noqa: E402


def test_key_ring_round_trip_and_rotation():
    ring = KeyRing.new(b"\x01" * 32, "2026-01-01")
    rotated = KeyRing.parse(ring.rotated(b"\x02" * 32, "2026-11-22").dumps())
    assert [k.status for k in rotated.keys] == ["retired", "active"]
    assert rotated.active.secret == b"\x02" * 32 and rotated.active.created == "2026-11-22"
    assert rotated.keys[0].key_id == ring.active.key_id
    assert (b"\x02" * 32).hex() not in repr(rotated.keys)


def test_a_bare_hex_secret_is_a_ring_of_one():
    ring = KeyRing.parse("ab" * 32)
    assert ring.active.secret == bytes.fromhex("ab" * 32) and ring.active.status == "active"


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"keys": []}', "exactly one active key; it has 0"),
        ('{"keys": [{"created": "x", "status": "active", "secret": "zz"}]}', "hexadecimal"),
        ('{"keys": [{"created": "x", "status": "lost", "secret": "' + "ab" * 32 + '"}]}', "'active' or 'retired'"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_key_rings_are_refused_without_showing_secrets(text, message):
    with pytest.raises(ValueError, match=message) as err:
        KeyRing.parse(text)
    assert "ab" * 32 not in str(err.value)


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_a_column_gives_the_same_pseudonyms_as_its_values_one_by_one(dtype):
    values = ["943 476 5919", None, "9434765919", "", "  ", "943-476-5919", "9434765870", None]
    column = pd.Series(values, dtype=dtype)
    one_by_one = [pseudonymise([v], KEY_V1, normalise_nhs_number)[0] for v in values]
    assert pseudonymise(column, KEY_V1, normalise_nhs_number) == one_by_one
    assert pseudonymise(iter(values), KEY_V1, normalise_nhs_number) == one_by_one
    assert pseudonymise([], KEY_V1) == []


@pytest.mark.parametrize("normaliser", [normalise_nhs_number, normalise_reference])
@pytest.mark.parametrize("non_ascii", [False, True])
def test_column_normalising_gives_what_each_value_would(normaliser, non_ascii):
    # ASCII columns are normalised by Arrow kernels, others value by value: both must agree
    # with the Python normaliser on every ASCII character (str.split's \x1c-\x1f included).
    import random

    rng = random.Random(3)
    alphabet = [chr(c) for c in range(128)] + list("0123456789 ") * 4 + (["é", "\u00a0", "٣", "Ⅻ"] if non_ascii else [])
    values = ["".join(rng.choices(alphabet, k=rng.randrange(0, 14))) for _ in range(3000)] + [None, " \x1c\t", "\x1f"]
    expected = [
        None if v is None or not v.strip() else hmac.new(KEY_V1, normaliser(v).encode(), hashlib.sha256).hexdigest()
        for v in values
    ]
    assert pseudonymise(values, KEY_V1, normaliser) == expected


def test_a_slice_of_a_column_gives_the_pseudonyms_of_its_values():
    texts = ["skip me", "sw/123/18", " ab c ", "Sw/124/18"]
    column = pd.Series(cut_from_a_row_group(texts), dtype="string")
    assert pseudonymise(column, KEY_V1, normalise_reference) == pseudonymise(texts[1:], KEY_V1, normalise_reference)


def test_the_vectorised_check_agrees_with_the_one_at_a_time_check():
    import numpy as np
    import pandas as pd

    from anonymise.nhs_number import valid_nhs_numbers

    rng = np.random.default_rng(7)
    numbers = [str(n) for n in rng.integers(10**9, 10**10, 3000)]
    values = numbers + [
        "943 476 5919",
        "943-476-5919",
        "",
        "12345",
        "94347659190",
        "943476591x9",
        "٩٤٣٤٧٦٥٩١٩",
        "9434765919 ",
        "NHS 9434765919",
    ]
    expected = [is_valid_nhs_number(v) for v in values]
    assert sum(expected) > 200  # about one in eleven random numbers is valid
    assert valid_nhs_numbers(pd.Series(values, dtype="str")).tolist() == expected
