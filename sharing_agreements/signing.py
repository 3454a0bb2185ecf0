"""Board signatures on sharing agreements (Ed25519).

A board signs the agreement's canonical form (every value, defaults included, as sorted JSON),
so reformatting the YAML does not break a signature but any change of meaning does. Signatures
live beside the agreement in `<file>.signatures.json`; public keys of the boards the pipeline
trusts live in `trusted_keys/` (or ISTV_TRUSTED_KEYS_DIR). Private keys never enter the
repository.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from anonymise.keys import ed25519_key_id
from sharing_agreements.model import AGREEMENT_DIR, Agreement, AgreementError, load_agreement

TRUSTED_KEYS_DIR = AGREEMENT_DIR / "trusted_keys"


@dataclass(frozen=True)
class Signature:
    key_id: str
    signer: str
    signed_at: str
    content_sha256: str
    signature: str


def signatures_path(agreement_file: Path) -> Path:
    return agreement_file.with_name(agreement_file.name + ".signatures.json")


def trusted_keys(folder: Path | None = None) -> dict[str, tuple[str, Ed25519PublicKey]]:
    """key id -> (board name from the file name, public key)."""
    folder = folder or Path(os.environ.get("ISTV_TRUSTED_KEYS_DIR", TRUSTED_KEYS_DIR))
    keys = {}
    for path in sorted(folder.glob("*.pub")):
        key = serialization.load_pem_public_key(path.read_bytes())
        if isinstance(key, Ed25519PublicKey):
            keys[ed25519_key_id(key)] = (path.stem, key)
    return keys


def generate_board_key(private_out: Path, public_out: Path) -> str:
    key = Ed25519PrivateKey.generate()
    private_out.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_out.chmod(0o600)
    public_out.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return ed25519_key_id(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AgreementError(f"{path.name} is not an Ed25519 private key")
    return key


def read_signatures(agreement_file: Path) -> list[Signature]:
    path = signatures_path(agreement_file)
    if not path.exists():
        return []
    return [Signature(**s) for s in json.loads(path.read_text())]


def sign(
    agreement_file: Path, agreement: Agreement, key: Ed25519PrivateKey, signer: str, now: dt.datetime | None = None
) -> Signature:
    """Add a board's signature; an earlier signature by the same key is replaced."""
    signature = Signature(
        key_id=ed25519_key_id(key.public_key()),
        signer=signer,
        signed_at=(now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        content_sha256=agreement.content_hash(),
        signature=base64.b64encode(key.sign(agreement.canonical_bytes())).decode(),
    )
    kept = [s for s in read_signatures(agreement_file) if s.key_id != signature.key_id]
    signatures_path(agreement_file).write_text(json.dumps([s.__dict__ for s in [*kept, signature]], indent=2) + "\n")
    return signature


def load_verified(agreement_file: Path) -> tuple[Agreement, list[Signature]]:
    """The agreement, refused (AgreementError) unless well-formed and signed by a trusted board,
    with its valid signatures. Whether it is in force is the caller's question."""
    agreement = load_agreement(agreement_file)
    return agreement, verify(agreement_file, agreement)


def verify(agreement_file: Path, agreement: Agreement, trusted: dict | None = None) -> list[Signature]:
    """The valid signatures; refuses an unsigned agreement, an unknown signer, or any change
    after signing, in words a board member understands."""
    trusted = trusted_keys() if trusted is None else trusted
    signatures = read_signatures(agreement_file)
    if not signatures:
        raise AgreementError(
            f"{agreement.label} ({agreement_file.name}) is not signed: a governance board must sign it "
            "with `istv agreements sign` before any data flows under it"
        )
    for s in signatures:
        if s.key_id not in trusted:
            raise AgreementError(
                f"{agreement.label} is signed by an unknown key {s.key_id} ({s.signer}): it is not one of "
                "the board keys the pipeline trusts (sharing_agreements/trusted_keys). No data may flow under it"
            )
        try:
            trusted[s.key_id][1].verify(base64.b64decode(s.signature), agreement.canonical_bytes())
        except (InvalidSignature, ValueError):
            raise AgreementError(
                f"{agreement.label} has been altered since {s.signer} signed it on {s.signed_at[:10]}: its "
                "content no longer matches the signature. The board must review the change and sign it again"
            ) from None
    return signatures
