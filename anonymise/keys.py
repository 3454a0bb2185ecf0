"""Pseudonym keys: one master secret, a key per agreement, version and field (HKDF-SHA256).

Deriving per agreement version means pseudonyms made under two agreements (or two versions of
one) cannot be joined: a new version rotates every key. The master secret never leaves memory;
only its key id (a one-way fingerprint) is recorded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

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


def derive_disclosure_key(master: bytes, agreement_id: str, purpose: str) -> bytes:
    """A key for disclosure control ("record-key", "dp-noise"): per agreement id, not version, so
    that a new version of the agreement re-publishing a month draws the same perturbation and
    noise as before instead of a fresh draw an intruder could average with the old one."""
    info = f"istv/disclosure/{purpose}/{agreement_id}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(check_master_secret(master))


def derive_known_shapes_key(master: bytes) -> bytes:
    """The key of the digests under which location text shapes resolved in earlier months are
    kept (anonymise/known_shapes.py): for that alone, and not per agreement, since a place
    resolved from a text does not depend on it. A new master key starts them afresh."""
    info = b"istv/known-shapes"
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(check_master_secret(master))


@dataclass(frozen=True)
class RingKey:
    key_id: str
    created: str
    status: str  # "active" (makes pseudonyms) or "retired" (kept so old releases can be explained)
    secret: bytes = field(repr=False)


class KeyRing:
    """The pseudonym master keys an organisation holds, one of them active.

    The file is JSON, `{"keys": [{"created": "2026-11-22", "status": "active", "secret": "<hex>"}]}`;
    a bare hex secret is read as a ring of one active key. Rotating the master key (a new active
    key) changes every pseudonym, as a new agreement version does.
    """

    def __init__(self, keys: list[RingKey]):
        active = [k for k in keys if k.status == "active"]
        if len(active) != 1:
            raise KeyError_(f"the pseudonym key ring must have exactly one active key; it has {len(active)}")
        self.keys = keys
        self.active = active[0]

    @classmethod
    def new(cls, secret: bytes, today: str) -> KeyRing:
        return cls([RingKey(key_id(secret), today, "active", check_master_secret(secret))])

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        text = text.strip()
        if not text.startswith("{"):
            return cls([_ring_key(text, "unknown", "active")])
        try:
            entries = [(e["secret"], e["created"], e["status"]) for e in json.loads(text)["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyError_(
                f"the pseudonym key ring is not valid JSON with a 'keys' list ({type(exc).__name__})"
            ) from None
        return cls([_ring_key(*entry) for entry in entries])

    def rotated(self, new_secret: bytes, today: str) -> KeyRing:
        retired = [RingKey(k.key_id, k.created, "retired", k.secret) for k in self.keys]
        return KeyRing([*retired, *KeyRing.new(new_secret, today).keys])

    def dumps(self) -> str:
        keys = [{"created": k.created, "status": k.status, "secret": k.secret.hex()} for k in self.keys]
        return json.dumps({"keys": keys}, indent=2)


def _ring_key(secret_hex: str, created: str, status: str) -> RingKey:
    if status not in ("active", "retired"):
        raise KeyError_(f"a pseudonym key's status is 'active' or 'retired', not {status!r}")
    try:
        secret = check_master_secret(bytes.fromhex(secret_hex.strip()))
    except ValueError as exc:
        if isinstance(exc, KeyError_):
            raise
        raise KeyError_("a pseudonym key must be hexadecimal (64 characters or more)") from None
    return RingKey(key_id(secret), created, status, secret)
