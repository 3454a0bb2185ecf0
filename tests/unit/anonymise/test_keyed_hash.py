"""HMAC-SHA256 with the key's pads hashed once gives hmac.digest's bytes on every value."""

from __future__ import annotations

import hmac
import random

import pyarrow as pa
import pyarrow.csv as pv
import pytest

from anonymise.keyed_hash import DIGEST_BYTES, hmac_sha256
from anonymise.pseudonyms import NORMALISERS, pseudonymise
from pipelines.synthetic import generate_month


def _expected(key: bytes, messages: list[bytes]) -> bytes:
    return b"".join(hmac.digest(key, m, "sha256") for m in messages)


# Keys shorter than SHA-256's block, exactly one block, and longer ones (which HMAC hashes first).
@pytest.mark.parametrize("key_bytes", [0, 1, 32, 63, 64, 65, 200])
def test_equals_hmac_digest_on_messages_of_every_length(key_bytes):
    rng = random.Random(key_bytes)
    key = rng.randbytes(key_bytes)
    messages = [rng.randbytes(length) for length in range(0, 300)] + [rng.randbytes(9) for _ in range(2000)]
    assert hmac_sha256(key, messages) == _expected(key, messages)


def test_no_messages_give_no_bytes():
    assert hmac_sha256(b"k" * 32, []) == b""


def test_every_identifier_of_a_synthetic_month_gets_hmac_s_pseudonym(tmp_path):
    paths = generate_month("2026-10", tmp_path, seed=7, ed_rows=5000)
    key = random.Random(1).randbytes(32)
    columns = {
        "ed": {"ATTENDANCE IDENTIFIER": "reference", "NHS NUMBER": "nhs_number"},
        "police": {"CRIME REFERENCE": "reference"},
    }
    checked = 0
    for source, normalisers in columns.items():
        types = dict.fromkeys(normalisers, pa.string())
        table = pv.read_csv(paths[source], convert_options=pv.ConvertOptions(column_types=types))
        for column, kind in normalisers.items():
            normaliser = NORMALISERS[kind]
            values = [v for v in table.column(column).to_pylist() if v is not None and v.strip()]
            expected = _expected(key, [normaliser(v).encode() for v in values])
            assert pseudonymise(values, key, normaliser) == [d.hex() for d in _split(expected)]
            checked += len(values)
    assert checked > 20_000


def _split(joined: bytes) -> list[bytes]:
    return [joined[i : i + DIGEST_BYTES] for i in range(0, len(joined), DIGEST_BYTES)]
