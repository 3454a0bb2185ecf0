"""Pseudonym keys: one master secret, a key per agreement, version and field (HKDF-SHA256).

Deriving per agreement version means pseudonyms made under two agreements (or two versions of
one) cannot be joined: a new version rotates every key. The master secret never leaves memory;
only its key id (a one-way fingerprint) is recorded.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_BYTES = 32


class KeyError_(ValueError):
    """A key that cannot be used; the message never contains key material."""


def check_master_secret(secret: bytes) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyError_(
            f"the pseudonym master key is {len(secret)} bytes; at least {MIN_SECRET_BYTES} are "
            "needed. Generate one with `istv keys generate`."
        )
    return secret


def key_id(secret: bytes) -> str:
    """A short public fingerprint of a secret, safe to log and audit."""
    return hashlib.sha256(b"istv-key-id\x00" + secret).hexdigest()[:16]


def ed25519_key_id(public_key: Ed25519PublicKey) -> str:
    """Short fingerprint of an Ed25519 public key (board and audit keys)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def derive_field_key(master: bytes, agreement_id: str, agreement_version: int, field: str) -> bytes:
    info = f"istv/pseudonym/{agreement_id}/v{agreement_version}/{field}".encode()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(check_master_secret(master))
