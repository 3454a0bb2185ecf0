"""Where keys come from: the environment or key files outside git, never the repository.

Pseudonym master key: ISTV_PSEUDONYM_KEY (hex) or the file named by ISTV_PSEUDONYM_KEY_FILE.
Quarantine key (Fernet, separate so quarantine readers cannot make pseudonyms):
ISTV_QUARANTINE_KEY or the file named by ISTV_QUARANTINE_KEY_FILE.
Audit checkpoint key (Ed25519): ISTV_AUDIT_KEY or ISTV_AUDIT_KEY_FILE (private, for the pipeline) and
ISTV_AUDIT_PUBLIC_KEY_FILE (public, for whoever verifies the log).
The demo's throwaway keys live in $ISTV_HOME/keys and are used only when nothing else is set.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from anonymise.keys import KeyRing, derive_known_shapes_key, ed25519_key_id, key_id
from ingest.home import IstvHome

PSEUDONYM_FILE = "pseudonym.key"
QUARANTINE_FILE = "quarantine.key"
AUDIT_PRIVATE_FILE = "audit_ed25519.pem"
AUDIT_PUBLIC_FILE = "audit_ed25519.pub"

T = TypeVar("T")


class MissingKeyError(RuntimeError):
    pass


def _read(env_value: str, env_file: str, home: IstvHome, file_name: str, what: str) -> bytes:
    if os.environ.get(env_value):
        return os.environ[env_value].strip().encode()
    if os.environ.get(env_file):
        path = Path(os.environ[env_file])
        if not path.is_file():
            raise MissingKeyError(f"{env_file} names {path}, which is not there: point it at the {what} key file")
        return path.read_bytes().strip()
    path = home.keys / file_name
    if not path.exists():
        raise MissingKeyError(
            f"no {what} key: set {env_value} or {env_file} (a file outside the repository), "
            "or run `istv keys generate` for throwaway demo keys"
        )
    return path.read_bytes().strip()


def _load(parse: Callable[[bytes], T], env_value: str, env_file: str, home: IstvHome, file_name: str, what: str) -> T:
    """The key `_read` finds, parsed; one that cannot be used is refused naming where it was set,
    never showing the key."""
    key = _read(env_value, env_file, home, file_name, what)
    try:
        return parse(key)
    except ValueError as exc:  # KeyError_, a bad Fernet key or PEM, bytes that are not text
        if os.environ.get(env_value):
            where = env_value
        else:
            where = (
                f"{os.environ[env_file]} (named by {env_file})" if os.environ.get(env_file) else home.keys / file_name
            )
        # A decoding error quotes the byte it stopped at: a byte of the key.
        reason = "it is not text" if isinstance(exc, UnicodeError) else exc
        raise MissingKeyError(f"{where} does not hold a usable {what} key: {reason}") from None


def pseudonym_key_ring(home: IstvHome) -> KeyRing:
    return _load(
        lambda key: KeyRing.parse(key.decode()),
        "ISTV_PSEUDONYM_KEY",
        "ISTV_PSEUDONYM_KEY_FILE",
        home,
        PSEUDONYM_FILE,
        "pseudonym",
    )


def pseudonym_master_key(home: IstvHome) -> bytes:
    """The active master secret of the key ring."""
    return pseudonym_key_ring(home).active.secret


def rotate_demo_pseudonym_key(home: IstvHome) -> KeyRing:
    """A new active demo key; the old ones are kept as retired. Real key rings are managed by
    the organisation's key custodian, outside istv."""
    path = home.keys / PSEUDONYM_FILE
    ring = pseudonym_key_ring(home).rotated(secrets.token_bytes(32), dt.date.today().isoformat())
    path.write_text(ring.dumps())
    path.chmod(0o600)
    return ring


def quarantine_cipher(home: IstvHome) -> Fernet:
    return _load(Fernet, "ISTV_QUARANTINE_KEY", "ISTV_QUARANTINE_KEY_FILE", home, QUARANTINE_FILE, "quarantine")


def audit_signing_key(home: IstvHome) -> Ed25519PrivateKey:
    return _load(
        lambda pem: serialization.load_pem_private_key(pem, password=None),
        "ISTV_AUDIT_KEY",
        "ISTV_AUDIT_KEY_FILE",
        home,
        AUDIT_PRIVATE_FILE,
        "audit signing",
    )


def audit_public_key(home: IstvHome) -> Ed25519PublicKey:
    return _load(
        serialization.load_pem_public_key,
        "ISTV_AUDIT_PUBLIC_KEY",
        "ISTV_AUDIT_PUBLIC_KEY_FILE",
        home,
        AUDIT_PUBLIC_FILE,
        "audit public",
    )


def _audit_pair() -> tuple[bytes, bytes]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def generate_demo_keys(home: IstvHome) -> list[tuple[str, Path]]:
    """Throwaway keys for the demo, readable by the owner only; existing keys are kept.
    Returns (kind, path) of the keys made."""
    home.keys.mkdir(parents=True, exist_ok=True)
    made = []
    for kind, name, make in (
        (
            "pseudonym",
            PSEUDONYM_FILE,
            lambda: KeyRing.new(secrets.token_bytes(32), dt.date.today().isoformat()).dumps().encode(),
        ),
        ("quarantine", QUARANTINE_FILE, Fernet.generate_key),
    ):
        path = home.keys / name
        if not path.exists():
            path.write_bytes(make())
            path.chmod(0o600)
            made.append((kind, path))
    private, public = home.keys / AUDIT_PRIVATE_FILE, home.keys / AUDIT_PUBLIC_FILE
    if not private.exists():
        private_pem, public_pem = _audit_pair()
        private.write_bytes(private_pem)
        private.chmod(0o600)
        public.write_bytes(public_pem)
        made.append(("audit", private))
    return made


def key_ids(home: IstvHome) -> dict[str, str]:
    """Public fingerprints of the keys in use, for the audit log; never the keys."""
    quarantine = _read("ISTV_QUARANTINE_KEY", "ISTV_QUARANTINE_KEY_FILE", home, QUARANTINE_FILE, "quarantine")
    return {
        "pseudonym": key_id(pseudonym_master_key(home)),
        "quarantine": key_id(quarantine),
        "audit": ed25519_key_id(audit_public_key(home)),
    }


def known_shapes_key(home: IstvHome) -> bytes:
    """The key under which resolved location shapes are remembered from month to month
    (ingest/known_shapes.py), derived from the active pseudonym master key."""
    return derive_known_shapes_key(pseudonym_master_key(home))
