"""HMAC-SHA256 of many values under one key, as RFC 2104 defines it and hmac.digest computes it.

hmac.digest hashes the key's inner and outer pads again for every value: four SHA-256 blocks for
a short value, where two carry the value. Here the pads are hashed once and each value continues
from copies of those two states, which is about twice as quick from Python (a national month's
twelve million pseudonyms) and gives the same bytes (tested against hmac.digest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

BLOCK = 64  # SHA-256's block size: HMAC pads the key to it (keys longer than it are hashed first)
DIGEST_BYTES = 32


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer pads of HMAC-SHA256 for `key`."""
    block = (hashlib.sha256(key).digest() if len(key) > BLOCK else key).ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def hmac_sha256(key: bytes, messages: Iterable[bytes]) -> bytes:
    """Each message's HMAC-SHA256 under `key`, DIGEST_BYTES each, joined in the messages' order."""
    ipad, opad = hmac_pads(key)
    inner, outer = hashlib.sha256(ipad).copy, hashlib.sha256(opad).copy
    digests = []
    for message in messages:
        text, keyed = inner(), outer()
        text.update(message)
        keyed.update(text.digest())
        digests.append(keyed.digest())
    return b"".join(digests)
